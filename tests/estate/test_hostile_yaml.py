"""YAML that PyYAML composes but cannot turn into values, or that expands without
bound: each must end as one short problem line, never a traceback or a hang."""

from __future__ import annotations

import pytest
import yaml

from estate import source
from tests.estate.helpers import SMALL, problems_of

PUYANG = SMALL.with_name("puyang.yaml")
# Nine aliases of nine aliases ... nine levels deep: 9**9 (387 million) values from 300 bytes.
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: 2001-02-30\n", "x: expected a valid timestamp, found '2001-02-30' (day is out of"),
        ("city: 2020-01-01 25:61:61\n", "city: expected a valid timestamp, found '2020-01-01 25"),
        ("city: !!timestamp 2020-13-45\n", "(month must be in 1..12)"),
        ("city: !!int abc\n", "city: expected a valid int, found 'abc'"),
        ("city: !!float abc\n", "city: expected a valid float, found 'abc'"),
        ("city: !!bool maybe\n", "city: expected a valid bool, found 'maybe'"),
        ("city: " + "9" * 100_000 + "\n", "city: expected a valid int, found '9999"),
        ("city: {name: x, code: 0x" + "f" * 5000 + "}\n", "found an integer of 20000 bits"),
    ],
)
def test_unconvertible_scalars_give_one_short_line(text: str, message: str) -> None:
    problems = problems_of(text)  # with the other sections missing, not always the only one
    assert any(p.startswith("t.yaml:1: ") and message in p for p in problems), problems
    assert all(len(p) < 300 for p in problems), problems  # a huge value is not echoed in full


def test_a_recursive_alias_is_one_line() -> None:
    (problem,) = problems_of("city: &a [*a]\n")
    assert problem == ("t.yaml:1: city[0]: an alias refers to a value that contains it (recursive)")


def test_nesting_is_bounded() -> None:
    depth = source.MAX_DEPTH + 20
    (problem,) = problems_of("x: " + "[" * depth + "]" * depth + "\n")
    assert f"nested more than {source.MAX_DEPTH} levels deep" in problem, problem


def test_an_alias_bomb_stops_at_the_value_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small budget makes this fast by construction: building stops after
    # 1,000 values, however far the aliases would expand.
    monkeypatch.setattr(source, "MAX_VALUES", 1_000)
    (problem,) = problems_of(BOMB)
    assert "more than 1,000 values once aliases are expanded (an alias bomb?)" in problem, problem


def test_the_value_budget_leaves_room_for_a_real_city() -> None:
    node = yaml.compose(PUYANG.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    count, todo = 0, [node]
    while todo:
        current = todo.pop()
        count += 1
        if isinstance(current, yaml.MappingNode):
            todo.extend(value for _, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            todo.extend(current.value)
    assert count > 1_000
    assert count * 100 <= source.MAX_VALUES
