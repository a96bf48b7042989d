#!/usr/bin/env bash
# Environment for the GPU machine (no network): unpacks the slim onnxruntime-gpu bundle carried in .ortgpu/
# (python3 ../shared/tools/ort_gpu_bundle.py --out .ortgpu) and the pure-Python wheels carried in .whl/
# (pip download --no-deps -d .whl onnx-graphsurgeon tensorly pytest pluggy iniconfig packaging), then runs
# the given command. The custom-op library is built here for sm_90 (tools/setup.sh) and carried in
# tucker_onnx/_lib. Usage: bash tools/device_env.sh CMD...
set -euo pipefail
# (.ortgpu is optional: the trainer needs only the CPU onnxruntime the machine has)
python3 -c "import tarfile, glob; [tarfile.open(f).extractall('/tmp/ortgpu') for f in glob.glob('.ortgpu/*.tar.xz')]"
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/ortgpu:/tmp/site:$PWD PYTHONUNBUFFERED=1
exec "$@"
