#!/usr/bin/env bash
# Session 20, call 3: Nsight Compute on the three stages of the fp32 channels-last form (3xTF32) at
# 384:192->96:384@14, batch 32 (0.75x cuDNN's triplet in call 2), and the fp16 form on the same shape and tile.
set -u
. tools/gpu_common.sh
KERNEL=StagedNhwc NCU_SKIP=3 NCU_COUNT=3 ncu_layer fp32 200 --c 384 --r1 192 --r2 96 --hw 14 --batch 32 --dtype fp32 \
  --config 6,64,128,256,5,32 --runs 3 > /dev/null
KERNEL=StagedNhwc NCU_SKIP=3 NCU_COUNT=3 ncu_layer fp16 200 --c 384 --r1 192 --r2 96 --hw 14 --batch 32 --dtype fp16 \
  --config 6,64,128,256,4,32 --runs 3 > /dev/null
for t in fp32 fp16; do echo "== $t"; grep -E "^  [A-Za-z]|Duration|Registers Per|Issue Slots Busy|Achieved Occupancy|Warp Cycles Per Issued" "$R/ncu_$t.txt" | head -40; done
for t in fp32 fp16; do echo "== $t phases"; head -60 "$R/ncu_${t}_phases.md"; done
pack
