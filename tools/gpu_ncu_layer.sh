#!/usr/bin/env bash
# Nsight Compute on one fused layer's kernels (tools/ncu_layer.py), each config in $CONFIGS: warp stall reasons,
# occupancy, pipe and shared-memory use, into $OUT/r.tgz. Run through tools/device_env.sh carrying .ortgpu, .whl and
# tucker_onnx/_lib. Usage: CONFIGS="6,64,64,256,1,32 6,128,128,256,1,32" bash tools/device_env.sh \
#   bash tools/gpu_ncu_layer.sh --c 384 --r1 192 --r2 96 --hw 28 --batch 32
set -u
. tools/gpu_common.sh
for cfg in ${CONFIGS:-6,64,64,256,1,32}; do
  tag=${cfg//,/_}
  timeout 200 ncu --clock-control none --kernel-name regex:${KERNEL:-StagedConv} --launch-skip 3 --launch-count 3 \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
    -o "$R/ncu_$tag" -f python3 tools/ncu_layer.py "$@" --config "$cfg" > "$R/ncu_$tag.log" 2>&1
  echo "$cfg ncu rc $?"
  ncu -i "$R/ncu_$tag.ncu-rep" --page details > "$R/ncu_$tag.txt" 2>&1
  grep -E "^  [A-Za-z]|Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Registers Per|Issue Slots|Compute \(SM\) Throughput|Memory Throughput|Shared|Bank" "$R/ncu_$tag.txt" | head -80
  pack
done
