"""How long a staged IPv6 migration takes, what it costs IPv4, how fast it rolls back.

    sudo .venv/bin/python bench/migrate.py [--counties 1] [--hosts 2] [--batch 4]
        [--ipv4-routers] [--rounds 2] [--peer-ref eb90a45] [--adoption-gate]
        [--estate examples/small.yaml]

On a lab of examples/small.yaml (two counties; examples/puyang.yaml has
six: `--estate`) with hosts IPv4-only (`hosts_ipv6=False`,
one township per county, no villages, BFD 300 ms); `--ipv4-routers` starts
the routers IPv4-only too (`routers_ipv6=False`), so the migration gives
them their LAN prefixes, RA and OSPFv3; `--adoption-gate` adds the packet
sensor's gate (monitors/packets/adoption_watch.py, wired by yunwang/commands/_adoption.py) to every host batch:

1. the migration (playbooks/migration.py, what `yunwang migrate ipv6 run`
   runs): apply, gate time of every batch, totals per stage; while an IPv4
   ping (every 200 ms) from the NMS to every host runs throughout: the
   replies lost (goal 0) and the largest gap;
2. a second run (nothing to change): its time;
3. rollback (goal under 30 s for a county), `--rounds` times, alternating
   with its peer in the same run, the rolled-back part migrated again before
   each:
   - without `--ipv4-routers`: the rollback of every stage (the hosts) by
     this code against the code of `--peer-ref` (its role and playbook from
     git, its serial checks), the one bench/RESULTS.md measured at 33 s;
   - with `--ipv4-routers`: `rollback --stage county` (the county routers)
     against the same rollback with the routers' pieces removed by
     `frr-reload.py` alone (one vtysh per line); then, once, the rollback of
     every stage (routers and hosts);
   with the same IPv4 pings throughout; `--rounds 0` (scaling runs) skips
   the second run and the comparison and times, once each, the rollback of
   the county stage and then of the other stages;
4. the raw cost: the hosts' addresses and routes given and taken by hand
   (`ip -6 addr/route` in each host's namespace, no Ansible, no gates).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from estate import load
from lab import Lab
from lab.measure import Outage, ping_through
from lab.testing import TEST_SECRETS
from playbooks.migration import (
    Adoption,
    Target,
    inventory,
    migrate,
    plan,
    rollback,
)
from playbooks.migration_lab import LabProber, lab_sources, lab_targets
from playbooks.migration_report import MigrationReport
from playbooks.migration_routers import MigrationRouter, ipv4_only_findings
from playbooks.runner import run_playbook
from yunwang.commands._adoption import lab_adoption

REPO = Path(__file__).resolve().parents[1]
ESTATE = REPO / "examples" / "small.yaml"
_ROLE_PATHS = ("playbooks/ipv6_migration.yml", "playbooks/roles/ipv6_migration")


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
    print("| batch | stage | kind | targets | apply s | gate s | sensor: IPv6/IPv4 flows |")
    print("|---:|---|---|---:|---:|---:|---|")
    stages: dict[str, float] = {}
    for b in report.batches:
        kind = f"{b.kind[:-1]} {'canary' if b.canary else 'batch'}"
        print(
            f"| {b.index} | {b.stage} | {kind} | {len(b.targets)} | {b.apply_s:.1f} "
            f"| {b.gate_s:.1f} | {_adoption(b.adoption)} |"
        )
        stages[b.stage] = stages.get(b.stage, 0.0) + b.apply_s + b.gate_s
    per = ", ".join(f"{s} {t:.1f} s" for s, t in stages.items())
    print(f"\ntotal {report.duration_s:.1f} s ({per}); ok={report.ok}\n")


def _adoption(seen: dict[str, dict[str, int]]) -> str:
    flows = (f"{s} {c['ipv6_flows']}/{c['ipv4_flows']}" for s, c in seen.items())
    return ", ".join(flows) or "-"


def _ipv4(outages: list[Outage]) -> str:
    sent = sum(o.sent for o in outages)
    lost = sum(o.lost for o in outages)
    gap = max((o.largest_gap_s for o in outages), default=0.0)
    unanswered = max((o.lost_run_s for o in outages), default=0.0)
    return (
        f"IPv4 to {len(outages)} hosts: {sent} sent, {lost} lost, largest gap {gap * 1000:.0f} ms"
        f" (longest run unanswered {unanswered * 1000:.0f} ms)"
    )


def _by_hand(lab: Lab, add: bool) -> float:
    verb = "add" if add else "del"
    t0 = time.monotonic()
    for h in lab.hosts:
        lab.run(h.name, f"ip -6 addr {verb} {h.address6} dev eth0 nodad")
        lab.run(h.name, f"ip -6 route {verb} default via {h.gateway6}")
    return time.monotonic() - t0


def _peer_playbook(ref: str, into: Path) -> Path:
    """The IPv6 role and playbook as they were at `ref` (a playbook finds the
    roles/ beside it before ANSIBLE_ROLES_PATH)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, *_ROLE_PATHS],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "playbooks" / "ipv6_migration.yml"


def _peer_rollback(
    playbook: Path, targets: list[Target], sources: list[dict[str, str]], probe: LabProber
) -> list[str]:
    """What `rollback` did at the peer ref: one playbook run, then the checks
    one host after another."""
    run_playbook(playbook, inventory(targets, sources, state="absent"))
    findings = []
    for t in targets:
        if not probe.ping(t.ip6, 6):
            findings.append(f"{t.name}: still answers ping6")
        if probe.ping(t.ip4, 4):
            findings.append(f"{t.name}: no IPv4")
    return findings


