"""What sharing a capture file between 2 sensor processes adds, counted.

    .venv/bin/python bench/packets_share_cost.py [--rounds 9] [--cachegrind]
        [--estate examples/puyang.yaml] PCAP [PCAP ...]

One process, one after another (no fork, no second core): a fresh sensor
senses the whole file, then share 0 of 2, then share 1 of 2. Printed,
medians: CPU seconds of the whole and of both shares together, split into
user and kernel time, and the shares' CPU over the whole's, round by
round. With `--cachegrind`, each of the three (and a run sensing nothing,
subtracted) also runs under `valgrind --tool=cachegrind --cache-sim=yes
--branch-sim=yes`: instructions, simulated cache misses, branches and
simulated mispredictions, which the machine's noise does not move; then
the functions whose instructions differ most between both shares and the
whole. bench/packets_shards.py measures the ratio itself on 2 forked
processes; this says where the difference comes from (bench/RESULTS.md,
"What two processes sharing a file add, counted").
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitors.packets import Sensor, SensorPolicy, compiled  # noqa: E402
from monitors.packets.capture import read_capture  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402
from monitors.packets.shards import FileShare  # noqa: E402
from yunwang.console import load_estate  # noqa: E402

RUNS = ("whole", "share 0", "share 1")
TOP = 12  # functions listed each way
COUNTS = {  # cachegrind's summary lines
    "instructions": r"I\s+refs:\s+([\d,]+)",
    "L1i misses": r"I1\s+misses:\s+([\d,]+)",
    "L1d misses": r"D1\s+misses:\s+([\d,]+)",
    "LLd misses": r"LLd misses:\s+([\d,]+)",
    "branches": r"Branches:\s+([\d,]+)",
    "mispredicted": r"Mispredicts:\s+([\d,]+)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pcaps", type=Path, nargs="+")
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cachegrind", action="store_true")
    parser.add_argument("--run", choices=(*RUNS, "nothing"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    policy = policy_for(args.estate, load_estate)
    settle_memory(reading_file=True)
    if args.run is not None:  # one run, under valgrind
        if args.run != "nothing":
            _sense(policy, args.pcaps[0], args.run)
        return
    print(f"sensor: {'compiled' if compiled.in_use() else 'interpreted'}; {args.rounds} rounds")
    print(
        "| capture | whole CPU-s (user + kernel) | both shares | shares / whole, round by round |"
    )
    print("|---|---:|---:|---:|")
    for pcap in args.pcaps:
        times: dict[str, list[tuple[float, float]]] = {run: [] for run in RUNS}
        for _ in range(args.rounds):
            for run in RUNS:
                times[run].append(_sense(policy, pcap, run))
        whole = times["whole"]
        pairs = zip(times["share 0"], times["share 1"], strict=True)
        both = [(a[0] + b[0], a[1] + b[1]) for a, b in pairs]
        ratio = statistics.median(sum(s) / sum(w) for s, w in zip(both, whole, strict=True))
        print(f"| {pcap.name} | {_split(whole)} | {_split(both)} | {ratio:.3f} |")
    if args.cachegrind:
        _cachegrind(args)


def _sense(policy: SensorPolicy, pcap: Path, run: str) -> tuple[float, float]:
    """User and kernel CPU seconds of a fresh sensor sensing `run` of `pcap`."""
    share = None if run == "whole" else FileShare(int(run[-1]), 2)
    before = resource.getrusage(resource.RUSAGE_SELF)
    sensor = Sensor(policy, observer="bench")
    sensor.feed_all(read_capture(pcap, share))
    sensor.close()
    del sensor
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def _split(times: list[tuple[float, float]]) -> str:
    user = statistics.median(t[0] for t in times)
    kernel = statistics.median(t[1] for t in times)
    return f"{user + kernel:.3f} ({user:.3f} + {kernel:.3f})"


def _cachegrind(args: argparse.Namespace) -> None:
    if shutil.which("valgrind") is None:
        print("valgrind not installed: no counts")
        return
    print("\nUnder cachegrind, less a run sensing nothing (millions; deterministic):")
    print(f"| capture | run | {' | '.join(COUNTS)} |")
    print(f"|---|---|{'---:|' * len(COUNTS)}")
    by_function: dict[str, Counter[str]] = {}
    for pcap in args.pcaps:
        base, base_fns = _counted(args, pcap, "nothing")
        runs: dict[str, dict[str, int]] = {}
        fns: dict[str, Counter[str]] = {}
        for run in RUNS:
            runs[run], fns[run] = _counted(args, pcap, run)
        runs["both shares"] = {k: runs["share 0"][k] + runs["share 1"][k] for k in COUNTS}
        for run, counts in runs.items():
            # Each run counts the process's start once: both shares, twice.
            starts = 2 if run == "both shares" else 1
            cells = " | ".join(f"{(counts[k] - starts * base[k]) / 1e6:,.1f}" for k in COUNTS)
            print(f"| {pcap.name} | {run} | {cells} |")
        # (share 0 - nothing) + (share 1 - nothing) - (whole - nothing)
        by_function[pcap.name] = fns["share 0"] + fns["share 1"]
        by_function[pcap.name].subtract(fns["whole"] + base_fns)
    for name, diff in by_function.items():
        ranked = sorted(diff.items(), key=lambda item: item[1])
        print(f"\n{name}: instructions both shares run beyond the whole (millions), by function")
        for function, count in [*ranked[::-1][:TOP], *ranked[:TOP]]:
            print(f"  {count / 1e6:+8.2f}  {function}")


def _counted(args: argparse.Namespace, pcap: Path, run: str) -> tuple[dict[str, int], Counter[str]]:
    """The run's summary counts, and its instructions by function."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes",
             f"--cachegrind-out-file={scratch}/out", sys.executable, __file__,
             "--estate", str(args.estate), "--run", run, str(pcap)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        functions = _by_function(Path(scratch) / "out")
    counts = {}
    for name, pattern in COUNTS.items():
        found = re.search(pattern, done.stderr)
        if found is None:
            raise SystemExit(f"cachegrind printed no {name}: {done.stderr[-500:]}")
        counts[name] = int(found.group(1).replace(",", ""))
    return counts, functions


def _by_function(out: Path) -> Counter[str]:
    """Instructions per function from a cachegrind out file (its `fn=` blocks;
    the first number after a line number is Ir, the events' first column)."""
    found: Counter[str] = Counter()
    function = ""
    for line in out.read_text().splitlines():
        if line.startswith("fn="):
            function = line[3:]
        elif line[:1].isdigit():
            fields = line.split()
            if len(fields) > 1:
                found[function] += int(fields[1])
    return found


if __name__ == "__main__":
    main()
