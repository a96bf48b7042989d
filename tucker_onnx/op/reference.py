"""A float64 NumPy reference of TuckerConv, the oracle every kernel is tested against."""
from __future__ import annotations

import numpy as np


def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1)):
    """Plain NCHW conv in float64 (group 1); pads are ONNX [top, left, bottom, right]."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    m, c2, kh, kw = w.shape
    assert c == c2, (c, c2)
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    sh, sw = strides
    dh, dw = dilations
    ho = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, m, ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]
            y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def tucker_conv(x, w_in, w_core, w_out, b, z=None, strides=(1, 1), pads=(0, 0, 0, 0),
                dilations=(1, 1), activation="none"):
    """Y = act(conv1x1(conv_core(conv1x1(X, W_in)), W_out) + B [+ Z]) in float64."""
    t = conv2d(x, w_in)
    t = conv2d(t, w_core, None, strides, pads, dilations)
    y = conv2d(t, w_out, b)
    if z is not None:
        y = y + np.asarray(z, np.float64)
    if activation == "relu":
        y = np.maximum(y, 0.0)
    return y