def _frr_reload_rollback(
    targets: list[Target], sources: list[dict[str, str]], probe: LabProber
) -> list[str]:
    """This code's rollback with the routers' pieces left to frr-reload.py alone."""
    inv = inventory(targets, sources, state="absent")
    for host_vars in inv["all"]["hosts"].values():
        host_vars.pop("ipv6_migration_frr_undo", None)
    run_playbook("ipv6_migration.yml", inv, limit=[t.name for t in targets])
    return [f"{t.name}: {f}" for t in targets for f in _left(t, probe)]


def _left(t: Target, probe: LabProber) -> list[str]:
    if isinstance(t, MigrationRouter):
        return ipv4_only_findings(t, probe.router(t, ipv6=False))
    return [] if probe.ping(t.ip6, 6) else ["still answers ping6"]


def _timed(lab: Lab, hosts: list[str], action: Callable[[], list[str]]) -> tuple[float, str]:
    """The action's own time (not the pings' settling around it)."""
    held: list[tuple[float, list[str]]] = []

    def timed() -> None:
        t0 = time.monotonic()
        found = action()
        held.append((time.monotonic() - t0, found))

    pings = _pinged(lab, hosts, timed)
    elapsed, found = held[0]
    return elapsed, f"findings {found or 'none'}; {_ipv4(pings)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counties", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--ipv4-routers", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--peer-ref", default="eb90a45")
    parser.add_argument("--adoption-gate", action="store_true")
    parser.add_argument("--estate", type=Path, default=ESTATE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yw-bench-migrate-") as tmp:
        lab = Lab.up(
            args.estate,
            directory=Path(tmp) / "lab",
            counties=args.counties,
            townships=1,
            villages=0,
            hosts=args.hosts,
            bfd_ms=300,
            hosts_ipv6=False,
            routers_ipv6=not args.ipv4_routers,
            secrets=TEST_SECRETS,
        )
        try:
            targets = lab_targets(lab, load(args.estate))
            batches = plan(targets, size=args.batch)
            sources, probe = lab_sources(lab), LabProber(lab)
            hosts = [h.name for h in lab.hosts]
            adoption: Adoption | None = partial(lab_adoption, lab) if args.adoption_gate else None

            def run() -> MigrationReport:
                return migrate(batches, sources, probe, adoption=adoption)

            print(f"# {args.counties} counties, {len(targets)} targets, {len(batches)} batches\n")
            held: list[MigrationReport] = []
            pings = _pinged(lab, hosts, lambda: held.append(run()))
            print("## first run")
            _print_report(held[0])
            print(_ipv4(pings) + "\n")

            t0 = time.monotonic()
            second = run() if args.rounds else None
            if second is not None:
                changed = sum(len(o.added) for b in second.batches for o in b.targets.values())
                print(f"## second run: {time.monotonic() - t0:.1f} s, {changed} pieces changed\n")

            # Routers: the county stage (its routers) against frr-reload.py
            # alone; hosts only: every stage against the peer ref's code.
            ours: dict[str, Callable[[], list[str]]]
            peers: dict[str, Callable[[], list[str]]]
            scopes: dict[str, list[Target]]
            if args.ipv4_routers:
                county = [t for t in targets if t.stage == "county"]
                scopes = {"county stage": county}
                ours = {"county stage": lambda: rollback(county, sources, probe)[1]}
                peers = {"county stage": lambda: _frr_reload_rollback(county, sources, probe)}
                peer_name = "frr-reload.py alone"
            else:
                playbook = _peer_playbook(args.peer_ref, Path(tmp))
                scopes = {"every stage": targets}
                ours = {"every stage": lambda: rollback(targets, sources, probe)[1]}
                peers = {"every stage": lambda: _peer_rollback(playbook, targets, sources, probe)}
                peer_name = f"code at {args.peer_ref}"
            times: dict[tuple[str, str], list[float]] = {}
            for round_no in range(1, args.rounds + 1):
                for scope in ours:
                    for who, action in (("ours", ours[scope]), (peer_name, peers[scope])):
                        # Migrated again: each rollback starts from the same state.
                        again = plan(scopes[scope], size=args.batch)
                        migrate(again, sources, probe, adoption=adoption)
                        elapsed, seen = _timed(lab, hosts, action)
                        times.setdefault((scope, who), []).append(elapsed)
                        print(f"round {round_no}, rollback {scope}, {who}: {elapsed:.1f} s; {seen}")
            if args.rounds:
                print("\n| rollback | ours, median s | peer, median s | ratio |")
                print("|---|---:|---:|---:|")
            elif args.ipv4_routers:
                elapsed, seen = _timed(lab, hosts, ours["county stage"])
                print(f"rollback county stage, ours: {elapsed:.1f} s; {seen}")
                rest = [t for t in targets if t.stage != "county"]
                elapsed, seen = _timed(lab, hosts, lambda: rollback(rest, sources, probe)[1])
                print(f"rollback of the other stages, ours: {elapsed:.1f} s; {seen}")
            for scope in ours if args.rounds else ():
                mine = statistics.median(times[(scope, "ours")])
                theirs = statistics.median(times[(scope, peer_name)])
                print(
                    f"| {scope} | {mine:.1f} | {theirs:.1f} ({peer_name}) | {theirs / mine:.2f} |"
                )
            if args.ipv4_routers and args.rounds:
                elapsed, seen = _timed(lab, hosts, lambda: rollback(targets, sources, probe)[1])
                print(f"\nrollback every stage (routers and hosts), ours: {elapsed:.1f} s; {seen}")

            given, taken = _by_hand(lab, True), _by_hand(lab, False)
            print(f"\n## by hand (ip, hosts only): given {given:.2f} s, taken {taken:.2f} s")
        finally:
            lab.down()


if __name__ == "__main__":
    main()
