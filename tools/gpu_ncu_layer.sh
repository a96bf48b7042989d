#!/usr/bin/env bash
# Nsight Compute on one fused layer's kernels (tools/ncu_layer.py), each config in $CONFIGS: warp stall reasons,
# occupancy, pipe and shared-memory use, into $OUT/r.tgz. Run through tools/device_env.sh carrying .ortgpu, .whl and
# tucker_onnx/_lib. Usage: CONFIGS="6,64,64,256,1,32 6,128,128,256,1,32" bash tools/device_env.sh \
#   bash tools/gpu_ncu_layer.sh --c 384 --r1 192 --r2 96 --hw 28 --batch 32
set -u
. tools/gpu_common.sh
for cfg in ${CONFIGS:-6,64,64,256,1,32}; do
  ncu_layer "${cfg//,/_}" ${NCU_SECS:-200} "$@" --config "$cfg"
done
