#!/usr/bin/env bash
# One-shot, idempotent set-up on a fresh machine: a venv with every dependency, the ONNX Runtime
# headers (Debian's libonnxruntime-dev unless ORT_INCLUDE_DIR is set), the custom-op library, and
# Debian's Fashion-MNIST. Re-running skips what is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.deps-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  $VPY -m pip install -q --upgrade pip
  # torch/torchvision: the builds this kind of machine keeps on local disk (see README).
  $VPY -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  $VPY -m pip install -q -e ".[dev]"
  touch $stamp
fi
if [[ -z "${ORT_INCLUDE_DIR:-}" ]]; then
  tools/fetch_ort_headers.sh
  export ORT_INCLUDE_DIR="$root/third_party/ort/include"
fi
cmake -S custom_ops -B build/custom_ops -DCMAKE_BUILD_TYPE=Release -DORT_INCLUDE_DIR="$ORT_INCLUDE_DIR" \
  ${TUCKER_CMAKE_ARGS:-} | grep -E "tucker_onnx_ops|Error" || true
cmake --build build/custom_ops -j"$(nproc)" | grep -E "error|Built target" || true
mkdir -p tucker_onnx/_lib
cp build/custom_ops/libtucker_onnx_ops.so tucker_onnx/_lib/
# Fashion-MNIST for the trainer (Debian package; needs root, skipped with a note otherwise).
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }) \
      || echo "note: could not install dataset-fashion-mnist (trainer tests on it will skip)"
  else
    echo "note: run as root to install Debian's dataset-fashion-mnist"
  fi
fi
echo "set-up done: .venv, $(ls tucker_onnx/_lib/*.so)"
