. tools/gpu_common.sh
mkdir -p tucker_onnx/_lib; xz -dc .libxz/head.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
for dt in fp32 fp16; do
  timeout 120 python3 tools/export_bench_models.py /tmp/g --models resnet18 --dtype $dt > /dev/null 2>&1
  python3 tools/_mk_nofold.py /tmp/g/resnet18_fused_$dt.onnx /tmp/g/resnet18_unfused_$dt.onnx /tmp/g/resnet18_nofold_$dt.onnx
  timeout 150 python3 tools/ab_graphs.py /tmp/g/resnet18_nofold_$dt.onnx /tmp/g/resnet18_fused_$dt.onnx /tmp/g/resnet18_nofold_$dt.onnx /tmp/g/resnet18_fused_$dt.onnx --rounds 9 --out $R/ab_$dt.json 2>&1 | quiet | tail -5; pack
done
NVIDIA_TF32_OVERRIDE=0 timeout 60 python3 tools/kernel_trace.py --model /tmp/g/resnet18_fused_fp32.onnx --batch 1 --runs 20 --out $R/trace_fused_fp32.json 2>&1 | quiet | head -3; pack
timeout 150 python3 tools/bench_models.py --models resnet18 --batches 1 --dtypes fp32 fp16 --graphs on --tf32 off --out $R/models 2>&1 | quiet | grep "graph=on"; pack
