"""The op spec is the single source of truth: the C++ header is generated from it, the functions follow it."""
import subprocess
import sys
from pathlib import Path

import pytest

from tucker_onnx.op import SPEC
from tucker_onnx.op.function import build_function

ROOT = Path(__file__).resolve().parent.parent


def test_generated_header_is_fresh():
    r = subprocess.run([sys.executable, str(ROOT / "tools/gen_op_header.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_header_carries_the_spec():
    text = (ROOT / "custom_ops/include/tucker_conv_spec.h").read_text()
    assert f'kDomain = "{SPEC.domain}"' in text and f'kOpName = "{SPEC.name}"' in text
    assert f"kSpecVersion = {SPEC.spec_version}" in text
    for i, name in enumerate(SPEC.input_names):
        assert f"kInput{name.replace('_', '')} = {i};" in text
    for a in SPEC.attribute_names:
        assert f'"{a}"' in text


@pytest.mark.parametrize("activation", SPEC.activations)
@pytest.mark.parametrize("residual", [False, True])
def test_function_variants_follow_the_spec(activation, residual):
    f = build_function(activation, residual, 17)
    assert (f.domain, f.name, f.overload) == (SPEC.domain, SPEC.name, SPEC.overload(activation, residual))
    assert list(f.input) == SPEC.input_names[: 6 if residual else 5]
    assert list(f.attribute) == SPEC.attribute_names
    ops = [n.op_type for n in f.node]
    assert ops[:3] == ["Conv", "Conv", "Conv"]
    assert ("Add" in ops) == residual and ("Relu" in ops) == (activation == "relu")
    assert len({SPEC.overload(a, r) for a in SPEC.activations for r in (False, True)}) == 4


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        SPEC.overload("gelu", False)
