"""Loads `tucker_conv.json`, the single source of truth for the TuckerConv op.

The rewrite passes, the function fallback, the reference and (through tools/gen_op_header.py) the
C++ library all read names, input order and attributes from here, so they cannot drift apart.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class OpSpec:
    spec_version: int
    domain: str
    name: str
    since_version: int
    inputs: tuple[dict, ...]
    outputs: tuple[dict, ...]
    attributes: tuple[dict, ...]
    types: tuple[str, ...]
    max_kernel: int
    function_overloads: dict

    def input_index(self, name: str) -> int:
        return [i["name"] for i in self.inputs].index(name)

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    @property
    def required_inputs(self) -> list[str]:
        return [i["name"] for i in self.inputs if not i["optional"]]

    @property
    def attribute_names(self) -> list[str]:
        return [a["name"] for a in self.attributes]

    def default(self, attr: str) -> Any:
        return next(a["default"] for a in self.attributes if a["name"] == attr)

    @property
    def activations(self) -> list[str]:
        return next(a["values"] for a in self.attributes if a["name"] == "activation")

    def overload(self, activation: str, residual: bool) -> str:
        """The model-local function overload implementing this exact variant."""
        if activation not in self.activations:
            raise ValueError(f"activation must be one of {self.activations}, got {activation!r}")
        key = activation + ("+residual" if residual else "")
        return self.function_overloads[key]


def _load() -> OpSpec:
    raw = json.loads(resources.files(__package__).joinpath("tucker_conv.json").read_text())
    return OpSpec(
        spec_version=raw["spec_version"],
        domain=raw["domain"],
        name=raw["name"],
        since_version=raw["since_version"],
        inputs=tuple(raw["inputs"]),
        outputs=tuple(raw["outputs"]),
        attributes=tuple(raw["attributes"]),
        types=tuple(raw["types"]),
        max_kernel=raw["limits"]["max_kernel"],
        function_overloads=dict(raw["function_overloads"]),
    )


SPEC = _load()
