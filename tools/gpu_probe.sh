#!/usr/bin/env bash
# Where the grid kernel's time goes (run on the GPU machine from the repository root; needs only nvcc, and ncu for
# the stall reasons): tools/grid_probe.cu built once per entry of $BUILDS, each checked against float64 and timed
# in CUDA graphs. An entry is G[:V[:L[:F[:S[:T]]]]]: G R1 steps of the 3x3 core's loads in flight, V = 0 reads weights
# one at a time (1, four at a time, is the default), L = 0 reads t1/t2 from L2 only (1, through L1, is the default),
# F = 1 makes stage 3 wait on per-column-group counters instead of a second grid barrier (0 is the default), S = 0
# turns off the core stage's shared-memory staging (1 is the default), T = 1 adds the per-stage clock marks
# (-DTUCKER_GRID_TIMES: each case's phases and thread 0's prep / partial / reduction per stage);
# default BUILDS="1 2 4 8". GRID_PROBE_CASE=N runs only case N of tools/grid_probe.cu. Then, unless NCU=0, Nsight Compute on build
# $NCU_GROUP (a BUILDS entry; default 4, the kernel's default; session 6 profiled 2), one launch per shape with L2 warm, its
# details page and per-line stall samples (SourceCounters, the build has -lineinfo).
# Results under $R/probe (R defaults to /tmp/R). Usage: [BUILDS="4:0 4:1"] [NCU=0] bash tools/gpu_probe.sh
set -u
P=${R:-/tmp/R}/probe
G=${NCU_GROUP:-4}
mkdir -p "$P"
BUILDS=${BUILDS:-1 2 4 8}
for b in $BUILDS; do
  IFS=: read -r g v l f st tm <<< "$b"
  times=""; [ "${tm:-0}" = 1 ] && times=-DTUCKER_GRID_TIMES
  nvcc -O3 --use_fast_math -lineinfo -arch=sm_90 -DTUCKER_GRID_R1_GROUP=$g -DTUCKER_GRID_VEC=${v:-1} \
    -DTUCKER_GRID_L1=${l:-1} -DTUCKER_GRID_FLAGS=${f:-0} -DTUCKER_GRID_STAGE=${st:-1} $times \
    -Icustom_ops/src/cuda tools/grid_probe.cu custom_ops/src/cuda/tucker_conv_grid.cu \
    -o "/tmp/grid_probe${b//:/_}" > "$P/build${b//:/_}.log" 2>&1 &
done
wait
for b in $BUILDS; do
  echo "## build $b"; timeout 60 "/tmp/grid_probe${b//:/_}" | tee "$P/time_group${b//:/_}.md"; echo "rc $?"
done
if [ "${NCU:-1}" = 0 ]; then
  :
elif command -v ncu > /dev/null; then
  timeout 240 ncu --clock-control none --kernel-name regex:GridKernel --launch-skip 0 --launch-count 14 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section LaunchStats --section MemoryWorkloadAnalysis --section SourceCounters --import-source yes \
    -o "$P/grid$G" -f "/tmp/grid_probe${G//:/_}" once > "$P/ncu_run.log" 2>&1
  echo "ncu rc $?"; tail -5 "$P/ncu_run.log"
  ncu -i "$P/grid$G.ncu-rep" --page details > "$P/ncu_details.txt" 2>&1
  ncu -i "$P/grid$G.ncu-rep" --page source --csv --print-source cuda > "$P/ncu_source_cuda.csv" 2>&1
  ncu -i "$P/grid$G.ncu-rep" --page source --csv --print-source sass > "$P/ncu_source_sass.csv" 2>&1
  ls -la "$P"; grep -E "Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Registers Per" "$P/ncu_details.txt" | head -40
else
  echo "no ncu on this machine"
fi
