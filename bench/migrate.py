"""How long a staged IPv6 migration takes, what it costs IPv4, how fast it rolls back.

    sudo .venv/bin/python bench/migrate.py [--counties 1] [--hosts 2] [--batch 4]

On a lab of examples/small.yaml with hosts IPv4-only (`hosts_ipv6=False`,
one township per county, BFD 300 ms):

1. the migration (playbooks/migration.py, what `yunwang migrate ipv6 run`
   runs): apply, gate time of every batch, totals per stage; while an IPv4
   ping (every 200 ms) from the NMS to every host runs throughout: the
   replies lost (goal 0) and the largest gap;
2. a second run (nothing to change): its time;
3. the rollback of every stage to IPv4-only: its time (goal under 30 s for a
   county), with the same IPv4 pings;
4. the peer, in the same run: the same addresses and routes given and taken
   by hand (`ip -6 addr/route` in each host's namespace, no Ansible, no
   gates): the raw cost of the change.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab import Lab
from lab.measure import Outage, ping_through
from lab.testing import TEST_SECRETS
from playbooks.migration import MigrationReport, migrate, plan, rollback
from playbooks.migration_lab import LabProber, lab_sources, lab_targets

REPO = Path(__file__).resolve().parents[1]
ESTATE = REPO / "examples" / "small.yaml"


def _pinged(lab: Lab, hosts: list[str], action: Callable[[], Any]) -> list[Outage]:
    """Run `action` with an IPv4 ping from the NMS to every host throughout."""
    if not hosts:
        action()
        return []
    first, rest = hosts[0], hosts[1:]
    inner: list[Outage] = []
    outer = ping_through(
        lab.namespace("nms"),
        lab.plan.host(first).address4.split("/")[0],
        lambda: inner.extend(_pinged(lab, rest, action)),
        after_s=1.0,
        interval_s=0.2,
    )
    return [outer, *inner]


def _print_report(report: MigrationReport) -> None:
    print("| batch | stage | kind | hosts | apply s | gate s |")
    print("|---:|---|---|---:|---:|---:|")
    stages: dict[str, float] = {}
    for b in report.batches:
        kind = "canary" if b.canary else "batch"
        print(
            f"| {b.index} | {b.stage} | {kind} | {len(b.hosts)} | {b.apply_s:.1f} | {b.gate_s:.1f} |"
        )
        stages[b.stage] = stages.get(b.stage, 0.0) + b.apply_s + b.gate_s
    per = ", ".join(f"{s} {t:.1f} s" for s, t in stages.items())
    print(f"\ntotal {report.duration_s:.1f} s ({per}); ok={report.ok}\n")


def _ipv4(outages: list[Outage]) -> str:
    sent = sum(o.sent for o in outages)
    lost = sum(o.lost for o in outages)
    gap = max((o.largest_gap_s for o in outages), default=0.0)
    return (
        f"IPv4 to {len(outages)} hosts: {sent} sent, {lost} lost, largest gap {gap * 1000:.0f} ms"
    )


def _by_hand(lab: Lab, add: bool) -> float:
    verb = "add" if add else "del"
    t0 = time.monotonic()
    for h in lab.hosts:
        lab.run(h.name, f"ip -6 addr {verb} {h.address6} dev eth0 nodad")
        lab.run(h.name, f"ip -6 route {verb} default via {h.gateway6}")
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yw-bench-migrate-") as tmp:
        lab = Lab.up(
            ESTATE,
            directory=Path(tmp) / "lab",
            counties=args.counties,
            townships=1,
            villages=0,
            hosts=args.hosts,
            bfd_ms=300,
            hosts_ipv6=False,
            secrets=TEST_SECRETS,
        )
        try:
            targets = lab_targets(lab)
            batches = plan(targets, size=args.batch)
            sources, probe = lab_sources(lab), LabProber(lab)
            names = [t.name for t in targets]
            print(f"# {args.counties} counties, {len(names)} hosts, {len(batches)} batches\n")
            held: list[MigrationReport] = []
            pings = _pinged(lab, names, lambda: held.append(migrate(batches, sources, probe)))
            print("## first run")
            _print_report(held[0])
            print(_ipv4(pings) + "\n")

            t0 = time.monotonic()
            second = migrate(batches, sources, probe)
            changed = sum(len(o.added) for b in second.batches for o in b.hosts.values())
            print(f"## second run: {time.monotonic() - t0:.1f} s, {changed} pieces changed\n")

            t0 = time.monotonic()
            back: list[Any] = []
            pings = _pinged(lab, names, lambda: back.append(rollback(targets, sources, probe)))
            findings = back[0][1]
            print(f"## rollback of every stage: {time.monotonic() - t0:.1f} s, findings {findings}")
            print(_ipv4(pings) + "\n")

            given, taken = _by_hand(lab, True), _by_hand(lab, False)
            print(f"## peer (ip by hand): given {given:.2f} s, taken {taken:.2f} s")
        finally:
            lab.down()


if __name__ == "__main__":
    main()
