"""Ad hoc (session 26): the fused graph as the rewrite wrote it before the shortcut-bias fold, from the fused and
unfused graphs. Usage: python tools/_mk_nofold.py fused.onnx unfused.onnx out.onnx"""
import sys
import numpy as np
import onnx
from onnx import numpy_helper

fused, unfused, out = (sys.argv[1], sys.argv[2], sys.argv[3])
f, u = onnx.load(fused), onnx.load(unfused)
uconv = {n.name: n for n in u.graph.node if n.op_type == "Conv"}
uinit = {i.name: i for i in u.graph.initializer}
finit = {i.name: i for i in f.graph.initializer}
consumer = {i: n for n in f.graph.node for i in n.input}
k = 0
for n in f.graph.node:
    if n.op_type == "Conv" and len(n.input) == 2 and len(uconv.get(n.name, n).input) == 3:
        b = uinit[uconv[n.name].input[2]]
        f.graph.initializer.append(b)
        n.input.append(b.name)
        tc = consumer[n.output[0]]
        fb = finit[tc.input[4]]
        v = numpy_helper.to_array(fb).astype(np.float64) - numpy_helper.to_array(b).astype(np.float64)
        fb.CopyFrom(numpy_helper.from_array(v.astype(numpy_helper.to_array(fb).dtype), fb.name))
        k += 1
print(f"restored {k} shortcut biases")
onnx.save(f, out)
