"""How long a dual-link rollout takes, per batch and per level, and what it costs traffic.

    sudo .venv/bin/python bench/rollout.py [--counties 2] [--batch 4]

On a lab of examples/small.yaml started with `routing=False` (city, N
counties, one township each, BFD 300 ms, no hosts):

1. the rollout (playbooks/rollout.py, what `yunwang rollout dual-links`
   runs): apply + verify time of every batch, totals per level;
2. a second rollout (nothing to change): its time, and the IPv4 replies lost
   by a ping (every 200 ms) from a township to the city running throughout
   (goal 0);
3. the primary of the first county cut after the rollout: the largest gap
   in replies (the failover the lab's own routing gives, TESTBED.md);
4. the peer, in the same run: a second routing-less lab given the same
   configuration the way the lab does it itself (`vtysh -f` per router, in
   parallel), until OSPF is Full everywhere (lab.build.converge).

    sudo .venv/bin/python bench/rollout.py --old eb90a45 --runs 2 --ab-only

5. `--old REV`: the rollout as of git revision REV against this tree's, in
   the same run, alternating (old, new, old, new, ...): each on a fresh lab
   of its own code, a first rollout (routing given) and a second (nothing to
   change); medians and the new/old ratio. REV's tree is exported with `git
   archive` and imported ahead of this one (PYTHONPATH), ansible's filter
   plugins included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from estate.routing import RouterRouting, render_frr
from lab import Lab, build
from lab.blueprint import LabPlan
from lab.measure import ping_through
from lab.testing import TEST_SECRETS
from playbooks.dual_links import batches, lab_targets
from playbooks.rollout import RolloutReport, rollout

REPO = Path(__file__).resolve().parents[1]
ESTATE = REPO / "examples" / "small.yaml"


def _lab(directory: Path, counties: int) -> Lab:
    return Lab.up(
        ESTATE,
        directory=directory,
        counties=counties,
        townships=1,
        villages=0,
        hosts=0,
        bfd_ms=300,
        routing=False,
        secrets=TEST_SECRETS,
    )


def _print_report(report: RolloutReport) -> None:
    print("| batch | level | routers | apply s | verify s |")
    print("|---:|---|---:|---:|---:|")
    for b in report.batches:
        print(f"| {b.index} | {b.level} | {len(b.routers)} | {b.apply_s:.1f} | {b.verify_s:.1f} |")
    levels: dict[str, float] = {}
    for b in report.batches:
        levels[b.level] = levels.get(b.level, 0.0) + b.apply_s + b.verify_s
    print("per level s:", {k: round(v, 1) for k, v in levels.items()})
    print(f"total s: {report.duration_s:.1f} ok: {report.ok}")


def _peer(counties: int) -> float:
    """The lab's own way: push every router's rendered configuration with vtysh -f."""
    with tempfile.TemporaryDirectory(prefix="ywbench-peer-") as tmp:
        lab = _lab(Path(tmp) / "lab", counties)
        try:
            targets = {t.node: t for t in lab_targets(lab)}
            plan = LabPlan.from_dict(lab.state.plan)

            def push(node: str) -> None:
                t = targets[node]
                path = Path(tmp) / f"{node}.conf"
                text = render_frr(
                    RouterRouting.from_dict(t.routing), hostname=node, preamble=t.preamble
                )
                path.write_text(text)
                subprocess.run(
                    ["vtysh", "-N", t.pathspace, "-f", str(path)], check=True, capture_output=True
                )

            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(push, targets))
            build.converge(plan, timeout_s=60)
            return time.monotonic() - started
        finally:
            lab.down()


# One lab, a first and a second rollout, timed; only APIs both trees have.
_TIMED = """
import json, sys, tempfile
from pathlib import Path
from lab import Lab
from lab.testing import TEST_SECRETS
from playbooks.dual_links import batches, lab_targets
from playbooks.rollout import rollout
counties, size = int(sys.argv[1]), int(sys.argv[2])
with tempfile.TemporaryDirectory(prefix="ywbench-ab-") as tmp:
    lab = Lab.up("examples/small.yaml", directory=Path(tmp) / "lab", counties=counties,
                 townships=1, villages=0, hosts=0, bfd_ms=300, routing=False, secrets=TEST_SECRETS)
    try:
        targets = lab_targets(lab)
        plan = batches(targets, size=size)
        runs = [rollout(targets, plan), rollout(targets, plan)]
        print(json.dumps([{"ok": r.ok, "s": r.duration_s,
                           "batches": [[b.apply_s, b.verify_s] for b in r.batches]} for r in runs]))
    finally:
        lab.down()
