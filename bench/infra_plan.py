"""Bench: `yunwang plan` on the full city vs Pulumi's stock mock setup, same program, same run.

    .venv/bin/python bench/infra_plan.py [examples/puyang.yaml] [--repeat 3]

Modes: `cli` is the whole `yunwang plan ESTATE --json` command (load, plan,
invariants, output); `yunwang` and `yunwang-1` the planner alone with the
default workers and with one. Each trial is a fresh process (Pulumi's
runtime is process-wide). Reported:
median wall seconds, median CPU seconds (user+sys of the trial and its
children), resources planned, and ratios to the peer. The peer is what the
Pulumi docs set up for unit tests: `pulumi.runtime.set_mocks` with a Mocks
echoing inputs and `@pulumi.runtime.test`, one process, nothing else.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def stock(estate_file: str) -> int:
    """The program under Pulumi's documented mock setup; returns resources registered."""
    import pulumi
    from pulumi.runtime import mocks

    from estate import load
    from infra.program import build
    from infra.settings import CloudSettings

    estate = load(estate_file)

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.typ.rsplit(':', 1)[-1]}/{args.name}", dict(args.inputs)

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
            return {"id": f"id-{args.args.get('name')}"}, []

    monitor = mocks.MockMonitor(Echo())
    pulumi.runtime.set_mocks(Echo(), preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(
        {"yunwang:estate": estate_file, "yunwang:authUrl": "https://k.invalid/v3",
         "yunwang:password": "x"},
        secret_keys=["yunwang:password"],
    )  # fmt: skip
    pulumi.runtime.test(lambda: build(estate, CloudSettings.from_config()) and None)()
    return len(monitor.resources)


def ours(estate_file: str, workers: int | None) -> int:
    from estate import load
    from infra.planning import plan_estates

    (plan,) = plan_estates([load(estate_file)], workers=workers)
    return len(plan.resources)


def trial(mode: str, estate_file: str) -> dict[str, float]:
    if mode == "cli":  # the whole command: load, plan, invariants, JSON out
        command = [str(Path(sys.executable).parent / "yunwang"), "plan", estate_file, "--json"]
    else:
        command = [sys.executable, __file__, estate_file, "--one", mode]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    count = len(json.loads(proc.stdout)["resources"]) if mode == "cli" else int(proc.stdout.strip())
    return {"wall": wall, "cpu": cpu, "resources": float(count)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("estate", nargs="?", default="examples/puyang.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.one == "stock":
            print(stock(args.estate))
        else:
            workers = None if args.one == "yunwang" else int(args.one.split("-")[1])
            print(ours(args.estate, workers))
        return
    modes = ["cli", "yunwang", "yunwang-1", "stock"]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.repeat):
        for mode in modes:  # interleaved, so load spikes hit every mode alike
            runs[mode].append(trial(mode, args.estate))
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    summary = {
        m: {
            "wall_s": round(statistics.median(r["wall"] for r in rs), 2),
            "cpu_s": round(statistics.median(r["cpu"] for r in rs), 2),
            "resources": int(rs[0]["resources"]),
        }
        for m, rs in runs.items()
    }
    peer = summary["stock"]
    for m in modes:
        summary[m]["wall_vs_stock"] = round(peer["wall_s"] / summary[m]["wall_s"], 2)
        summary[m]["cpu_vs_stock"] = round(peer["cpu_s"] / summary[m]["cpu_s"], 2)
    print(json.dumps({"estate": args.estate, "repeat": args.repeat, "loadavg_1m": load,
                      "modes": summary}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
