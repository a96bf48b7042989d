#!/usr/bin/env bash
# Where a model's time goes (batch $BATCH, default 1), kernel by kernel (GPU machine, through tools/device_env.sh
# carrying .ortgpu and .whl): exports $MODELS (default resnet18) at $DTYPE (default fp32) as original / Tucker
# unfused / Tucker fused with the TDC ranks (tools/export_bench_models.py), traces each one's kernels under CUPTI
# (tools/kernel_trace.py --model; TF32 off on both sides for fp32), then times the three with CUDA graphs
# (tools/bench_models.py). Why: the fused model's wall time is its Tucker layers plus everything else (stem, shortcut
# convs, pooling, classifier) plus the gaps between kernels, and the model-level target depends on all three.
# With BUILD=1 the custom-op library is first built here for sm_90a (16 cores: ~2 minutes).
# Usage: [BUILD=1] [MODELS="resnet18"] [DTYPE=fp32] [BATCH=1] bash tools/device_env.sh bash tools/gpu_model_trace.sh
set -u
. tools/gpu_common.sh
if [ -n "${BUILD:-}" ]; then
  cmake -S custom_ops -B /tmp/b -DCMAKE_BUILD_TYPE=Release -DORT_INCLUDE_DIR="$PWD/third_party/ort/include" \
    -DTUCKER_CUDA_ARCHS=90a-real > "$R/build.log" 2>&1 && cmake --build /tmp/b -j16 >> "$R/build.log" 2>&1
  echo "build rc $?"; mkdir -p tucker_onnx/_lib; cp /tmp/b/libtucker_onnx_ops.so tucker_onnx/_lib/
fi
DT=${DTYPE:-fp32}
[ "$DT" = fp32 ] && export NVIDIA_TF32_OVERRIDE=0
for m in ${MODELS:-resnet18}; do
  timeout 200 python3 tools/export_bench_models.py /tmp/graphs --models "$m" --dtype "$DT" 2>&1 | quiet | tail -3
  args=()
  for k in original unfused fused; do args+=(--model "/tmp/graphs/${m}_${k}_$DT.onnx"); done
  timeout 150 python3 tools/kernel_trace.py "${args[@]}" --batch ${BATCH:-1} --runs 20 \
    --out "$R/trace_${m}_${DT}_b${BATCH:-1}.json" 2>&1 | quiet | tee "$R/trace_${m}_${DT}_b${BATCH:-1}.txt"
  pack
done
timeout 200 python3 tools/bench_models.py --models ${MODELS:-resnet18} --batches ${BATCH:-1} --dtypes "$DT" \
  --graphs on --tf32 off --out "$R/models" 2>&1 | quiet | tail -8
pack
