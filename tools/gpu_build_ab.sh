#!/usr/bin/env bash
# GPU machine: builds the custom-op library here (sm_90a only, 16 cores) once per variant of $VARIANTS, each
# "name[@SOURCE_DIR][=EXTRA_NVCC_FLAGS]" (e.g. "new base@.altsrc/custom_ops probe=-DTUCKER_PROBE_NOSPLIT"), from the
# carried working tree's custom_ops or SOURCE_DIR (e.g. `git archive HEAD custom_ops | tar -x -C .altsrc`, carried;
# carry third_party too, for the ORT headers), in parallel, then runs tools/gpu_lib_ab.sh on them ($LIBS = the names, the
# first the candidate; its TESTS/TRACE_CONFIGS/BENCHES/MODELS settings apply). Why: two full builds carried as
# .libxz do not fit one call's carry, and a compile-time probe (a code path switched off to bound what removing it
# would gain) needs no second source tree.
# Usage: VARIANTS="base probe=-DFLAG" TRACE_DTYPE=fp32 TRACE_CONFIGS=6,64,128,256,5,32 BENCHES="" \
#        bash tools/device_env.sh bash tools/gpu_build_ab.sh
set -uo pipefail
. tools/gpu_common.sh
mkdir -p /tmp/libs
names=()
jobs=$(( 16 / $(echo $VARIANTS | wc -w) ))
for v in $VARIANTS; do
  head=${v%%=*}; flags=""; [ "$head" != "$v" ] && flags=${v#*=}
  name=${head%%@*}; src=custom_ops; [ "$name" != "$head" ] && src=${head#*@}
  names+=("$name")
  ( cmake -S "$src" -B "/tmp/b_$name" -DCMAKE_BUILD_TYPE=Release -DORT_INCLUDE_DIR="$PWD/third_party/ort/include" \
      -DTUCKER_CUDA_ARCHS=90a-real -DTUCKER_COPY_TO_PACKAGE=OFF "-DCMAKE_CUDA_FLAGS=$flags" > "$R/build_$name.log" 2>&1 &&
    cmake --build "/tmp/b_$name" -j"$jobs" >> "$R/build_$name.log" 2>&1 && cp "/tmp/b_$name/libtucker_onnx_ops.so" "/tmp/libs/$name.so"
    echo "build $name rc $?" ) &
done
wait
pack
LIBS="${names[*]}" PREBUILT=1 R_KEEP=1 bash tools/gpu_lib_ab.sh
