mkdir -p tucker_onnx/_lib && xz -dc .libxz/s34.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
for run in old1 new1 old2 new2; do
  if [[ $run == old* ]]; then export TUCKER_ONNX_CONFIG_CACHE=$PWD/.libxz/old_picks.jsonl; else unset TUCKER_ONNX_CONFIG_CACHE; fi
  timeout 120 python3 tools/bench_models.py --models resnet18 resnet50 --batches 1 --dtypes fp32 fp16 --graphs on --tf32 off \
    --repeats 50 --out $R/models_$run > $R/bench_$run.log 2>&1
  echo "$run rc $?"; grep -E "^resnet" $R/bench_$run.log
  find $R -name '*.onnx' -delete; pack
done
