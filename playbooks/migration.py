"""A staged, reversible IPv6 migration of the hosts, stage by stage.

Stages follow the estate's hierarchy (a host belongs to the stage of the
router its segment hangs off). Each stage starts with a canary host, then the
rest in batches. Per batch the `ipv6_migration` role gives the hosts their
planned address, default route, sshd on IPv6 and the IPv6 twins of their
IPv4 firewall rules; then gates measure from the NMS: ping6 and ssh over
IPv6 to every host of the batch, IPv4 ping still answering. A failed gate
takes back exactly what the batch added (the role reports each piece it
changed) and stops the migration.

The routers of the lab are dual-stack already (their LAN gateways carry the
planned IPv6 prefix): the router part is a gate that verifies the gateway,
not a change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from playbooks.runner import RunnerEvent, run_playbook

STAGES = ("city", "county", "township", "village")
DEFAULT_BATCH = 4
# Task name -> the piece of a host's migration it adds (see the role's migrate.yml).
PIECES = {
    "IPv6 address": "address",
    "IPv6 default route": "route",
    "The sshd listens on IPv6": "sshd",
    "IPv6 firewall rules mirror the IPv4 ones": "firewall",
}


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


class Prober(Protocol):
    """Measurements from the NMS: each returns "" when fine, else what was seen."""

    def ping(self, address: str, family: int) -> str: ...

    def ssh(self, host: HostTarget, family: int) -> str: ...

    def router_gateway(self, host: HostTarget) -> str: ...


@dataclass
class HostOutcome:
    host: str
    stage: str
    added: list[str] = field(default_factory=list)  # pieces this run added
    error: str = ""


@dataclass
class BatchResult:
    stage: str
    index: int  # 1-based over the whole run
    canary: bool
    hosts: dict[str, HostOutcome]
    findings: list[str] = field(default_factory=list)
    apply_s: float = 0.0
    gate_s: float = 0.0
    rollback_s: float = 0.0
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings and not any(o.error for o in self.hosts.values())

    def failure(self) -> str:
        errors = [f"{o.host}: {o.error}" for o in self.hosts.values() if o.error]
        return "; ".join(errors + self.findings)

    def findings_of(self, host: str) -> list[str]:
        """The gate's findings about `host` (each finding starts with its host)."""
        return host_findings(self.findings, host)


def host_findings(findings: list[str], host: str) -> list[str]:
    return [f for f in findings if f.startswith(f"{host}: ")]


def is_canary(batches: list[list[HostTarget]], index: int) -> bool:
    """Batch `index` (1-based) is its stage's canary: the first of that stage."""
    return index == 1 or batches[index - 2][0].stage != batches[index - 1][0].stage


@dataclass
class MigrationReport:
    batches: list[BatchResult]
    planned: int
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return len(self.batches) == self.planned and all(b.ok for b in self.batches)

    def failed(self) -> BatchResult | None:
        return next((b for b in self.batches if not b.ok), None)


def plan(
    targets: list[HostTarget],
    *,
    stage: str | None = None,
    canary: str | None = None,
    size: int = DEFAULT_BATCH,
) -> list[list[HostTarget]]:
    """Stage by stage from the city down; each stage a canary, then batches of `size`.

    The canary is `canary` (a host, or a router: its first host) when it is
    in the stage, else the stage's first host.
    """
    if stage is not None and stage not in STAGES:
        raise MigrationError(f"--stage {stage}: expected one of {', '.join(STAGES)}")
    if not 1 <= size <= 100:
        raise MigrationError(f"--batch {size}: expected 1 to 100 hosts per batch")
    if canary is not None and not any(canary in (t.name, t.router) for t in targets):
        sample = ", ".join(sorted({t.name for t in targets})[:8])
        raise MigrationError(f"--canary {canary}: no host or router of that id (hosts: {sample})")
    batches: list[list[HostTarget]] = []
    for level in STAGES:
        if stage is not None and level != stage:
            continue
        hosts = [t for t in targets if t.stage == level]
        if not hosts:
            continue
        first = next((t for t in hosts if canary in (t.name, t.router)), hosts[0])
        rest = [t for t in hosts if t is not first]
        batches.append([first])
        batches += [rest[i : i + size] for i in range(0, len(rest), size)]
    return batches


