#!/usr/bin/env bash
# One stage kernel of the staged channels-last family, looked at closely (session 18): the SASS opcode histogram of
# its instantiation (cuobjdump; MANGLED: a fragment of its mangled name, e.g. StagedNhwcKernelILi128ELi64ELb1ELb1E for
# the core stage at BM 128 x BN 64) and Nsight Compute on that one launch (SKIP: launches skipped before it; the op
# launches stage 1, 2, 3 per run, so 4 is run 2's core stage), with per-phase instruction counts and stall reasons
# (gpu_common.sh's ncu_layer). Run through tools/device_env.sh carrying .ortgpu, .whl and tucker_onnx/_lib.
# Usage: MANGLED=... SKIP=4 bash tools/device_env.sh bash tools/gpu_stage_profile.sh --c 384 --r1 192 --r2 96 --hw 14 \
#          --batch 32 --dtype fp16 --config 6,128,64,256,4,32
set -u
. tools/gpu_common.sh
lib=tucker_onnx/_lib/libtucker_onnx_ops.so
# The function's SASS: from its header line to the next function's.
cuobjdump -sass "$lib" | awk -v m="${MANGLED:?}" '/Function :/ {on = index($0, m) > 0; if (on) n++} on && n == 1' \
  > "$R/sass.txt"
grep -oE "^ +/\*[0-9a-f]+\*/ +(@!?U?P[0-9T] +)?[A-Z0-9_.]+" "$R/sass.txt" | awk '{print $NF}' | sed 's/\..*//' |
  sort | uniq -c | sort -rn > "$R/sass_opcodes.txt"
echo "SASS of $(head -1 "$R/sass.txt" | cut -c1-120): $(wc -l < "$R/sass.txt") lines"; head -25 "$R/sass_opcodes.txt"
grep -oE "LDSM[.A-Z0-9]*|LDS(\.[0-9A-Z]+)*|HMMA[.A-Z0-9]*|LDGSTS[.A-Z0-9]*" "$R/sass.txt" | sort | uniq -c
KERNEL=StagedNhwc NCU_SKIP=${SKIP:-4} NCU_COUNT=1 ncu_layer stage "${NCU_SECS:-150}" "$@" | cut -c1-160
cat "$R/ncu_stage_phases.md"
