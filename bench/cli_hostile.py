"""Hostile input against the CLI: every verb x its bad values, counted.

    .venv/bin/python bench/cli_hostile.py

Runs the table of tests/cli/bad_values.py (the one the test suite asserts)
and prints what bench/RESULTS.md reports: verbs, values tried, clean
one-line errors, tracebacks, anything else wrong, and the rows that failed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cli.bad_values import BAD, problems, run_all, verbs


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="yw-hostile-cli-") as work:
        outcomes = run_all(BAD, Path(work))
    seconds = time.monotonic() - started
    covered = {row.verb for row in BAD}
    clean = [o for o in outcomes if not problems(o)]
    tracebacks = [o for o in outcomes if "Traceback" in o.stderr]
    print(f"verbs in the app:          {len(verbs())} ({len(covered)} with rows)")
    print(f"bad values tried:          {len(outcomes)}")
    print(f"clean one-line errors:     {len(clean)}")
    print(f"  of which usage (exit 2): {sum(1 for o in clean if o.code == 2)}")
    print(f"tracebacks:                {len(tracebacks)}")
    print(f"other problems:            {len(outcomes) - len(clean) - len(tracebacks)}")
    print(f"wall time:                 {seconds:.0f} s (4 at a time)")
    for o in outcomes:
        if problems(o):
            print(f"  yunwang {' '.join(o.argv)}: {'; '.join(problems(o))}")
    return 0 if len(clean) == len(outcomes) and covered == set(verbs()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