def inventory(
    targets: list[HostTarget],
    sources: list[dict[str, str]],
    *,
    state: str = "present",
    undo: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    hosts = {}
    for t in targets:
        hosts[t.name] = {
            **t.connection,
            "ipv6_migration_state": state,
            "ipv6_migration_address": t.address6,
            "ipv6_migration_gateway": t.gateway6,
            "ipv6_migration_sources": sources,
        }
        if undo is not None:
            hosts[t.name]["ipv6_migration_undo"] = undo.get(t.name, [])
    return {"all": {"hosts": hosts}}


def apply(
    batch: list[HostTarget],
    sources: list[dict[str, str]],
    outcomes: dict[str, HostOutcome],
    *,
    state: str = "present",
    undo: dict[str, list[str]] | None = None,
) -> None:
    """Run the role on `batch`; each outcome gets the pieces added and any error."""

    def on_event(event: RunnerEvent) -> None:
        data = event.get("event_data") or {}
        outcome = outcomes.get(str(data.get("host", "")))
        if outcome is None:
            return
        res = data.get("res") or {}
        kind = event.get("event")
        task = str(data.get("task", ""))
        if kind == "runner_on_ok" and res.get("changed") and task in PIECES:
            outcome.added.append(PIECES[task])
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get(
            "ignore_errors"
        ):
            detail = str(res.get("stderr") or res.get("msg") or res.get("stdout") or "").strip()
            outcome.error = f"{task}: {detail.splitlines()[-1][:300] if detail else 'failed'}"

    inv = inventory(batch, sources, state=state, undo=undo)
    run_playbook("ipv6_migration.yml", inv, limit=[t.name for t in batch], on_event=on_event)


def gate(batch: list[HostTarget], probe: Prober, *, settle_s: float = 10.0) -> list[str]:
    """What the NMS measures on a migrated batch; [] when every gate is green.

    Measured again until `settle_s` has passed: neighbour discovery on a
    fresh address takes a moment.
    """
    deadline = time.monotonic() + settle_s
    while True:
        findings = []
        for t in batch:
            checks = (
                ("router gateway", probe.router_gateway(t)),
                (f"ping6 {t.ip6}", probe.ping(t.ip6, 6)),
                (f"ssh over IPv6 to {t.ip6}", probe.ssh(t, 6)),
                (f"IPv4 ping {t.ip4}", probe.ping(t.ip4, 4)),
            )
            findings += [f"{t.name}: {what}: {seen}" for what, seen in checks if seen]
        if not findings or time.monotonic() >= deadline:
            return findings
        time.sleep(1.0)


Progress = Callable[[str, BatchResult | None], None]


def migrate(
    batches: list[list[HostTarget]],
    sources: list[dict[str, str]],
    probe: Prober,
    *,
    settle_s: float = 10.0,
    progress: Progress | None = None,
) -> MigrationReport:
    """Migrate `batches` in order; a failed gate rolls its batch back and stops."""
    started = time.monotonic()
    report = MigrationReport([], len(batches))
    say = progress or (lambda _text, _batch: None)
    for index, batch in enumerate(batches, start=1):
        stage = batch[0].stage
        canary = is_canary(batches, index)
        result = BatchResult(
            stage, index, canary, {t.name: HostOutcome(t.name, t.stage) for t in batch}
        )
        names = ", ".join(t.name for t in batch)
        kind = "canary" if canary else "batch"
        say(f"batch {index}/{len(batches)} ({stage} {kind}): migrating {names}", None)
        t0 = time.monotonic()
        apply(batch, sources, result.hosts)
        result.apply_s = time.monotonic() - t0
        t0 = time.monotonic()
        if not any(o.error for o in result.hosts.values()):
            say(f"batch {index}/{len(batches)}: gates from the NMS", None)
            result.findings = gate(batch, probe, settle_s=settle_s)
        result.gate_s = time.monotonic() - t0
        if not result.ok:
            say(f"batch {index}/{len(batches)}: gate failed, rolling back", None)
            t0 = time.monotonic()
            undo = {name: list(o.added) for name, o in result.hosts.items()}
            back = {t.name: HostOutcome(t.name, t.stage) for t in batch}
            apply(batch, sources, back, state="absent", undo=undo)
            result.findings += [f"{o.host}: rollback: {o.error}" for o in back.values() if o.error]
            result.rollback_s = time.monotonic() - t0
            result.rolled_back = True
        report.batches.append(result)
        say(f"batch {index}/{len(batches)}: {'ok' if result.ok else 'FAILED'}", result)
        if not result.ok:
            break
    report.duration_s = time.monotonic() - started
    return report


def rollback(
    hosts: list[HostTarget], sources: list[dict[str, str]], probe: Prober
) -> tuple[dict[str, HostOutcome], list[str]]:
    """Every host back to IPv4-only; the findings if one still answers on IPv6
    or no longer on IPv4."""
    outcomes = {t.name: HostOutcome(t.name, t.stage) for t in hosts}
    apply(hosts, sources, outcomes, state="absent")
    findings = []
    for t in hosts:
        if not probe.ping(t.ip6, 6):
            findings.append(f"{t.name}: still answers ping6 at {t.ip6}")
        seen = probe.ping(t.ip4, 4)
        if seen:
            findings.append(f"{t.name}: IPv4 ping {t.ip4}: {seen}")
    return outcomes, findings
