"""Hostile input against the CLI: every verb x its bad values, counted.

    .venv/bin/python bench/cli_hostile.py

Runs the table of tests/cli/bad_values.py (the one the test suite asserts)
and prints what bench/RESULTS.md reports: verbs, values tried, clean
one-line errors, tracebacks, anything else wrong, and the rows that failed.

    .venv/bin/python bench/cli_hostile.py --cpu [--most 20]

runs the rows one at a time instead and prints the CPU seconds each
refusal cost (the `yunwang` process, start to exit), the costliest first,
and the table's total.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cli.bad_values import BAD, problems, run_all, verbs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="each row's CPU seconds, one at a time")
    parser.add_argument("--most", type=int, default=20, help="with --cpu: rows listed")
    args = parser.parse_args()
    if args.cpu:
        return _cpu(args.most)
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


def _cpu(most: int) -> int:
    costs = []
    with tempfile.TemporaryDirectory(prefix="yw-hostile-cli-") as work:
        for number, row in enumerate(BAD):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run_all([row], Path(work) / str(number), workers=1)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            costs.append((spent, row.id))
    costs.sort(reverse=True)
    print(f"{len(costs)} rows, {sum(c for c, _ in costs):.1f} CPU-s in all; the costliest:")
    for spent, row_id in costs[:most]:
        print(f"  {spent:5.2f}  yunwang {row_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
