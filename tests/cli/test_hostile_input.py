"""No verb prints a traceback on bad input: exit code, one line on stderr, nothing created.

Every verb is enumerated from the Typer app, so a new verb fails here until
tests/cli/bad_values.py gives it rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.bad_values import BAD, Outcome, Row, problems, run_all, verbs

VERBS = verbs()
UNCOVERED = [v for v in VERBS if not any(row.verb == v for row in BAD)]
CASES = BAD + [Row(v, (), -1) for v in UNCOVERED]  # code -1: "add rows for this verb"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    # One process per row, a few at a time: the table costs seconds, not minutes.
    ran = run_all(BAD, tmp_path_factory.mktemp("hostile-cli"))
    return {o.row.id: o for o in ran}


@pytest.mark.parametrize("row", CASES, ids=[row.id for row in CASES])
def test_bad_value_is_one_clean_line(row: Row, outcomes: dict[str, Outcome]) -> None:
    if row in (Row(v, (), -1) for v in UNCOVERED):
        pytest.fail(f"`yunwang {' '.join(row.verb)}` has no rows in tests/cli/bad_values.py")
    outcome = outcomes[row.id]
    assert problems(outcome) == [], f"yunwang {' '.join(outcome.argv)}:\n{outcome.stderr}"


def test_every_row_names_a_verb_that_exists() -> None:
    stale = {" ".join(row.verb) for row in BAD} - {" ".join(v) for v in VERBS}
    assert not stale, f"rows for verbs the app no longer has: {sorted(stale)}"


def test_read_only_verbs_leave_a_mistyped_store_uncreated(
    outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    typo_rows = [o for o in outcomes.values() if "{typo}" in o.row.args]
    assert {o.row.verb for o in typo_rows} == {
        ("posture",),
        ("warnings",),
        ("events", "search"),
        ("audit", "verify"),
    }
    assert all("no event store here" in o.stderr and not o.typo_created for o in typo_rows)
