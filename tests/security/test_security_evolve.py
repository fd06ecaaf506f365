"""`evolve` copies a frozen dataclass exactly as `dataclasses.replace` does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sec_helpers import make_event

from security.engine import WarningBook
from security.events import Context
from security.evolve import evolve
from security.rulebook import load_rules


@dataclass(frozen=True)
class _One:
    value: int


@dataclass(frozen=True)
class _Derived:
    value: int
    name: str = "a"
    cached: int = field(default=0, init=False)  # not an init field: never copied


def test_evolve_matches_replace_on_events_and_warnings() -> None:
    event = make_event(5, pair="c1", node="c1", level="county", state="failover", county="c1")
    changed = {"context": Context(county="c2"), "labels": (("k", "v"),)}
    assert evolve(event, **changed) == dataclasses.replace(event, **changed)
    assert evolve(event) == dataclasses.replace(event)
    [change] = WarningBook(load_rules()).observe(event)
    warning = change.warning
    assert evolve(warning, count=7) == dataclasses.replace(warning, count=7)


def test_evolve_of_one_field_and_of_init_false_fields() -> None:
    assert evolve(_One(1), value=2) == _One(2)
    assert evolve(_One(3)) == _One(3)
    copied = evolve(_Derived(1, "b"), name="c")
    assert (copied.value, copied.name, copied.cached) == (1, "c", 0)
