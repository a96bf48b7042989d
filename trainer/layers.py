"""TuckerConv2d: 1x1 (C->R1) -> KxK core (R1->R2, the original stride/padding) -> 1x1 (R2->N) + bias.

It is three plain nn.Conv2d, so torch.onnx.export emits exactly the triplet `tucker-onnx rewrite` fuses.
"""
from __future__ import annotations

import torch
from torch import nn


def tucker_weight(w_in: torch.Tensor, core: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """The dense [N,C,kh,kw] weight of factors w_in [R1,C], core [R2,R1,kh,kw], w_out [N,R2]."""
    return torch.einsum("abij,na,bc->ncij", core, w_out, w_in)


class TuckerConv2d(nn.Module):
    def __init__(self, conv: nn.Conv2d, r_in: int, r_out: int):
        super().__init__()
        self.first = nn.Conv2d(conv.in_channels, r_in, 1, bias=False)
        self.core = nn.Conv2d(r_in, r_out, conv.kernel_size, conv.stride, conv.padding, conv.dilation, bias=False)
        self.last = nn.Conv2d(r_out, conv.out_channels, 1, bias=conv.bias is not None)
        self.ranks = (r_in, r_out)

    @classmethod
    def from_factors(cls, conv: nn.Conv2d, w_in, core, w_out):
        """w_in [R1,C], core [R2,R1,kh,kw], w_out [N,R2]: W ~= core x0 w_out x1 w_in^T."""
        m = cls(conv, w_in.shape[0], core.shape[0]).to(conv.weight.device)
        with torch.no_grad():
            m.first.weight.copy_(w_in[:, :, None, None])
            m.core.weight.copy_(core)
            m.last.weight.copy_(w_out[:, :, None, None])
            if conv.bias is not None:
                m.last.bias.copy_(conv.bias)
        return m

    def full_weight(self) -> torch.Tensor:
        """The dense [N,C,kh,kw] weight the three factors make: a Tucker layer measured like the conv it replaced."""
        return tucker_weight(self.first.weight[:, :, 0, 0], self.core.weight, self.last.weight[:, :, 0, 0])

    def forward(self, x):
        return self.last(self.core(self.first(x)))
