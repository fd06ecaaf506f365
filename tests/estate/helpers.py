"""Build estate texts for tests by editing the small example's data."""

from __future__ import annotations

import copy
import re
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


Edit = Callable[[dict[str, Any]], object]

LINE = re.compile(r"^t\.yaml:\d+: \S+: .+$")


def set_at(path: list[Any], value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def delete_at(path: list[Any]) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def add_node(spec: dict[str, Any]) -> Edit:
    return lambda data: data["extranet"]["nodes"].append(spec)


def drop_backup(node_id: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        n = node(data, node_id)
        n["uplinks"] = [u for u in n["uplinks"] if u["role"] != "backup"]

    return edit


def drop_primary(node_id: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        n = node(data, node_id)
        n["uplinks"] = [u for u in n["uplinks"] if u["role"] != "primary"]

    return edit


def assert_one_precise_line(edit: Edit, path: str, message: str) -> None:
    """The estate `edit` makes is refused, each problem in one line, one of
    them at `path` saying `message`."""
    problems = problems_of(mutated(edit))
    assert all(LINE.match(p) for p in problems), problems
    assert any(f": {path}:" in p and message in p for p in problems), problems
