"""The ADMM split for Tucker-2 rank constraints (Yin et al., CVPR 2021), on the GPU when there is one.

    min_W loss(W)  s.t.  W_i in S_i = {Tucker ranks <= (r_out, r_in)}
    W-step: SGD on loss + rho/2 sum ||W_i - Z_i + U_i||^2;  Z-step: Z_i = P_S(W_i + U_i);  U-step: U_i += W_i - Z_i
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from tucker_onnx.errors import TuckerOnnxError

from .layers import TuckerConv2d, tucker_weight


def _leading(gram: torch.Tensor, r: int) -> torch.Tensor:
    _, vecs = torch.linalg.eigh(gram)
    return vecs.flip(-1)[:, :r]


def tucker2_factors(w: torch.Tensor, r_in: int, r_out: int, n_iter: int = 3):
    """HOOI over the channel modes of w [N,C,kh,kw] (float64 internally): (w_in [R1,C], core, w_out [N,R2])."""
    w64 = w.detach().double()
    n, c = w64.shape[:2]
    u1 = w64.transpose(0, 1).reshape(c, -1)
    u_in = _leading(u1 @ u1.T, r_in)
    u0 = w64.reshape(n, -1)
    u_out = _leading(u0 @ u0.T, r_out)  # HOSVD start (n_iter=0 returns the truncated HOSVD)
    for _ in range(n_iter):
        y = torch.einsum("ncij,cb->nbij", w64, u_in).reshape(n, -1)
        u_out = _leading(y @ y.T, r_out)
        y = torch.einsum("ncij,na->acij", w64, u_out).transpose(0, 1).reshape(c, -1)
        u_in = _leading(y @ y.T, r_in)
    core = torch.einsum("ncij,na,cb->abij", w64, u_out, u_in)
    return u_in.T.to(w.dtype), core.to(w.dtype), u_out.to(w.dtype)


def project(w: torch.Tensor, r_in: int, r_out: int) -> torch.Tensor:
    """Euclidean projection (HOOI approximation) of w onto tensors of Tucker ranks (r_out, r_in)."""
    return tucker_weight(*tucker2_factors(w, r_in, r_out))


def select_convs(model: nn.Module, ratio: float | None, plan: dict | None, multiple: int = 1,
                 min_channels: int = 16) -> dict[str, tuple[int, int]]:
    """Module name -> (r_in, r_out) for every constrained conv. Plan keys may be module names or ONNX
    node names ('/layer1/layer1.0/conv1/Conv'), the format `decompose` and `rank` share."""
    from tucker_onnx.decompose.ranks import ranks_from_ratio
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    chosen = {}
    if plan is not None:
        for key, (r_in, r_out) in plan.items():
            parts = [p for p in key.split("/") if p and p != "Conv"]
            cands = [key] + ([f"{parts[-2]}.{parts[-1]}"] if len(parts) > 1 else []) + ([parts[-1]] if parts else [])
            name = next((c for c in cands if c in convs), None)
            if name is None:
                raise TuckerOnnxError(f"plan names a layer the model does not have: {key!r}")
            m = convs[name]
            if not (1 <= r_in <= m.in_channels and 1 <= r_out <= m.out_channels):
                raise TuckerOnnxError(f"{name}: ranks ({r_in}, {r_out}) exceed its channels "
                                      f"(C={m.in_channels}, N={m.out_channels})")
            if m.groups != 1 or m.kernel_size == (1, 1):
                raise TuckerOnnxError(f"{name}: only ungrouped KxK convs can be Tucker-constrained")
            chosen[name] = (r_in, r_out)
        return chosen
    for name, m in convs.items():
        if m.groups != 1 or m.kernel_size == (1, 1) or min(m.in_channels, m.out_channels) < min_channels:
            continue
        chosen[name] = ranks_from_ratio(m.in_channels, m.out_channels, ratio, multiple)
    if not chosen:
        raise TuckerOnnxError("no conv qualifies for a Tucker constraint")
    return chosen


def warmup_ranks(full: tuple[int, int], target: tuple[int, int], epoch: int, warmup: int) -> tuple[int, int]:
    """The ranks Z is projected onto in ADMM epoch `epoch` (0-based) with a rank warm-up of `warmup` epochs: from the
    full channels towards the targets geometrically, reaching them in epoch warmup - 1 (at once when warmup is 0).
    Why: the first projections onto the targets remove a large part of each weight at once, and ADMM's loss spiked
    in its second and third epochs (sessions 33-34); a gentler set lets the W-step follow."""
    f = min(1.0, (epoch + 1) / warmup) if warmup > 0 else 1.0
    return tuple(max(t, min(c, round(c ** (1 - f) * t ** f))) for c, t in zip(full, target))


@dataclass
class AdmmState:
    ranks: dict[str, tuple[int, int]]  # the targets (what to_tucker converts to)
    z: dict[str, torch.Tensor]
    u: dict[str, torch.Tensor]
    rho: float
    tangent: bool = False
    warmup: int = 0  # rank warm-up epochs (warmup_ranks)
    active: dict[str, tuple[int, int]] | None = None  # the ranks of this epoch's projections (None: the targets)

    @classmethod
    def init(cls, model: nn.Module, ranks: dict, rho: float, tangent: bool = False, warmup: int = 0) -> "AdmmState":
        mods = dict(model.named_modules())
        state = cls(ranks, {}, {n: torch.zeros_like(mods[n].weight) for n in ranks}, rho, tangent, warmup)
        state.begin_epoch(model, 0)
        state.z = {n: project(mods[n].weight, *state.current(n)) for n in ranks}
        return state

    def current(self, name: str) -> tuple[int, int]:
        return self.active[name] if self.active is not None else self.ranks[name]

    def begin_epoch(self, model: nn.Module, epoch: int) -> None:
        """Sets the ranks of this epoch's projections (the targets from epoch warmup - 1 on)."""
        if self.warmup <= 0:
            self.active = None
            return
        mods = dict(model.named_modules())
        self.active = {n: warmup_ranks((mods[n].weight.shape[1], mods[n].weight.shape[0]), r, epoch, self.warmup)
                       for n, r in self.ranks.items()}

    def penalty(self, model: nn.Module) -> torch.Tensor:
        """rho/2 sum ||W - Z + U||^2. With `tangent`, W enters as W / ||W|| times ||W|| held constant: the same
        value, but its gradient loses the component along W. Why: a conv that feeds a BatchNorm computes the same
        function at any scale, and the Tucker-rank set is a cone, so a pull along W changes neither the loss nor the
        rank, while shrinking ||W|| raises that layer's effective learning rate (lr / ||W||^2)."""
        mods = dict(model.named_modules())
        total = 0.0
        for n in self.ranks:
            w = mods[n].weight
            if self.tangent:
                norm = w.norm()
                w = w / norm * norm.detach()
            total = total + ((w - self.z[n] + self.u[n]) ** 2).sum()
        return 0.5 * self.rho * total

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """Z-step then U-step; returns the relative residual sqrt(sum ||W - Z||^2 / sum ||W||^2)."""
        mods = dict(model.named_modules())
        num = den = 0.0
        for n in self.ranks:
            w = mods[n].weight
            self.z[n] = project(w + self.u[n], *self.current(n))
            self.u[n] += w - self.z[n]
            num += float(((w - self.z[n]) ** 2).sum())
            den += float((w ** 2).sum())
        return math.sqrt(num / max(den, 1e-30))

    @torch.no_grad()
    def set_rho(self, rho: float) -> None:
        """Changes the penalty and rescales U: U is the scaled dual (Lagrange multiplier / rho), so the multiplier
        rho * U must stay as it is (Boyd et al., ADMM, section 3.4.1). Without it, doubling rho doubled the pull."""
        for n in self.u:
            self.u[n] *= self.rho / rho
        self.rho = rho

    @torch.no_grad()
    def residual(self, model: nn.Module) -> float:
        mods = dict(model.named_modules())
        num = sum(float(((mods[n].weight - self.z[n]) ** 2).sum()) for n in self.ranks)
        den = sum(float((mods[n].weight ** 2).sum()) for n in self.ranks)
        return math.sqrt(num / max(den, 1e-30))

    def state_dict(self):
        return {"ranks": self.ranks, "z": self.z, "u": self.u, "rho": self.rho, "tangent": self.tangent,
                "warmup": self.warmup, "active": self.active}

    @classmethod
    def from_state_dict(cls, d):
        return cls(dict(d["ranks"]), d["z"], d["u"], d["rho"], d.get("tangent", False), d.get("warmup", 0),
                   d.get("active"))


@torch.no_grad()
def constrained_norm(model: nn.Module, ranks: dict[str, tuple[int, int]]) -> float:
    """sqrt(sum ||W_i||^2) over the constrained convs (a Tucker layer's weight rebuilt from its factors). Why: each of
    them feeds a BatchNorm, so the loss ignores their scale while the ADMM penalty and weight decay shrink it, and a
    smaller norm raises the effective learning rate (lr / ||W||^2); the per-epoch log shows whether that happens."""
    mods = dict(model.named_modules())
    total = 0.0
    for n in ranks:
        m = mods[n]
        w = m.full_weight() if isinstance(m, TuckerConv2d) else m.weight
        total += float((w.double() ** 2).sum())
    return math.sqrt(total)


def to_tucker(model: nn.Module, ranks: dict[str, tuple[int, int]]) -> nn.Module:
    """Replace each constrained Conv2d by a TuckerConv2d holding its HOOI factors (in place)."""
    for name, (r_in, r_out) in ranks.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        conv = getattr(parent, child)
        w_in, core, w_out = tucker2_factors(conv.weight, r_in, r_out)
        setattr(parent, child, TuckerConv2d.from_factors(conv, w_in, core, w_out))
    return model
