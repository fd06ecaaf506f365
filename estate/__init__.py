"""The declared estate: one model of the city that every room reads.

from estate import load
city = load("examples/small.yaml")
for pair in city.link_pairs(level="county"):
    ...
"""

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
    UnknownName,
    Zone,
)

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
