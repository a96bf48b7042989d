"""Finds Conv1x1 -> ConvKxK -> Conv1x1 chains and the epilogue (BN, residual Add, Relu) that can fold in.

Each rejected chain carries the reason it was not fused, for `rewrite --dry-run`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from ..graph import conv_attrs, is_graph_output, plain_conv_problem
from ..op import SPEC


@dataclass
class Candidate:
    first: gs.Node
    core: gs.Node
    last: gs.Node | None
    fused: bool
    reason: str = ""
    bn: gs.Node | None = None
    add: gs.Node | None = None
    residual: gs.Tensor | None = None
    relu: gs.Node | None = None
    shortcut: gs.Node | None = None  # a Conv with a constant bias that produces the residual for this Add only
    notes: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[gs.Node]:
        return [n for n in (self.first, self.core, self.last, self.bn, self.add, self.relu) if n is not None]

    def describe(self) -> str:
        chain = " -> ".join(n.name for n in (self.first, self.core, self.last) if n is not None)
        if not self.fused:
            return f"{chain}: not fused because {self.reason}"
        extra = [x for x, n in (("BatchNormalization", self.bn), ("Add(residual)", self.add), ("Relu", self.relu)) if n is not None]
        return f"{chain}: fused" + (f" with {' + '.join(extra)}" if extra else "") + ("" if not self.notes else f" ({'; '.join(self.notes)})")


def _single_consumer(graph: gs.Graph, t: gs.Tensor) -> gs.Node | None:
    if is_graph_output(graph, t) or len(t.outputs) != 1:
        return None
    return t.outputs[0]


def _bias_conv_feeding(graph: gs.Graph, t: gs.Tensor, add: gs.Node) -> gs.Node | None:
    """The Conv producing `t` when it has a constant bias and `add` is its only consumer (a ResNet downsample
    shortcut): its bias can move into the fused op's bias, so that the Conv runs without one."""
    if len(t.inputs) != 1 or _single_consumer(graph, t) is not add:
        return None
    conv = t.inputs[0]
    if conv.op != "Conv" or len(conv.inputs) != 3 or not isinstance(conv.inputs[2], gs.Constant):
        return None
    return conv if conv.inputs[2].values.ndim == 1 else None


def _pointwise_problem(node: gs.Node, role: str) -> str | None:
    problem = plain_conv_problem(node)
    if problem is not None:
        return f"{role} conv {node.name}: {problem}"
    w = node.inputs[1]
    a = conv_attrs(node, w.values)
    if tuple(w.values.shape[2:]) != (1, 1):
        return f"{role} conv {node.name} is not 1x1"
    if a["strides"] != [1, 1] or a["dilations"] != [1, 1] or any(a["pads"]):
        return f"{role} conv {node.name} has stride/dilation/padding"
    return None


def _core_problem(node: gs.Node) -> str | None:
    problem = plain_conv_problem(node)
    if problem is not None:
        return f"core conv {node.name}: {problem}"
    w = node.inputs[1]
    if max(w.values.shape[2:]) > SPEC.max_kernel:
        return f"core conv {node.name} kernel {w.values.shape[2]}x{w.values.shape[3]} exceeds {SPEC.max_kernel}"
    if len(node.inputs) > 2 and not isinstance(node.inputs[2], gs.Constant):
        return f"core conv {node.name} has a non-constant bias"
    return None


def _constant_bn(node: gs.Node) -> bool:
    return (node.op == "BatchNormalization" and len(node.outputs) == 1
            and all(isinstance(t, gs.Constant) for t in node.inputs[1:5]))


def _same_shape(a: gs.Tensor, b: gs.Tensor) -> bool:
    sa, sb = getattr(a, "shape", None), getattr(b, "shape", None)
    return sa is not None and sb is not None and len(sa) == 4 and list(sa) == list(sb)


def find_candidates(graph: gs.Graph) -> list[Candidate]:
    """Every chain starting at a Conv whose output feeds exactly one Conv that feeds exactly one Conv."""
    out: list[Candidate] = []
    used: set[int] = set()
    for first in graph.nodes:
        if first.op != "Conv" or id(first) in used:
            continue
        core = _single_consumer(graph, first.outputs[0])
        if core is None or core.op != "Conv" or core.inputs[0] is not first.outputs[0]:
            continue
        last = _single_consumer(graph, core.outputs[0])
        if last is None or last.op != "Conv" or last.inputs[0] is not core.outputs[0]:
            continue
        if id(core) in used or id(last) in used:
            continue
        # From here on we have the shape of a triplet: report why it fails if it does.
        w0 = first.inputs[1] if len(first.inputs) > 1 else None
        if isinstance(w0, gs.Constant) and w0.values.ndim == 4 and w0.values.shape[2:] != (1, 1):
            continue  # a chain headed by a KxK conv is not a Tucker triplet; stay quiet
        cand = Candidate(first, core, last, fused=False)
        problem = (_pointwise_problem(first, "first") or _core_problem(core) or _pointwise_problem(last, "last"))
        if problem is None and len(first.inputs) > 2:
            problem = f"first conv {first.name} has a bias (not foldable exactly through a padded core conv)"
        if problem is None:
            dts = {t.dtype for t in (first.inputs[1], core.inputs[1], last.inputs[1])}
            if len(dts) != 1 or np.dtype(next(iter(dts))) not in (np.float32, np.float16):
                problem = f"weights must all be float32 or all float16, got {sorted(str(d) for d in dts)}"
        if problem is not None:
            cand.reason = problem
            out.append(cand)
            continue
        if len(core.inputs) > 2:
            cand.notes.append("core bias folded into the output bias")
        cand.fused = True
        tail = last.outputs[0]
        nxt = _single_consumer(graph, tail)
        if nxt is not None and _constant_bn(nxt):
            cand.bn, tail = nxt, nxt.outputs[0]
            nxt = _single_consumer(graph, tail)
        if nxt is not None and nxt.op == "Add" and len(nxt.inputs) == 2 and id(nxt) in used:
            # two triplets summed by one Add (parallel branches): the first one fused takes it
            cand.notes.append("Add not folded: another fused chain takes it")
            nxt = None
        if nxt is not None and nxt.op == "Add" and len(nxt.inputs) == 2:
            other = nxt.inputs[1] if nxt.inputs[0] is tail else nxt.inputs[0]
            if isinstance(other, gs.Variable) and other is not tail and _same_shape(other, tail):
                cand.add, cand.residual, tail = nxt, other, nxt.outputs[0]
                cand.shortcut = _bias_conv_feeding(graph, other, nxt)
                nxt = _single_consumer(graph, tail)
            elif isinstance(other, gs.Variable):
                cand.notes.append("Add not folded: residual shape unknown or broadcast")
        if nxt is not None and nxt.op == "Relu":
            cand.relu = nxt
        for n in cand.nodes:
            used.add(id(n))
        out.append(cand)
    # A shortcut conv that is itself part of a fused chain (the other branch's last conv) keeps its bias: that
    # chain's own fold reads it.
    for c in out:
        if c.shortcut is not None and id(c.shortcut) in used:
            c.shortcut = None
        if c.shortcut is not None:
            c.notes.append(f"bias of shortcut conv {c.shortcut.name} folded into the output bias")
    return out
