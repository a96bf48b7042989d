mkdir -p tucker_onnx/_lib && xz -dc .libxz/s35.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
# 1. A/B: session 34's model picks vs three forced picks (fp16 4x4 WMMA tile at 56/s2 and 28; fp32 layer4.0 grid)
for run in model1 forced1 model2 forced2; do
  if [[ $run == forced* ]]; then export TUCKER_ONNX_CONFIG_CACHE=$PWD/.libxz/forced_s35.jsonl; else unset TUCKER_ONNX_CONFIG_CACHE; fi
  TUCKER_ONNX_CONFIG_LOG=$R/picks_$run.jsonl timeout 100 python3 tools/bench_models.py --models resnet18 --batches 1 --dtypes fp32 fp16 --graphs on --tf32 off \
    --repeats 50 --out $R/models_$run > $R/bench_$run.log 2>&1
  echo "$run rc $?"; grep -E "^resnet" $R/bench_$run.log
  find $R -name '*.onnx' -delete; pack
done
unset TUCKER_ONNX_CONFIG_CACHE
# 2. HEAD's library (session 34's review refactor, never run on a GPU): the whole GPU suite
cuda_tests 330
