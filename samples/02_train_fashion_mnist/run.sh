#!/usr/bin/env bash
# Sample 02: dense vs decompose+fine-tune vs ADMM Tucker training of ResNet-18 on Fashion-MNIST (GPU if present).
# The committed H200 result of this recipe is in results/trainer_h200_2026-11-28/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/.venv/bin/tucker-onnx" train --model resnet18 --data fashion-mnist --ratio 0.5 --multiple 8 \
  --epochs "${EPOCHS:-12}" --admm-epochs "${ADMM_EPOCHS:-6}" --finetune-epochs "${FT_EPOCHS:-4}" \
  --out "${OUT_DIR:-$root/out/02_train_fashion_mnist}" "$@"
