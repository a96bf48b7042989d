mkdir -p tucker_onnx/_lib && xz -dc .libxz/s35.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
# The shipped library (HEAD's CUDA code, ef237c3): all five models, batch 1 and 32, fp32 (TF32 off on both sides) and
# fp16, CUDA graphs on, each model in a run of its own so that a model cut by its limit leaves the others' rows.
for m in resnet18 vgg16_bn resnet50 densenet121 densenet201; do
  t0=$(date +%s)
  timeout 150 python3 tools/bench_models.py --models $m --batches 1 32 --dtypes fp32 fp16 --graphs on --tf32 off \
    --repeats 50 --out $R/models_$m > $R/bench_$m.log 2>&1
  echo "$m rc $? $(( $(date +%s) - t0 )) s"; grep -E "^$m" $R/bench_$m.log
  find $R -name '*.onnx' -delete; pack
done
