#!/usr/bin/env bash
# Where a layer's GPU time goes (tools/kernel_trace.py: fused op, cuDNN triplet and dense conv, kernel by kernel)
# for the shapes in $SHAPES at $BATCH/$DTYPE, then Nsight Compute on the fused op's kernels of the first shape
# (warp stalls, pipes, memory). Run through tools/device_env.sh carrying .ortgpu, .whl and tucker_onnx/_lib.
# Usage: SHAPES="64:64->32:64@56 512:192->160:512@7" BATCH=32 DTYPE=fp16 bash tools/device_env.sh bash tools/gpu_trace.sh
set -u
. tools/gpu_common.sh
args=()
for s in $SHAPES; do args+=(--shape "$s"); done
timeout "${TRACE_LIMIT:-150}" python3 tools/kernel_trace.py "${args[@]}" --batch "$BATCH" --dtype "$DTYPE" \
  --out "$R/trace_b${BATCH}_$DTYPE.json" 2>&1 | quiet > "$R/trace_b${BATCH}_$DTYPE.txt"
cat "$R/trace_b${BATCH}_$DTYPE.txt"; pack
if [ -n "${NCU_SHAPE:-}" ]; then
  IFS=' ' read -r -a ncu_args <<< "$NCU_SHAPE"
  ncu_layer layer "${NCU_LIMIT:-150}" "${ncu_args[@]}"
fi
