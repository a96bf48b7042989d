#!/usr/bin/env bash
# The WMMA cluster split after its barriers were made relaxed (session 15, call 4): its tests, every WMMA config timed
# on the TDC shapes (fp16, batch 1 and 32: the model's log), and forced configs next to the plain kernel with PDL
# on/off alternating (bench_configs --pdl ab).
set -u
. tools/gpu_common.sh
cuda_tests 120 tests/test_kernel_cuda.py -k "wmma or chain"
ab() {  # shape, configs...
  local s=$1; shift
  echo "## $s"
  timeout 100 python3 tools/bench_configs.py --shape "$s" --dtype fp16 --batch 1 --pdl ab --configs "$@" \
    --out "$R/ab_$(echo "$s" | tr ':>@' '___' | tr -d '-')" 2>&1 | quiet | grep "^|" | tail -12
  pack
}
ab "64:32->32:64@7" 4,2,4,256,2,32 4,2,4,256,2,64 4,2,4,256,2,128
ab "256:128->96:256@14" 4,2,4,256,2,64 4,2,4,256,2,128 4,2,4,256,2,256 6,32,64,256,4,256
DTYPES=fp16 BATCHES="1 32" variant_log 4 200
