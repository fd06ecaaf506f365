"""A staged, reversible IPv6 migration of routers and hosts, stage by stage.

Stages follow the estate's hierarchy (a router is in its level's stage, a
host in the stage of the router its segment hangs off). Each stage migrates
its routers first (a canary router, then batches), then its hosts (a canary
host, then batches). Per batch the `ipv6_migration` role gives

- routers their LAN prefixes, RA with the estate's flags and OSPFv3
  (playbooks/migration_routers.py), and
- hosts their planned address, default route, sshd on IPv6 and the IPv6
  twins of their IPv4 firewall rules;

then gates measure: for a router, from the router itself (its addresses,
OSPFv3 neighbours Full on its uplinks, vtysh), from the wire of its segments
(its Router Advertisement with the declared flags and prefixes,
monitors/packets/ra_watch.py; zebra's RA state where no capture is wired)
and from the NMS (ping6 to its LAN gateway, which only answers once OSPFv3
routes both ways; IPv4 ping); for a host, ping6 and ssh over IPv6 from the
NMS and IPv4 ping still answering; with an adoption gate, the packet sensor
on each host's segment seeing IPv6 flows while those probes run
(monitors/packets/adoption_watch.py). Both captures are wired in the lab by
yunwang/commands/_adoption.py. A failed gate takes back exactly what the
batch added (each target reports the pieces it changed) and stops the
migration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from playbooks.migration_report import (
    BatchResult,
    MigrationReport,
    TargetOutcome,
)
from playbooks.migration_routers import (
    HeardRa,
    MigrationRouter,
    RouterSeen,
    heard_text,
    host_vars,
    ipv4_only_findings,
    router_findings,
    router_pieces,
)
from playbooks.runner import RunnerEvent, run_playbook

STAGES = ("city", "county", "township", "village")
DEFAULT_BATCH = 4
# Rollback checks run side by side: each is a ping or a vtysh call that waits.
_CHECK_WORKERS = 8
# The pieces of a host's migration, in the order they go on. The role's one
# host task (tasks/migrate.yml) prints "changed PIECE" for each it added.
PIECES = ("address", "route", "sshd", "firewall")
_HOST_TASK = "IPv6 on the host"
# The router task (tasks/router.yml) the controller reads: "was: LINE" for
# its running configuration before, "reloaded" when it applied a difference.
_ROUTER_TASK = "The router's IPv6 (frr-reload.py)"


class MigrationError(Exception):
    """A --stage or --canary the user got wrong, or a lab not up; str() is one line."""


@dataclass(frozen=True)
class HostTarget:
    name: str
    stage: str  # the level of the router it hangs off
    router: str
    address4: str  # addr/len
    address6: str  # the planned one, addr/len
    gateway6: str
    connection: dict[str, Any] = field(default_factory=dict)

    @property
    def ip4(self) -> str:
        return self.address4.split("/")[0]

    @property
    def ip6(self) -> str:
        return self.address6.split("/")[0]


Target = HostTarget | MigrationRouter


class Prober(Protocol):
    """Measurements: each returns "" when fine, else what was seen."""

    def ping(self, address: str, family: int) -> str: ...

    def ssh(self, host: HostTarget, family: int) -> str: ...

    def router_gateway(self, host: HostTarget) -> str: ...

    def router(self, router: MigrationRouter, *, ipv6: bool) -> RouterSeen:
        """`ipv6` False: the NMS does not ping6 (it is expected not to answer)."""
        ...


class SegmentWatch(Protocol):
    """The packet sensor on a batch's segments while its gates probe."""

    def findings(self) -> list[str]:
        """Per host on a segment with no IPv6 flow seen yet: what was seen."""
        ...

    def seen(self) -> dict[str, dict[str, int]]:
        """Per segment: flows counted per family."""
        ...


# Opens the sensor on the segments of a host batch for the length of its gate.
Adoption = Callable[[list[HostTarget]], AbstractContextManager[SegmentWatch]]


class RaWire(Protocol):
    """Captures on a router batch's segments while its gate runs."""

    def heard(self, router: str, interface: str) -> HeardRa | str:
        """The last RA the router sent there, or what was seen instead."""
        ...


# Opens the captures on the segments of a router batch for the length of its gate.
RaCheck = Callable[[list[MigrationRouter]], AbstractContextManager[RaWire]]


