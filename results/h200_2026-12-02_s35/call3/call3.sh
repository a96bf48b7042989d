mkdir -p tucker_onnx/_lib && xz -dc .libxz/s35.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
# ResNet-18 at batch 1 six times in a row on a freshly started machine: does the first process read slower (calls 1-2:
# fused fp32 0.408-0.420 ms first, 0.395-0.399 after), and do 500 repeats instead of 50 change the reading?
for run in r50a r50b r50c r50d r500a r500b; do
  n=50; [[ $run == r500* ]] && n=500
  t0=$(date +%s)
  timeout 90 python3 tools/bench_models.py --models resnet18 --batches 1 --dtypes fp32 fp16 --graphs on --tf32 off \
    --repeats $n --out $R/models_$run > $R/bench_$run.log 2>&1
  echo "$run rc $? $(( $(date +%s) - t0 )) s"; grep -E "^resnet" $R/bench_$run.log
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader >> $R/clocks.txt
  find $R -name '*.onnx' -delete; pack
done
