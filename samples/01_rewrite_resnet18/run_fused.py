"""Runs the fused model with the library and through its function fallback, against the triplet model."""
import sys
import time

import numpy as np

from tucker_onnx import make_session

triplets, fused = sys.argv[1], sys.argv[2]
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
ref = make_session(triplets, library=False)
for label, sess in (("TuckerConv kernel (library)", make_session(fused, library=True)),
                    ("function fallback (no library)", make_session(fused, library=False))):
    y = sess.run(None, {"input": x})[0]
    t0 = time.perf_counter()
    for _ in range(5):
        sess.run(None, {"input": x})
    ms = (time.perf_counter() - t0) / 5 * 1e3
    diff = float(np.abs(y - ref.run(None, {"input": x})[0]).max())
    print(f"{label:32s} max |diff| vs triplets {diff:.2e}   {ms:7.1f} ms/run on {sess.get_providers()[0]}")
