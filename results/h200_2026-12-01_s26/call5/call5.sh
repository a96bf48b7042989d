. tools/gpu_common.sh
mkdir -p tucker_onnx/_lib; xz -dc .libxz/head.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
for dt in fp32 fp16; do
  timeout 120 python3 tools/export_bench_models.py /tmp/g --models resnet18 --dtype $dt > /dev/null 2>&1
  python3 tools/_mk_nofold.py /tmp/g/resnet18_fused_$dt.onnx /tmp/g/resnet18_unfused_$dt.onnx /tmp/g/resnet18_nofold_$dt.onnx
  timeout 150 python3 tools/ab_graphs.py /tmp/g/resnet18_nofold_$dt.onnx /tmp/g/resnet18_fused_$dt.onnx /tmp/g/resnet18_nofold_$dt.onnx /tmp/g/resnet18_fused_$dt.onnx --rounds 9 --out $R/ab_$dt.json 2>&1 | quiet | tail -5; pack
done
