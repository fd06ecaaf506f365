"""The in-process sensor of two source trees on the same captures, alternating.

    git archive 4d3e587 | tar -x -C /tmp/base
    .venv/bin/python bench/packets_ab.py /tmp/base [--rounds 4] [--runs 3] [--workers N]
        [--alone] [--captures NAME ...]

For each capture bench/packets_mix.py built (both must be in
$YUNWANG_HOME/cache), a fresh process of the base tree and then one of this
tree each time `--runs` read + decode + every detection passes, `--rounds`
times; packets per CPU-second, medians and bests. Processes alternate so
the machine's load, which comes and goes, falls on both alike. With
`--workers N` a pass is the file sharded over N forked workers
(`parallel.sense_file`), and its rate is per CPU-second of the busiest one:
what N idle cores could give. With `--alone` (and N above 1) a pass is
only what each of N processes repeats, in process: reading the file and
assigning every frame for a process that owns none (`FileShare(N, N)`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ("bench-packets-mix-puyang-6000.pcap", "bench-packets-v2-puyang-8000.pcap")


def _child(tree: Path, pcap: Path, runs: int, workers: int, alone: bool) -> None:
    """In a fresh process whose path starts at `tree`: print one rate per run."""
    sys.path.insert(0, str(tree))
    from estate import load
    from monitors.packets import Sensor, read_capture
    from monitors.packets.parallel import sense_file
    from monitors.packets.policy_cache import policy_for
    from monitors.packets.sensor import settle_memory
    from monitors.packets.shards import FileShare

    policy = policy_for(tree / "examples" / "puyang.yaml", load)
    try:
        settle_memory(reading_file=True)  # as `yunwang sense --pcap` does
    except TypeError:  # a tree from before session 30 settles one way
        settle_memory()
    for _ in range(runs):
        if alone:
            seen = sum(1 for _ in read_capture(pcap))
            start = time.process_time()
            kept = sum(1 for _ in read_capture(pcap, FileShare(workers, workers)))
            print(seen / (time.process_time() - start), kept)  # kept: 0, it owns nothing
            continue
        if workers > 1:
            events, outcome = sense_file(lambda: Sensor(policy, observer="bench"), pcap, workers)
            print(outcome.stats.seen / max(outcome.cpu_s), len(events))
            continue
        start = time.process_time()
        sensor = Sensor(policy, observer="bench")
        sensor.feed_all(read_capture(pcap))
        sensor.close()
        print(sensor.stats.seen / (time.process_time() - start), len(sensor.events))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="an exported source tree to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--alone", action="store_true", help="time only reading and assigning")
    parser.add_argument(
        "--captures", nargs="+", default=list(CAPTURES),
        help="names of captures in $YUNWANG_HOME/cache (default: packets_mix.py's two)",
    )  # fmt: skip
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pcap", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.pcap, args.runs, args.workers, args.alone)
        return
    from estate.home import yunwang_home

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| capture | tree | packets/CPU-s median | best | events |")
    print("|---|---|---:|---:|---:|")
    for name in args.captures:
        pcap = yunwang_home() / "cache" / name
        rates: dict[str, list[float]] = {"base": [], "this": []}
        events: dict[str, set[str]] = {"base": set(), "this": set()}
        for _ in range(args.rounds):
            for label, tree in (("base", args.base.resolve()), ("this", ROOT)):
                out = subprocess.run(
                    [sys.executable, __file__, "x", "--child", str(tree), "--pcap", str(pcap),
                     "--runs", str(args.runs), "--workers", str(args.workers),
                     *(["--alone"] if args.alone else [])],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                for line in out.splitlines():
                    rate, count = line.split()
                    rates[label].append(float(rate))
                    events[label].add(count)
        for label in rates:
            print(f"| {name} | {label} | {statistics.median(rates[label]):,.0f} | "
                  f"{max(rates[label]):,.0f} | {', '.join(sorted(events[label]))} |")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
