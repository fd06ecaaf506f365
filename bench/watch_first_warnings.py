"""How long a newcomer waits, after `yunwang watch` starts, for each kind of warning.

    .venv/bin/python bench/watch_first_warnings.py --runs 3

Goal (issue 6): real warnings within a minute of `make run`, without root or
a server. Times are from the start of `Watch` (simulator launch included)
to the first time each rule has an open warning; medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from yunwang.watch_job import Watch, WatchOptions

WANTED = ("YW-LINK-001", "YW-LINK-003", "YW-NET-001", "YW-NET-002", "YW-NET-004", "YW-NET-005")


def one_run(interval: float, limit: float) -> dict[str, float]:
    started = time.monotonic()
    seen: dict[str, float] = {}
    with Watch(WatchOptions(interval_s=interval, metrics_port=0)) as watch:
        seen["simulator answering"] = time.monotonic() - started

        def note() -> None:
            for warning in watch.summary().warnings:
                seen.setdefault(warning["rule"], time.monotonic() - started)

        watch.run(started + limit, note, done=lambda: all(r in seen for r in WANTED))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--interval", type=float, default=5.0, help="poll interval (the demo's default)"
    )
    parser.add_argument("--limit", type=float, default=120.0)
    args = parser.parse_args()
    results: list[dict[str, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            os.environ["YUNWANG_HOME"] = home
            results.append(one_run(args.interval, args.limit))
    print(f"{'what':<22} {'median s':>9}  runs")
    for key in ("simulator answering", *WANTED):
        values = [r[key] for r in results if key in r]
        shown = " ".join(f"{v:.1f}" for v in values)
        median = f"{statistics.median(values):.1f}" if values else "never"
        print(f"{key:<22} {median:>9}  {shown} ({len(values)}/{len(results)})")


if __name__ == "__main__":
    main()
