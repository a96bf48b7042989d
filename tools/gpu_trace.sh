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
  timeout "${NCU_LIMIT:-150}" ncu --clock-control none --kernel-name regex:${KERNEL:-Staged} --launch-skip 3 --launch-count 3 \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
    -o "$R/ncu" -f python3 tools/ncu_layer.py "${ncu_args[@]}" > "$R/ncu.log" 2>&1
  echo "ncu rc $?"
  ncu -i "$R/ncu.ncu-rep" --page details > "$R/ncu.txt" 2>&1
  grep -E "^  [A-Za-z]|Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Registers Per|Issue Slots|Compute \(SM\) Throughput|Memory Throughput|L1/TEX Hit|L2 Hit|Shared|Bank" "$R/ncu.txt" | head -120
  pack
fi
