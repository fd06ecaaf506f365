"""Build estate texts for tests by editing the small example's data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from estate import Estate, EstateError, load_text

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
_BASE: dict[str, Any] = yaml.safe_load(SMALL.read_text(encoding="utf-8"))


def small_data() -> dict[str, Any]:
    return copy.deepcopy(_BASE)


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def mutated(edit: Callable[[dict[str, Any]], object]) -> str:
    data = small_data()
    edit(data)
    return dump(data)


def problems_of(text: str) -> list[str]:
    try:
        load_text(text, "t.yaml")
    except EstateError as exc:
        return [str(p) for p in exc.problems]
    raise AssertionError("expected the estate to be rejected")


def load_ok(text: str) -> Estate:
    return load_text(text, "t.yaml")


def node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = data["extranet"]["nodes"]
    for n in nodes:
        if n["id"] == node_id:
            return n
    raise KeyError(node_id)