def plan(
    targets: Sequence[Target],
    *,
    stage: str | None = None,
    canary: str | None = None,
    size: int = DEFAULT_BATCH,
) -> list[list[Target]]:
    """Stage by stage from the city down; in each, the routers then the hosts,
    each a canary, then batches of `size`.

    The router canary is `canary` (a router, or a host: its router) when it is
    in the stage, else the stage's first router; the host canary is `canary`
    (a host, or a router: its first host), else the stage's first host.
    """
    if stage is not None and stage not in STAGES:
        raise MigrationError(f"--stage {stage}: expected one of {', '.join(STAGES)}")
    if not 1 <= size <= 100:
        raise MigrationError(f"--batch {size}: expected 1 to 100 hosts per batch")
    if canary is not None and not any(canary in (t.name, t.router) for t in targets):
        sample = ", ".join(sorted({t.name for t in targets})[:8])
        raise MigrationError(f"--canary {canary}: no host or router of that id (hosts: {sample})")
    named_router = next((t.router for t in targets if canary == t.name), canary)
    batches: list[list[Target]] = []
    for level in STAGES:
        if stage is not None and level != stage:
            continue
        routers = [t for t in targets if t.stage == level and isinstance(t, MigrationRouter)]
        hosts = [t for t in targets if t.stage == level and isinstance(t, HostTarget)]
        for group, key in ((routers, named_router), (hosts, canary)):
            if not group:
                continue
            first = next((t for t in group if key in (t.name, t.router)), group[0])
            rest = [t for t in group if t is not first]
            batches.append([first])
            batches += [rest[i : i + size] for i in range(0, len(rest), size)]
    return batches


def canaries(batches: list[list[Target]]) -> list[bool]:
    """Per batch: is it the first of its stage's routers or hosts?"""
    seen: set[tuple[str, bool]] = set()
    flags = []
    for batch in batches:
        key = (batch[0].stage, isinstance(batch[0], MigrationRouter))
        flags.append(key not in seen)
        seen.add(key)
    return flags


