"""Stage 1: ADMM training of Tucker-format CNNs in PyTorch, exported to ONNX triplets that `rewrite` fuses."""
