. tools/gpu_common.sh
mkdir -p tucker_onnx/_lib; xz -dc .libxz/head.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
K="wgmma or staged_channels_last"
for i in 1 2; do
  SECONDS=0
  PYTHONFAULTHANDLER=1 MALLOC_CHECK_=3 timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_kernel_cuda.py -k "$K" > $R/run$i.log 2>&1
  echo "run $i rc $? in $SECONDS s"; tail -4 $R/run$i.log; pack
done
SECONDS=0
timeout 200 cuda-gdb -batch -ex "set pagination off" -ex "set cuda break_on_launch none" -ex run -ex bt -ex "info sharedlibrary" --args python3 -m pytest -q -p no:cacheprovider tests/test_kernel_cuda.py -k "$K" > $R/gdb.log 2>&1
echo "gdb rc $? in $SECONDS s"; grep -v "^\[New Thread\|^\[Thread\|Detaching" $R/gdb.log | tail -40; pack
NVIDIA_TF32_OVERRIDE=0 timeout 60 python3 tools/kernel_trace.py --shape "256:128->96:256@14" --shape "128:96->64:128@28" --batch 1 --dtype fp32 --runs 20 --out $R/trace_b1.json 2>&1 | quiet | grep -v "^$" | head -40; pack