def inventory(
    targets: list[Target],
    sources: list[dict[str, str]],
    *,
    state: str = "present",
    undo: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    hosts = {}
    for t in targets:
        pieces = None if undo is None else undo.get(t.name, [])
        if isinstance(t, MigrationRouter):
            hosts[t.name] = host_vars(t, state=state, undo=pieces)
            continue
        hosts[t.name] = {
            **t.connection,
            "ipv6_migration_state": state,
            "ipv6_migration_address": t.address6,
            "ipv6_migration_gateway": t.gateway6,
            "ipv6_migration_sources": sources,
        }
        if pieces is not None:
            hosts[t.name]["ipv6_migration_undo"] = pieces
    return {"all": {"hosts": hosts}}


def apply(
    batch: list[Target],
    sources: list[dict[str, str]],
    outcomes: dict[str, TargetOutcome],
    *,
    state: str = "present",
    undo: dict[str, list[str]] | None = None,
) -> None:
    """Run the role on `batch`; each outcome gets the pieces added and any error."""
    routers = {t.name: t for t in batch if isinstance(t, MigrationRouter)}

    def on_event(event: RunnerEvent) -> None:
        data = event.get("event_data") or {}
        name = str(data.get("host", ""))
        outcome = outcomes.get(name)
        if outcome is None:
            return
        res = data.get("res") or {}
        kind = event.get("event")
        task = str(data.get("task", ""))
        if task == _HOST_TASK and kind in ("runner_on_ok", "runner_on_failed"):
            # A run that failed part-way reports the pieces it added before.
            outcome.added += host_pieces(str(res.get("stdout", "")), outcome.added)
        router = routers.get(name)
        if kind == "runner_on_ok" and task == _ROUTER_TASK and res.get("changed") and router:
            # Reloaded: the pieces it lacked (a rollback's task has another name).
            outcome.added += router_pieces(router, str(res.get("stdout", "")))
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get(
            "ignore_errors"
        ):
            detail = str(res.get("stderr") or res.get("msg") or res.get("stdout") or "").strip()
            outcome.error = f"{task}: {detail.splitlines()[-1][:300] if detail else 'failed'}"

    inv = inventory(batch, sources, state=state, undo=undo)
    run_playbook("ipv6_migration.yml", inv, limit=[t.name for t in batch], on_event=on_event)


def host_pieces(stdout: str, known: Sequence[str] = ()) -> list[str]:
    """The pieces the host task says it added ("changed PIECE" lines), in the
    role's order, each once and none of `known`."""
    said = {line.removeprefix("changed ").strip() for line in stdout.splitlines()}
    return [p for p in PIECES if p in said and p not in known]


def gate(
    batch: list[Target],
    probe: Prober,
    *,
    settle_s: float = 10.0,
    watch: SegmentWatch | None = None,
    ra: RaWire | None = None,
) -> list[str]:
    """What the routers, the NMS, (with `watch`) the packet sensor and (with
    `ra`) the routers' segments show of a migrated batch; [] when every gate
    is green.

    Measured again until `settle_s` has passed: OSPFv3 needs a few hellos,
    neighbour discovery on a fresh address a moment. The sensor's counts
    grow over the whole window: the probes are the traffic it must see.
    """
    deadline = time.monotonic() + settle_s
    while True:
        findings = []
        for t in batch:
            if isinstance(t, MigrationRouter):
                seen = probe.router(t, ipv6=True)
                heard = ra.heard if ra is not None else None
                findings += [f"{t.name}: {f}" for f in router_findings(t, seen, heard)]
                continue
            checks = (
                ("router gateway", probe.router_gateway(t)),
                (f"ping6 {t.ip6}", probe.ping(t.ip6, 6)),
                (f"ssh over IPv6 to {t.ip6}", probe.ssh(t, 6)),
                (f"IPv4 ping {t.ip4}", probe.ping(t.ip4, 4)),
            )
            findings += [f"{t.name}: {what}: {seen}" for what, seen in checks if seen]
        if watch is not None:
            findings += watch.findings()
        if not findings or time.monotonic() >= deadline:
            return findings
        time.sleep(1.0)


Progress = Callable[[str, BatchResult | None], None]


def migrate(
    batches: list[list[Target]],
    sources: list[dict[str, str]],
    probe: Prober,
    *,
    settle_s: float = 10.0,
    progress: Progress | None = None,
    adoption: Adoption | None = None,
    ra_check: RaCheck | None = None,
) -> MigrationReport:
    """Migrate `batches` in order; a failed gate rolls its batch back and stops.

    With `adoption`, a host batch's gate also needs the packet sensor to see
    IPv6 flows on each host's segment; with `ra_check`, a router batch's gate
    needs each router's RA, as declared, on the wire of each segment."""
    started = time.monotonic()
    report = MigrationReport([], len(batches))
    say = progress or (lambda _text, _batch: None)
    for index, (batch, canary) in enumerate(zip(batches, canaries(batches), strict=True), 1):
        stage = batch[0].stage
        kind = "routers" if isinstance(batch[0], MigrationRouter) else "hosts"
        outcomes = {t.name: TargetOutcome(t.name, t.stage) for t in batch}
        result = BatchResult(stage, index, canary, outcomes, kind=kind)
        names = ", ".join(t.name for t in batch)
        label = f"{stage} {kind[:-1]} {'canary' if canary else 'batch'}"
        say(f"batch {index}/{len(batches)} ({label}): migrating {names}", None)
        t0 = time.monotonic()
        apply(batch, sources, result.targets)
        result.apply_s = time.monotonic() - t0
        t0 = time.monotonic()
        if not any(o.error for o in result.targets.values()):
            say(f"batch {index}/{len(batches)}: gates", None)
            result.findings = _gated(batch, probe, result, settle_s, (adoption, ra_check))
        result.gate_s = time.monotonic() - t0
        if not result.ok:
            say(f"batch {index}/{len(batches)}: gate failed, rolling back", None)
            t0 = time.monotonic()
            undo = {name: list(o.added) for name, o in result.targets.items()}
            back = {t.name: TargetOutcome(t.name, t.stage) for t in batch}
            apply(batch, sources, back, state="absent", undo=undo)
            result.findings += [f"{o.name}: rollback: {o.error}" for o in back.values() if o.error]
            result.rollback_s = time.monotonic() - t0
            result.rolled_back = True
        report.batches.append(result)
        say(f"batch {index}/{len(batches)}: {'ok' if result.ok else 'FAILED'}", result)
        if not result.ok:
            break
    report.duration_s = time.monotonic() - started
    return report


def _gated(
    batch: list[Target],
    probe: Prober,
    result: BatchResult,
    settle_s: float,
    watches: tuple[Adoption | None, RaCheck | None],
) -> list[str]:
    adoption, ra_check = watches
    routers = [t for t in batch if isinstance(t, MigrationRouter)]
    if ra_check is not None and routers:
        with ra_check(routers) as wire:
            findings = gate(batch, probe, settle_s=settle_s, ra=wire)
            result.ra = {
                r.name: {
                    s.interface: heard_text(wire.heard(r.name, s.interface)) for s in r.segments
                }
                for r in routers
            }
        return findings
    hosts = [t for t in batch if isinstance(t, HostTarget)]
    if adoption is None or not hosts:
        return gate(batch, probe, settle_s=settle_s)
    with adoption(hosts) as watch:
        findings = gate(batch, probe, settle_s=settle_s, watch=watch)
        result.adoption = watch.seen()
    return findings


def rollback(
    targets: list[Target], sources: list[dict[str, str]], probe: Prober
) -> tuple[dict[str, TargetOutcome], list[str]]:
    """Every router and host back to IPv4-only, in one run; the findings if
    one still has IPv6 or no longer answers on IPv4 (measured in parallel)."""
    outcomes = {t.name: TargetOutcome(t.name, t.stage) for t in targets}
    apply(targets, sources, outcomes, state="absent")
    with ThreadPoolExecutor(max_workers=_CHECK_WORKERS) as pool:
        found = pool.map(lambda t: [f"{t.name}: {f}" for f in _ipv4_only(t, probe)], targets)
        return outcomes, [f for per_target in found for f in per_target]


def _ipv4_only(t: Target, probe: Prober) -> list[str]:
    if isinstance(t, MigrationRouter):
        return ipv4_only_findings(t, probe.router(t, ipv6=False))
    findings = []
    if not probe.ping(t.ip6, 6):
        findings.append(f"still answers ping6 at {t.ip6}")
    seen = probe.ping(t.ip4, 4)
    if seen:
        findings.append(f"IPv4 ping {t.ip4}: {seen}")
    return findings
