"""Where two forked sensor processes sharing a file spend more than one: user or kernel.

    .venv/bin/python bench/packets_forked_shares.py [--rounds 9]
        [--estate examples/puyang.yaml] PCAP [PCAP ...]

One parent holding what `yunwang sense` holds when it forks (the policy
from the estate's cache, one sensor, memory settled) forks, each round:

- one child sensing the whole file (the one-worker side of
  bench/packets_shards.py);
- two children at once, each sensing the whole file: whether the two
  vCPUs slow each other when both are busy (if they do, no split can
  reach 2x);
- two children at once, sensing share 0 and share 1 of 2 (the command's
  `--workers 2`);
- the same two shares, one child after the other (no second core busy).

Printed, medians over the rounds: user and kernel CPU seconds summed over
the children of each run, and their minor page faults. Each child measures
itself from its fork (`getrusage`), as `parallel._worker` does.
bench/RESULTS.md, "What a second process costs on a small capture
(issue 13, session 41)", reads these against bench/packets_shards.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yunwang.commands.sense  # noqa: E402, F401  (what the command has imported when it forks)
from monitors.packets import Sensor, SensorPolicy, compiled  # noqa: E402
from monitors.packets.capture import read_capture  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402
from monitors.packets.shards import FileShare  # noqa: E402
from yunwang.console import load_estate  # noqa: E402

Usage = tuple[float, float, int]  # user, kernel CPU seconds; minor faults
RUNS = ("whole, alone", "whole twice, at once", "shares, at once", "shares, one after the other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pcaps", type=Path, nargs="+")
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    policy = policy_for(args.estate, load_estate)
    held = Sensor(policy, observer="bench")  # kept through the rounds, as the command keeps its own
    settle_memory(reading_file=True)
    print(f"sensor: {'compiled' if compiled.in_use() else 'interpreted'}; {args.rounds} rounds")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        "| capture | run | user CPU-s | kernel CPU-s | faults | CPU / whole alone, round by round |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for pcap in args.pcaps:
        runs: dict[str, list[list[Usage]]] = {run: [] for run in RUNS}
        for _ in range(args.rounds):
            runs[RUNS[0]].append(_children(policy, pcap, [None]))
            runs[RUNS[1]].append(_children(policy, pcap, [None, None]))
            runs[RUNS[2]].append(_children(policy, pcap, [0, 1]))
            runs[RUNS[3]].append(_children(policy, pcap, [0, 1], together=False))
        alone = [sum(u + k for u, k, _ in r) for r in runs[RUNS[0]]]
        for run, rounds in runs.items():
            user = statistics.median(sum(c[0] for c in r) for r in rounds)
            kernel = statistics.median(sum(c[1] for c in r) for r in rounds)
            faults = statistics.median(sum(c[2] for c in r) for r in rounds)
            # Round by round: the machine's speed wanders between rounds.
            ratio = statistics.median(
                sum(u + k for u, k, _ in r) / whole for r, whole in zip(rounds, alone, strict=True)
            )
            print(f"| {pcap.name} | {run} | {user:.3f} | {kernel:.3f} | {faults:,.0f} | "
                  f"{ratio:.2f} |")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    del held


def _children(
    policy: SensorPolicy, pcap: Path, shares: list[int | None], together: bool = True
) -> list[Usage]:
    """Fork one child per share (None: the whole file); each reports its own usage."""
    usages: list[Usage] = []
    running: list[tuple[int, int]] = []
    for share in shares:
        receive, send = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: sense, report, and leave without running the parent's exits
            os.close(receive)
            os.write(send, json.dumps(_sense(policy, pcap, share)).encode())
            os._exit(0)
        os.close(send)
        running.append((pid, receive))
        if not together:
            usages.append(_collect(*running.pop()))
    usages.extend(_collect(pid, receive) for pid, receive in running)
    return usages


def _sense(policy: SensorPolicy, pcap: Path, share: int | None) -> Usage:
    sensor = Sensor(policy, observer="bench")
    sensor.feed_all(read_capture(pcap, None if share is None else FileShare(share, 2)))
    sensor.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_minflt


def _collect(pid: int, receive: int) -> Usage:
    with os.fdopen(receive, "rb") as pipe:
        user, kernel, faults = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return float(user), float(kernel), int(faults)


if __name__ == "__main__":
    main()
