#!/usr/bin/env bash
# The channels-last family's cp.async ring (depth x reduction rows per step, TUCKER_ONNX_NHWC_RING) side by side on
# the GPU machine: its CUDA tests under every ring, then tools/bench_configs.py on the large-rank shapes where the
# model picks that family (batch 1 and 32, fp16), each forced config once per ring, next to the cuDNN triplet.
# Run through tools/device_env.sh, carrying .ortgpu, .whl and tucker_onnx/_lib.
# Usage: bash tools/device_env.sh bash tools/gpu_ring_ab.sh [RINGS]
set -u
RINGS=${1:-3x32 4x32 3x64 4x64}
. tools/gpu_common.sh
for r in $RINGS; do
  echo "ring $r: $(TUCKER_ONNX_NHWC_RING=$r timeout 90 python3 -m pytest -q -p no:cacheprovider -k channels_last \
    tests/test_kernel_cuda.py 2>&1 | tail -1)"
done | tee "$R/ring_tests.log"
pack
bench() {  # SHAPE BATCH CONFIG...
  local shape=$1 b=$2 dir; shift 2
  dir="$R/b${b}_$(echo "$shape" | tr ':>@-' '____')"
  # shellcheck disable=SC2086
  timeout 90 python3 tools/bench_configs.py --shape "$shape" --batch "$b" --dtype fp16 --stack 4 --rings $RINGS \
    --configs "$@" --out "$dir" 2>&1 | quiet | grep "^|"
  pack
}
bench "320:160->96:320@28" 32 6,64,128,256,4,32 6,128,128,256,4,32
bench "384:192->96:384@28" 32 6,64,128,256,4,32 6,128,128,256,4,32
bench "192:96->64:192@28" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench "384:192->96:384@14" 32 6,128,64,256,4,32 6,128,64,256,4,64
bench "256:128->96:256@14" 32 6,128,64,256,4,32 6,128,64,256,4,64
bench "128:64->64:128@56" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench "384:192->160:384@7" 32 6,128,64,256,4,64 6,64,64,256,4,64
bench "320:160->96:320@28" 1 6,64,128,256,4,256 6,64,64,256,4,256
bench "384:192->96:384@28" 1 6,64,128,256,4,256 6,64,64,256,4,256
bench "256:128->96:256@14" 1 6,32,64,256,4,256 6,64,64,256,4,256
bench "384:192->96:384@14" 1 6,32,64,256,4,256 6,64,64,256,4,256
bench "384:192->160:384@7" 1 6,32,64,256,4,256 6,64,64,256,4,256
bench "128:64->32:128@224" 1 6,128,128,256,4,32 6,64,128,256,4,32
bench "128:64->32:128@112" 1 6,128,128,256,4,32 6,64,128,256,4,32
