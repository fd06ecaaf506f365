"""Mutated estate files never produce a traceback: only clean problem lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estate import EstateError, load_text
from tests.estate.helpers import SMALL

TEXT = SMALL.read_text(encoding="utf-8")
LINES = TEXT.splitlines()
PROBLEM = re.compile(r"^t\.yaml(:\d+)?: .+: .+$")
JUNK = st.sampled_from(
    [
        "",
        "  ",
        ":",
        "- ",
        "{",
        "]",
        "&a",
        "*a",
        "!!python/object:os.system",
        "~",
        "0x1F",
        "9999999999999999999",
        "'",
        '"',
        "\t",
        "…",
        "null",
        "[]",
        "{}",
        "yes",
    ]
)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(
            st.sampled_from(["delete", "duplicate", "insert", "truncate", "indent", "swap"])
        )
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "insert":
            lines[i] = lines[i] + draw(JUNK)
        elif action == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, max(0, len(lines[i]) - 1)))]
        elif action == "indent":
            lines[i] = "  " + lines[i]
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            break
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_yaml_gives_clean_problems(text: str) -> None:
    try:
        load_text(text, "t.yaml")
    except EstateError as exc:
        assert exc.problems
        for problem in exc.problems:
            line = str(problem)
            assert "\n" not in line and PROBLEM.match(line), line


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_give_clean_problems(blob: bytes) -> None:
    text = blob.decode("utf-8", errors="replace")
    try:
        load_text(text, "t.yaml")
    except EstateError as exc:
        assert all(PROBLEM.match(str(p)) for p in exc.problems)


def test_cli_prints_no_traceback_for_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEXT.replace("mlps_level: 3", "mlps_level: high", 1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "yunwang", "validate", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"{broken}:") and "mlps_level" in line