"""


def _timed(tree: Path, counties: int, size: int) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED, str(counties), str(size)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    runs: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return runs


def _against_old(rev: str, runs: int, counties: int, size: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ywbench-old-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        times: dict[str, list[list[float]]] = {"old": [], "new": []}
        for i in range(runs):
            for name, tree in (("old", old), ("new", REPO)):
                result = _timed(tree, counties, size)
                assert all(r["ok"] for r in result), f"{name} run {i}: {result}"
                times[name].append([float(str(r["s"])) for r in result])
                print(f"{name} run {i + 1}: first {result[0]['s']:.1f} s, second "
                      f"{result[1]['s']:.1f} s, batches {result[0]['batches']}")  # fmt: skip
    print(f"## old ({rev}) against new, {runs} runs each, {counties} counties")
    print("| rollout | old median s | new median s | new/old |")
    print("|---|---:|---:|---:|")
    for k, label in enumerate(("first (routing given)", "second (nothing to change)")):
        old_s = statistics.median(t[k] for t in times["old"])
        new_s = statistics.median(t[k] for t in times["new"])
        print(f"| {label} | {old_s:.1f} | {new_s:.1f} | {new_s / old_s:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counties", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--old", help="git revision to compare against (e.g. eb90a45)")
    parser.add_argument("--runs", type=int, default=2, help="runs per tree for --old")
    parser.add_argument("--ab-only", action="store_true", help="only the --old comparison")
    args = parser.parse_args()
    if args.old:
        _against_old(args.old, args.runs, args.counties, args.batch)
        if args.ab_only:
            return
    with tempfile.TemporaryDirectory(prefix="ywbench-rollout-") as tmp:
        lab = _lab(Path(tmp) / "lab", args.counties)
        try:
            targets = lab_targets(lab)
            plan = batches(targets, size=args.batch)
            print(f"## rollout: {len(targets)} routers, {len(plan)} batches")
            first = rollout(targets, plan)
            _print_report(first)
            lab.wait_converged(timeout_s=30)
            city = lab.routers[0].router_id
            township = next(r.node for r in lab.routers if r.level == "township")
            county = next(r.node for r in lab.routers if r.level == "county")
            holder: list[RolloutReport] = []
            outage = ping_through(
                lab.namespace(township),
                city,
                lambda: holder.append(rollout(targets, plan)),
                after_s=1.0,
                # ping_through reads ping's output at the end: at 10 ms a
                # minutes-long rollout fills the pipe and stalls ping.
                interval_s=0.2,
            )
            second = holder[0]
            reloads = sum(o.reloaded for b in second.batches for o in b.routers.values())
            print("## second rollout (nothing to change)")
            _print_report(second)
            print(f"reloads: {reloads}; ping {township} -> city during it: {outage.summary()}")
            cut = ping_through(
                lab.namespace(township), city, lambda: lab.cut(f"{county}/primary"), after_s=3.0
            )
            print(f"## cut {county}/primary after the rollout: {cut.summary()}")
        finally:
            lab.down()
    print(f"## peer: vtysh -f per router + converge: {_peer(args.counties):.1f} s")


if __name__ == "__main__":
    main()
