"""How long `yunwang lab up`/`down` take and what a lab costs in memory and CPU.

    sudo .venv/bin/python bench/lab_updown.py [--repeat 3]

Slices: the default slice of examples/small.yaml (7 routers, 4 hosts), and
6 counties x 2 townships of examples/puyang.yaml without and with a village
per township (19 and 31 routers). The peer is the same builder starting
routers one at a time (`--workers 1`), on the 19-router slice, in the same
run. Memory is the proportional set size (PSS: shared pages split between
sharers) of every process in the lab's namespaces; CPU is what they use
while idle (BFD at 100 ms and OSPF hellos), over 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab import Lab, build, netns
from lab.testing import TEST_SECRETS

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    up_s: float
    down_s: float
    pss_mib: float
    idle_cpu: float  # fraction of one core
    routers: int
    hosts: int
    phases: dict[str, float]  # cumulative seconds at the end of each phase of `up`


def lab_pids(lab: Lab) -> list[int]:
    return [pid for ns in lab.plan.namespaces() for pid in netns.pids_in(ns)]


def pss_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def cpu_ticks(pids: list[int]) -> int:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def once(estate: str, workers: int, **cut: int) -> Run:
    build._WORKERS = workers
    with tempfile.TemporaryDirectory(prefix="ywlab-bench-") as tmp:
        started = time.monotonic()
        lab = Lab.up(REPO / estate, directory=Path(tmp) / "lab", secrets=TEST_SECRETS, **cut)
        up_s = time.monotonic() - started
        pids = lab_pids(lab)
        time.sleep(2)  # past start-up work
        before, t0 = cpu_ticks(pids), time.monotonic()
        time.sleep(5)
        idle = (cpu_ticks(pids) - before) / 100 / (time.monotonic() - t0)
        memory = pss_mib(lab_pids(lab))
        routers, hosts, phases = len(lab.routers), len(lab.hosts), dict(lab.state.timings)
        started = time.monotonic()
        lab.down()
        down_s = time.monotonic() - started
    return Run(up_s, down_s, memory, idle, routers, hosts, phases)


CASES = [
    ("default slice (small.yaml)", "examples/small.yaml", 4, {}),
    (
        "6 counties x 2 townships",
        "examples/puyang.yaml",
        4,
        {"counties": 6, "townships": 2, "villages": 0},
    ),
    (
        "6 x 2, routers started one by one (peer)",
        "examples/puyang.yaml",
        1,
        {"counties": 6, "townships": 2, "villages": 0},
    ),
    (
        "6 x 2 + 1 village each",
        "examples/puyang.yaml",
        4,
        {"counties": 6, "townships": 2, "villages": 1},
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| slice | routers | hosts | up (median) | down (median) | memory (PSS) | idle CPU |")
    print("|---|---|---|---|---|---|---|")
    medians: dict[str, float] = {}
    phases: list[str] = []
    for name, estate, workers, cut in CASES:
        runs = [once(estate, workers, **cut) for _ in range(args.repeat)]
        up = statistics.median(r.up_s for r in runs)
        medians[name] = up
        print(
            f"| {name} | {runs[0].routers} | {runs[0].hosts} | {up:.1f} s | "
            f"{statistics.median(r.down_s for r in runs):.1f} s | "
            f"{statistics.median(r.pss_mib for r in runs):.0f} MiB | "
            f"{statistics.median(r.idle_cpu for r in runs) * 100:.0f} % of a core |",
            flush=True,
        )
        phases.append(f"{name}: {runs[0].phases}")
    ratio = medians[CASES[2][0]] / medians[CASES[1][0]]
    print(f"\nparallel start vs one-by-one (19 routers): {ratio:.2f}x faster `up`")
    print("\n`up` phases, cumulative seconds (network, routers started, hosts started, up):")
    for line in phases:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
