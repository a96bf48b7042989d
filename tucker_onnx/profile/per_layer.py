"""Per-layer time, measured where the work runs.

CUDA: each node is cut out as a one-node ONNX graph on its real input shapes and timed on the same provider and
options (IOBinding, CUDA graphs), minus the cost of an empty Run: ORT's node profile would time kernel launches.
CPU: ORT's own node profile, whose events do time execution, taken inside real runs of the whole model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from ..errors import TuckerOnnxError
from ..op import SPEC
from .timing import measure, open_session

@dataclass
class LayerTime:
    name: str
    op: str
    shape: str
    ranks: str
    ms: float
    share: float = 0.0


def _value_infos(model: onnx.ModelProto, batch: int) -> dict[str, tuple[int, list[int]]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        dims = []
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            elif i == 0:
                dims.append(batch)
            else:
                dims = None
                break
        if dims is not None and tt.elem_type:
            out[vi.name] = (tt.elem_type, dims)
    return out


def isolate(model: onnx.ModelProto, node: onnx.NodeProto, infos: dict, inits: dict) -> onnx.ModelProto:
    """A model holding only `node`: constant inputs stay initializers, the rest become graph inputs."""
    g_in, g_init = [], []
    for name in node.input:
        if not name:
            continue
        if name in inits:
            g_init.append(inits[name])
        elif name in infos:
            et, dims = infos[name]
            g_in.append(helper.make_tensor_value_info(name, et, dims))
        else:
            raise TuckerOnnxError(f"node {node.name}: shape of input {name!r} unknown (static spatial sizes needed)")
    g_out = []
    for name in node.output:
        if name in infos:
            et, dims = infos[name]
            g_out.append(helper.make_tensor_value_info(name, et, dims))
        else:
            g_out.append(helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None))
    g = helper.make_graph([node], "one_node", g_in, g_out, g_init)
    funcs = [f for f in model.functions if f.domain == node.domain and f.name == node.op_type]
    m = helper.make_model(g, opset_imports=list(model.opset_import), functions=funcs, ir_version=model.ir_version)
    return m


def _feeds(m: onnx.ModelProto, rng) -> dict:
    feeds = {}
    for vi in m.graph.input:
        tt = vi.type.tensor_type
        dims = [d.dim_value for d in tt.shape.dim]
        dt = helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else np.dtype(np.float32)
        feeds[vi.name] = rng.standard_normal(dims).astype(dt) if np.issubdtype(dt, np.floating) else np.zeros(dims, dt)
    return feeds


def empty_run_ms(provider: str, warmup: int, repeats: int, cuda_graph: bool, threads: int = 0) -> float:
    """The cost of a Run that does (almost) nothing: subtracted from each isolated node's time."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "empty", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = open_session(m, provider, library=False, cuda_graph=cuda_graph, threads=threads)
    return measure(sess, {"x": np.ones(1, np.float32)}, warmup, repeats, provider).median_ms


def _describe(node, infos, inits) -> tuple[str, str]:
    shape, ranks = "", ""
    if node.op_type in ("Conv", SPEC.name):
        x = infos.get(node.input[0], (0, []))[1]
        if node.op_type == "Conv" and node.input[1] in inits:
            w = inits[node.input[1]].dims
            shape = f"{w[1]}->{w[0]} k{w[2]}x{w[3]} @{x[2]}x{x[3]}" if len(x) == 4 and len(w) == 4 else ""
        elif node.op_type == SPEC.name:
            wi, wc, wo = (inits[n].dims if n in inits else None for n in node.input[1:4])
            if wi and wc and wo and len(x) == 4:
                shape = f"{wi[1]}->{wo[0]} k{wc[2]}x{wc[3]} @{x[2]}x{x[3]}"
                ranks = f"{wi[0]},{wc[0]}"
    return shape, ranks


def cpu_node_profile(model: onnx.ModelProto, batch: int = 1, warmup: int = 5, repeats: int = 20,
                     library: bool = True, threads: int = 0) -> list[LayerTime]:
    """Median per-node kernel time over `repeats` runs of the whole model, from ORT's profiler (CPU provider)."""
    import json
    import os
    import tempfile

    import onnxruntime as ort

    from ..run.check import random_inputs
    from ..run.session import make_session
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    feeds = random_inputs(model, 0, batch)
    tmpdir = tempfile.mkdtemp(prefix="tucker_prof_")
    # warm-up in a separate session so the profile holds only steady-state runs
    warm = make_session(model, library=library, session_options=so)
    for _ in range(warmup):
        warm.run(None, feeds)
    so2 = ort.SessionOptions()
    if threads:
        so2.intra_op_num_threads = threads
    so2.enable_profiling = True
    so2.profile_file_prefix = os.path.join(tmpdir, "p")
    sess = make_session(model, library=library, session_options=so2)
    for _ in range(repeats + 1):
        sess.run(None, feeds)
    path = sess.end_profiling()
    events = json.load(open(path))
    os.unlink(path)
    os.rmdir(tmpdir)
    per: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            name = e["name"][: -len("_kernel_time")]
            per.setdefault(name, []).append(e["dur"] / 1e3)
            ops[name] = e.get("args", {}).get("op_name", "")
    infos = _value_infos(model, batch)
    inits = {t.name: t for t in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    rows = []
    for name, ts in per.items():
        ts = ts[-repeats:]  # the first run of the profiled session may still allocate
        node = by_name.get(name)
        shape, ranks = _describe(node, infos, inits) if node is not None else ("", "")
        rows.append(LayerTime(name, ops[name] if node is None else node.op_type, shape, ranks, float(np.median(ts))))
    total = sum(r.ms for r in rows) or 1.0
    for r in rows:
        r.share = r.ms / total
    return rows


def layer_times(model: onnx.ModelProto, provider: str = "cpu", batch: int = 1, warmup: int = 5, repeats: int = 20,
                cuda_graph: bool = False, progress: bool = False, library: bool = True, threads: int = 0) -> list[LayerTime]:
    if provider == "cpu":
        return cpu_node_profile(model, batch, warmup, repeats, library, threads)
    infos = _value_infos(model, batch)
    inits = {t.name: t for t in model.graph.initializer}
    base = empty_run_ms(provider, warmup, repeats, cuda_graph, threads)
    rng = np.random.default_rng(0)
    rows = []
    nodes = list(model.graph.node)
    it = nodes
    if progress:
        from tqdm import tqdm
        it = tqdm(nodes, desc="per-layer", unit="node", leave=False, disable=None)
    for node in it:
        if node.op_type in ("Constant", "Identity", "Shape"):
            continue
        m = isolate(model, node, infos, inits)
        sess = open_session(m, provider, library=library, cuda_graph=cuda_graph, threads=threads)
        t = measure(sess, _feeds(m, rng), warmup, repeats, provider).median_ms
        del sess  # one session open at a time
        shape, ranks = _describe(node, infos, inits)
        rows.append(LayerTime(node.name or node.output[0], node.op_type, shape, ranks, max(t - base, 0.0)))
    total = sum(r.ms for r in rows) or 1.0
    for r in rows:
        r.share = r.ms / total
    return rows
