"""A capture file on 1 and N sensor processes: what sharding gives on N cores.

    .venv/bin/python bench/packets_shards.py [--workers 2] [--rounds 11]
        [--estate examples/puyang.yaml] [--pcap FILE ...]

The captures: bench/packets_mix.py's two (its varied mix and
bench/packets_bench.py's), a larger varied capture with other connections
and seed than either (built once, cached in $YUNWANG_HOME/cache, not tuned
on), and any `--pcap` given. For each, rounds alternate
`parallel.sense_file` on 1 forked worker and on --workers forked workers, the
same machinery on both sides (a worker starts from a fork of this process,
with the policy loaded and memory settled as `yunwang sense` does). Printed,
medians: the busiest worker's CPU seconds against the one worker's (the
most N idle cores could give), the same ratio taken round by round, and the
wall-clock ratio; also each worker's share of the frames. The load average
is printed before and after: the machine is shared and its speed wanders,
so only ratios from the same run mean much.

Also summed: every worker's CPU seconds S, against the one worker's W:
what sharing the file adds, all of it (each worker reading and assigning
the whole file, its start and close, and whatever else two processes
sensing halves cost beyond one sensing all). No balance of the shares can
beat N * W / S on N cores: the "ceiling" column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.packets_bench import build_capture as build_bench_capture  # noqa: E402
from bench.packets_mix import build_capture as build_mix_capture  # noqa: E402
from estate import load  # noqa: E402
from monitors.packets import Sensor, SensorPolicy, compiled, read_capture  # noqa: E402
from monitors.packets.parallel import sense_file  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402


class Round(NamedTuple):
    busiest: float  # CPU seconds of the busiest worker
    total: float  # CPU seconds of all workers
    wall: float
    shares: list[int]  # frames each worker sensed


def _one_round(policy: SensorPolicy, pcap: Path, workers: int) -> Round:
    start = time.perf_counter()
    _, outcome = sense_file(lambda: Sensor(policy, observer="bench"), pcap, workers)
    wall = time.perf_counter() - start
    return Round(max(outcome.cpu_s), sum(outcome.cpu_s), wall, outcome.shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--untuned-connections", type=int, default=20000)
    parser.add_argument("--pcap", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    estate = load(args.estate)
    captures = [
        build_mix_capture(args.estate, 6000),
        build_bench_capture(estate, args.estate, 8000),
        # Not tuned on: a seed and sizes no earlier run measured.
        build_mix_capture(args.estate, args.untuned_connections, seed=2026, name="untuned"),
        *args.pcap,
    ]
    policy = policy_for(args.estate, lambda path: estate)
    settle_memory(reading_file=True)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"sensor: {'compiled' if compiled.in_use() else 'interpreted'}; {args.rounds} rounds")
    n = args.workers
    print(f"| capture | frames | 1 worker CPU-s | busiest of {n} CPU-s | ratio | "
          f"round by round | wall ratio | all {n} CPU-s | ceiling | frames per worker |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for pcap in captures:
        frames = sum(1 for _ in read_capture(pcap))
        one: list[Round] = []
        many: list[Round] = []
        for _ in range(args.rounds):
            one.append(_one_round(policy, pcap, 1))
            many.append(_one_round(policy, pcap, n))
        cpu1 = statistics.median(r.busiest for r in one)
        cpun = statistics.median(r.busiest for r in many)
        paired = statistics.median(a.busiest / b.busiest for a, b in zip(one, many, strict=True))
        wall = statistics.median(r.wall for r in one) / statistics.median(r.wall for r in many)
        total = statistics.median(r.total for r in many)
        ceiling = statistics.median(n * a.busiest / b.total for a, b in zip(one, many, strict=True))
        shares = ", ".join(str(s) for s in many[0].shares)
        print(f"| {pcap.name} | {frames:,} | {cpu1:.3f} | {cpun:.3f} | {cpu1 / cpun:.2f} | "
              f"{paired:.2f} | {wall:.2f} | {total:.3f} | {ceiling:.2f} | {shares} |")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
