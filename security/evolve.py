"""A changed copy of a frozen dataclass, at a fraction of `dataclasses.replace`'s cost.

`replace` walks `fields()` in Python for every copy: it was the largest
single cost of grading (a third of the graded path's CPU in a cProfile,
bench/RESULTS.md, issue 12), paid for every event enrichment labels and
every repeat that updates a warning. Here the field names are looked up
once per class and read in one C call.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T")
_READERS: dict[type, tuple[tuple[str, ...], attrgetter[Any]]] = {}


def evolve(obj: T, **changes: Any) -> T:
    """Like `dataclasses.replace(obj, **changes)`: init=False fields are not copied."""
    cls = type(obj)
    reader = _READERS.get(cls)
    if reader is None:
        names = tuple(f.name for f in fields(cls) if f.init)  # type: ignore[arg-type]
        reader = _READERS[cls] = (names, attrgetter(*names))
    names, read = reader
    got = read(obj)
    # attrgetter of one name gives the value itself, of several a tuple.
    values = dict(zip(names, got if len(names) > 1 else (got,), strict=True))
    values.update(changes)
    return cls(**values)
