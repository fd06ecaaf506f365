"""A capture file on 1 and N sensor processes: what sharding gives on N cores.

    .venv/bin/python bench/packets_shards.py [--workers 2] [--rounds 11]
        [--estate examples/puyang.yaml] [--pcap FILE ...]

The captures: bench/packets_mix.py's two (its varied mix and
bench/packets_bench.py's), a larger varied capture with other connections
and seed than either (built once, cached in $YUNWANG_HOME/cache, not tuned
on), and any `--pcap` given. For each, rounds alternate
`parallel.sense_file` on 1 forked worker and on --workers forked workers, the
same machinery on both sides (a worker starts from a fork of a process
with the policy loaded and memory settled as `yunwang sense` does). Printed,
medians: the busiest worker's CPU seconds against the one worker's (the
most N idle cores could give), the same ratio taken round by round, and the
wall-clock ratio; also each worker's share of the frames and of the CPU. The load average
is printed before and after: the machine is shared and its speed wanders,
so only ratios from the same run mean much.

Each round runs in a fresh interpreter holding what `yunwang sense` holds
when it forks: its modules, the policy from the estate's cache and one
sensor, not the estate model, the capture builders nor earlier rounds'
events. A worker's copy-on-write faults come from its parent's heap: in a
parent that had built the captures, the holes left all through it were
filled by each worker's first objects: 1.7 times the faults the
command's workers take, and a ratio below the command's (bench/RESULTS.md).

Also summed: every worker's CPU seconds S, against the one worker's W:
what sharing the file adds, all of it (each worker reading and assigning
the whole file, its start and close, and whatever else two processes
sensing halves cost beyond one sensing all). No balance of the shares can
beat N * W / S on N cores: the "ceiling" column.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# What the command imports before it forks; the estate model and the
# capture builders only where the captures are built (`_build`).
import yunwang.commands.sense  # noqa: E402, F401
from monitors.packets import Sensor, compiled  # noqa: E402
from monitors.packets.parallel import sense_file  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402
from yunwang.console import load_estate  # noqa: E402


class Round(NamedTuple):
    busiest: float  # CPU seconds of the busiest worker
    total: float  # CPU seconds of all workers
    wall: float
    shares: list[int]  # frames each worker sensed
    cpu: list[float]  # CPU seconds of each worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--untuned-connections", type=int, default=20000)
    parser.add_argument("--pcap", type=Path, nargs="*", default=[])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(_measure(args.estate, args.measure, args.workers)._asdict()))
        return
    captures = [*_build(args.estate, args.untuned_connections), *args.pcap]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"sensor: {'compiled' if compiled.in_use() else 'interpreted'}; {args.rounds} rounds")
    n = args.workers
    print(f"| capture | frames | 1 worker CPU-s | busiest of {n} CPU-s | ratio | "
          f"round by round | wall ratio | all {n} CPU-s | ceiling | frames per worker | "
          f"CPU share of each worker |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for pcap in captures:
        one: list[Round] = []
        many: list[Round] = []
        for _ in range(args.rounds):
            one.append(_round(args.estate, pcap, 1))
            many.append(_round(args.estate, pcap, n))
        cpu1 = statistics.median(r.busiest for r in one)
        cpun = statistics.median(r.busiest for r in many)
        paired = statistics.median(a.busiest / b.busiest for a, b in zip(one, many, strict=True))
        wall = statistics.median(r.wall for r in one) / statistics.median(r.wall for r in many)
        total = statistics.median(r.total for r in many)
        ceiling = statistics.median(n * a.busiest / b.total for a, b in zip(one, many, strict=True))
        shares = ", ".join(str(s) for s in many[0].shares)
        # Each worker's part of all the workers' CPU, round by round: what
        # the frames per worker do not say (a frame of a new flow, or one
        # only process 0 decodes, costs several of an established flow's).
        cpu_shares = ", ".join(
            f"{statistics.median(r.cpu[i] / r.total for r in many):.1%}" for i in range(n)
        )
        print(f"| {pcap.name} | {sum(one[0].shares):,} | {cpu1:.3f} | {cpun:.3f} | "
              f"{cpu1 / cpun:.2f} | {paired:.2f} | {wall:.2f} | {total:.3f} | {ceiling:.2f} | "
              f"{shares} | {cpu_shares} |")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _build(estate_path: Path, untuned_connections: int) -> list[Path]:
    """The captures (cached), and the estate's policy cached as the command finds it."""
    from bench.packets_bench import build_capture as build_bench_capture
    from bench.packets_mix import build_capture as build_mix_capture
    from estate import load

    estate = load(estate_path)
    policy_for(estate_path, lambda path: estate)
    return [
        build_mix_capture(estate_path, 6000),
        build_bench_capture(estate, estate_path, 8000),
        # Not tuned on: a seed and sizes no earlier run measured.
        build_mix_capture(estate_path, untuned_connections, seed=2026, name="untuned"),
    ]


def _round(estate_path: Path, pcap: Path, workers: int) -> Round:
    """One round in a fresh interpreter (see above): each fork finds the
    parent's heap as the command leaves it, not as earlier rounds did."""
    command = [sys.executable, __file__, "--estate", str(estate_path),
               "--workers", str(workers), "--measure", str(pcap)]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return Round(**json.loads(done.stdout))


def _measure(estate_path: Path, pcap: Path, workers: int) -> Round:
    # As `yunwang sense` does before it forks: the policy from the cache,
    # its own sensor, memory settled.
    policy = policy_for(estate_path, load_estate)
    held = Sensor(policy, observer="bench")
    settle_memory(reading_file=True)
    start = time.perf_counter()
    _, outcome = sense_file(lambda: Sensor(policy, observer="bench"), pcap, workers)
    wall = time.perf_counter() - start
    del held  # kept through the round, as the command keeps its own
    return Round(max(outcome.cpu_s), sum(outcome.cpu_s), wall, outcome.shares, outcome.cpu_s)


if __name__ == "__main__":
    main()
