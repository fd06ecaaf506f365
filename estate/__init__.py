"""The declared estate: one model of the city that every room reads.

from estate import load
city = load("examples/small.yaml")
for pair in city.link_pairs(level="county"):
    ...

The names below are imported on first use (PEP 562): `estate.home` and
`estate.prefixes` are needed by the packet sensor's start-up, which must
not pay for pydantic and the loader when its compiled policy is cached.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from estate.errors import EstateError, Problem
    from estate.loader import load, load_text
    from estate.model import (
        Device,
        Estate,
        Link,
        LinkEnd,
        LinkPair,
        Node,
        Sensor,
        Zone,
    )
    from estate.names import UnknownName

_HOMES = {
    "EstateError": "estate.errors",
    "Problem": "estate.errors",
    "load": "estate.loader",
    "load_text": "estate.loader",
    "Device": "estate.model",
    "Estate": "estate.model",
    "Link": "estate.model",
    "LinkEnd": "estate.model",
    "LinkPair": "estate.model",
    "Node": "estate.model",
    "Sensor": "estate.model",
    "UnknownName": "estate.names",
    "Zone": "estate.model",
}

__all__ = [
    "Device",
    "Estate",
    "EstateError",
    "Link",
    "LinkEnd",
    "LinkPair",
    "Node",
    "Problem",
    "Sensor",
    "UnknownName",
    "Zone",
    "load",
    "load_text",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'estate' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
