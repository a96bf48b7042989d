#!/usr/bin/env bash
# Programmatic dependent launch, on and off side by side (run on the GPU machine from the repository root, through
# tools/device_env.sh): per layer shape of $SHAPES, the model's pick in a stack of 4 layers in one CUDA graph with
# TUCKER_ONNX_PDL=1 and 0 alternating (tools/bench_configs.py --pdl ab), next to the cuDNN triplet; once per library
# of $LIBS ("default" = tucker_onnx/_lib; else the path of a diagnostic build). Results under $R/ab_<lib>_<shape>/
# (R_KEEP=1 keeps what the call wrote there before). Usage: [SHAPES="64:32->32:64@56 ..."]
# [LIBS="default /tmp/libB.so"] [DTYPE=fp16] [BATCH=1] bash tools/gpu_pdl_ab.sh
set -u
. tools/gpu_common.sh
SHAPES=${SHAPES:-"64:32->32:64@56 64:32->32:64@14 128:64->32:128@112 256:128->96:256@14 320:160->96:320@28 384:192->96:384@28"}
for lib in ${LIBS:-default}; do
  tag=$(basename "$lib" .so)
  for s in $SHAPES; do
    d="$R/ab_${tag}_$(echo "$s" | tr ':>@' '___' | tr -d '-')"
    if [ "$lib" = default ]; then unset TUCKER_ONNX_LIBRARY; else export TUCKER_ONNX_LIBRARY=$lib; fi
    echo "## $tag $s"
    timeout 90 python3 tools/bench_configs.py --shape "$s" --dtype "${DTYPE:-fp16}" --batch "${BATCH:-1}" --pdl ab \
      --out "$d" 2>&1 | quiet | grep "^|" | tail -5
    pack
  done
done
