"""`yunwang migrate ipv6`: a staged, reversible IPv6 migration of routers and hosts.

    yunwang migrate ipv6 examples/small.yaml plan --lab
    yunwang migrate ipv6 examples/small.yaml run --lab --stage county --canary hl
    yunwang migrate ipv6 examples/small.yaml status --lab
    yunwang migrate ipv6 examples/small.yaml rollback --lab --stage county
    yunwang migrate ipv6 examples/puyang.yaml plan        # the real network

Without --lab the targets are the estate's: every node's router and the
hosts its nodes declare (extranet.nodes[].hosts), reached over SSH as
extranet.ansible says; the gates measure from this machine and the routers.

Stage by stage from the city down, in each the routers (LAN prefixes, RA,
OSPFv3) then the hosts, each a canary then batches; after each batch the
gates measure: OSPFv3 neighbours Full, prefixes on the routers, their RAs
with the estate's flags (on the wire of each LAN in the lab), ping6
from the NMS to their LAN gateways; ping6, ssh over IPv6 and IPv4 ping to
every host; with --adoption-gate, the packet sensor on each host's segment
must see IPv6 flows while those probes run. A failed gate rolls the batch
back and stops (exit 1). Every
batch is in the audit trail; `yunwang.migration` events go to the store; the
record in $YUNWANG_HOME/migrations says what is migrated, when and by whom.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from security.audit import current_actor
from yunwang.commands._batches import print_not_run, report_json, run_summary, say
from yunwang.commands._security import JsonFlag, StoreOption, grade_and_store
from yunwang.console import (
    EXIT_INVALID,
    EXIT_USAGE,
    err,
    fail,
    load_estate,
    out,
    print_json,
    running_lab,
)

if TYPE_CHECKING:
    from estate import Estate
    from playbooks.migration import Prober, Target
    from playbooks.migration_report import BatchResult, MigrationReport

migrate_app = typer.Typer(help="Migrate the network to IPv6, stage by stage, reversibly.")
ACTIONS = ("plan", "run", "status", "rollback")


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")


@migrate_app.command("ipv6")
def ipv6(
    estate_file: Annotated[Path, typer.Argument(metavar="ESTATE", help="The estate YAML")],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="plan, run, status or rollback")],
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Only this stage: city, county, township or village"),
    ] = None,
    canary: Annotated[
        str | None, typer.Option("--canary", help="The stage's first host (or router: its host)")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Hosts per batch after the canary")] = 4,
    settle_s: Annotated[
        float, typer.Option("--settle", help="Seconds a batch has to pass its gates (1-300)")
    ] = 10.0,
    adoption_gate: Annotated[
        bool,
        typer.Option(
            "--adoption-gate",
            help="Also gate host batches on the packet sensor seeing IPv6 on their segments",
        ),
    ] = False,
    lab: Annotated[
        bool,
        typer.Option("--lab", help="Migrate the lab's routers and hosts, not the estate's"),
    ] = False,
    lab_dir: Annotated[Path | None, typer.Option("--lab-dir", help="Lab directory")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Plan, run, show or roll back the IPv6 migration of the estate's routers and hosts."""
    from playbooks.migration import MigrationError, plan
    from playbooks.migration_record import load, record_path

    if action not in ACTIONS:
        fail(f"ACTION {action[:40]!r}: expected one of {', '.join(ACTIONS)}", EXIT_USAGE)
    if not 1 <= settle_s <= 300:
        fail(f"--settle {settle_s:g}: expected 1 to 300 seconds", EXIT_USAGE)
    estate = load_estate(estate_file)
    on_lab = lab or lab_dir is not None
    if adoption_gate and not on_lab:
        fail(
            "--adoption-gate: the packet sensor's gate runs in the lab only (add --lab)", EXIT_USAGE
        )
    the_lab = running_lab(lab_dir) if on_lab else None
    if the_lab is not None:
        from playbooks.migration_lab import lab_targets

        targets = lab_targets(the_lab, estate)
    else:
        # The real network: the estate's routers and the hosts it declares,
        # reached over SSH as extranet.ansible says.
        from playbooks.migration_estate import estate_targets

        targets = estate_targets(estate)
    path = record_path(estate_file, lab=on_lab)
    try:
        batches = plan(targets, stage=stage, canary=canary, size=batch)
    except MigrationError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        migrated = load(path)
    except MigrationError as exc:
        fail(str(exc))
    if action == "plan":
        _show_plan(batches, migrated, as_json)
    elif action == "status":
        _show_status(targets, migrated, stage, as_json)
    elif action == "run":
        gates = _Gates(settle_s, adoption_gate)
        reach = _reach(the_lab, estate)
        _run(reach, estate, str(estate_file), batches, path, migrated, gates, store, as_json)
    else:
        from playbooks.migration_record import check_rollback_order

        try:
            check_rollback_order(migrated, stage)
        except MigrationError as exc:
            fail(str(exc), EXIT_USAGE)
        chosen = [t for t in targets if stage is None or t.stage == stage]
        reach = _reach(the_lab, estate)
        _rollback(reach, estate, str(estate_file), chosen, stage, path, migrated, store, as_json)


def _show_plan(batches: list[list[Target]], migrated: dict[str, Any], as_json: bool) -> None:
    from playbooks.migration import canaries
    from playbooks.migration_routers import MigrationRouter

    rows = [
        {
            "batch": i,
            "stage": b[0].stage,
            "kind": "routers" if isinstance(b[0], MigrationRouter) else "hosts",
            "canary": canary,
            "targets": [t.name for t in b],
            "migrated": [t.name for t in b if t.name in migrated],
        }
        for i, (b, canary) in enumerate(zip(batches, canaries(batches), strict=True), start=1)
    ]
    if as_json:
        print_json({"batches": rows})
        return
    table = Table(title=f"IPv6 migration plan: {len(rows)} batches")
    for column in ("batch", "stage", "kind", "routers or hosts", "already migrated"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["batch"]),
            str(r["stage"]),
            f"{r['kind']} {'canary' if r['canary'] else 'batch'}",
            ", ".join(r["targets"]),  # type: ignore[arg-type]
            ", ".join(r["migrated"]) or "-",  # type: ignore[arg-type]
        )
    out.print(table)


def _show_status(
    targets: list[Target], migrated: dict[str, Any], stage: str | None, as_json: bool
) -> None:
    rows = [
        {"name": t.name, "stage": t.stage, "router": t.router, **migrated.get(t.name, {})}
        | {"migrated": t.name in migrated}
        for t in targets
        if stage is None or t.stage == stage
    ]
    if as_json:
        print_json({"targets": rows, "migrated": sum(bool(r["migrated"]) for r in rows)})
        return
    table = Table(title=f"IPv6 migration: {sum(bool(r['migrated']) for r in rows)}/{len(rows)}")
    for column in ("router or host", "stage", "router", "migrated at", "by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["stage"]),
            str(r["router"]),
            str(r.get("migrated_at", "IPv4-only")),
            str(r.get("by", "-")),
        )
    out.print(table)


@dataclass(frozen=True)
class _Reach:
    """Where the gates measure from and what the firewalls' sources are: the
    lab's NMS namespace, or this machine and SSH on the real network."""

    sources: list[dict[str, str]]
    prober: Prober
    lab: Any  # a lab.Lab, or None on the real network


def _reach(the_lab: Any, estate: Estate) -> _Reach:
    from playbooks.migration_lab import LabProber, lab_sources

    if the_lab is not None:
        return _Reach(lab_sources(the_lab), LabProber(the_lab), the_lab)
    from playbooks.migration_estate import SshReach, estate_sources

    return _Reach(estate_sources(estate), LabProber(SshReach(estate)), None)


@dataclass(frozen=True)
class _Gates:
    settle_s: float
    adoption: bool  # the packet sensor on the host batches' segments


def _run(
    reach: _Reach,
    estate: Estate,
    estate_file: str,
    batches: list[list[Target]],
    path: Path,
    migrated: dict[str, Any],
    gates: _Gates,
    store: str | None,
    as_json: bool,
) -> None:
    from playbooks.migration import Adoption, RaCheck, migrate
    from playbooks.migration_record import note_batch, save, to_events
    from playbooks.runner import RunError
    from security.audit import record

    if not batches:
        fail(f"{estate_file}: no router or host to migrate")
    who = current_actor()
    routers = {t.name: t.router for b in batches for t in b}

    def progress(text: str, done: BatchResult | None) -> None:
        say(text)
        if done is None:
            return
        note_batch(migrated, done, routers, who)
        save(path, migrated)  # after every batch: a resumed run knows where it is
        record(
            "migrate.ipv6.run.batch",
            estate_file,
            "success" if done.ok else "failure",
            _batch_detail(done),
            actor=who,
        )

    adoption: Adoption | None = None
    if gates.adoption:  # the sensor (and scapy) only when asked for
        from yunwang.commands._adoption import lab_adoption

        adoption = partial(lab_adoption, reach.lab)
    ra_check: RaCheck | None = None
    if reach.lab is not None:  # the routers' RAs on the wire of their LANs
        from yunwang.commands._adoption import lab_ra

        ra_check = partial(lab_ra, reach.lab)
    try:
        report = migrate(
            batches,
            reach.sources,
            reach.prober,
            settle_s=gates.settle_s,
            progress=progress,
            adoption=adoption,
            ra_check=ra_check,
        )
    except RunError as exc:
        record("migrate.ipv6.run", estate_file, "failure", {"error": str(exc)}, actor=who)
        fail(str(exc))
    stored = grade_and_store(store, estate, lambda _s: to_events(report, estate_file, routers))
    failed = report.failed()
    record(
        "migrate.ipv6.run",
        estate_file,
        "success" if report.ok else "failure",
        {"batches": [[t.name for t in b] for b in batches]} | run_summary(report, stored),
        actor=who,
    )
    if as_json:
        print_json(report_json(report, _batch_detail))
    else:
        _print(report)
    if failed is not None:
        err.print(
            f"migration stopped at batch {failed.index} (rolled back): {failed.failure()}",
            markup=False,
            emoji=False,  # "2001:db8::a: seen" is an address, not an emoji code
        )
        raise typer.Exit(EXIT_INVALID)


def _rollback(
    reach: _Reach,
    estate: Estate,
    estate_file: str,
    hosts: list[Target],
    stage: str | None,
    path: Path,
    migrated: dict[str, Any],
    store: str | None,
    as_json: bool,
) -> None:
    import time

    from playbooks.migration import rollback
    from playbooks.migration_record import forget, rollback_event, save
    from playbooks.runner import RunError
    from security.audit import record

    if not hosts:
        fail(f"{estate_file}: no router or host in stage {stage}")
    who = current_actor()
    started = time.monotonic()
    say(f"rollback of {len(hosts)} routers and hosts ({stage or 'all stages'}) to IPv4-only")
    try:
        outcomes, findings = rollback(hosts, reach.sources, reach.prober)
    except RunError as exc:
        record("migrate.ipv6.rollback", estate_file, "failure", {"error": str(exc)}, actor=who)
        fail(str(exc))
    findings = [f"{o.name}: {o.error}" for o in outcomes.values() if o.error] + findings
    duration = time.monotonic() - started
    names = [t.name for t in hosts]
    forget(migrated, names, findings)
    save(path, migrated)
    stored = grade_and_store(store, estate, lambda _s: [rollback_event(stage, names, findings)])
    record(
        "migrate.ipv6.rollback",
        estate_file,
        "failure" if findings else "success",
        {"stage": stage, "targets": names, "findings": findings, "duration_s": round(duration, 1)}
        | {"events": stored},
        actor=who,
    )
    result = {"stage": stage, "targets": names, "ok": not findings, "findings": findings}
    if as_json:
        print_json(result | {"duration_s": round(duration, 1)})
    else:
        out.print(f"{len(names)} IPv4-only in {duration:.1f} s: {', '.join(names)}")
    if findings:
        err.print(f"rollback incomplete: {'; '.join(findings)}", markup=False, emoji=False)
        raise typer.Exit(EXIT_INVALID)


def _batch_detail(done: BatchResult) -> dict[str, object]:
    return {
        "batch": done.index,
        "stage": done.stage,
        "kind": done.kind,
        "canary": done.canary,
        "targets": {
            n: {"added": o.added, "error": o.error or None} for n, o in done.targets.items()
        },
        "findings": done.findings,
        "rolled_back": done.rolled_back,
        "adoption": done.adoption,
        "ra": done.ra,
        "apply_s": round(done.apply_s, 1),
        "gate_s": round(done.gate_s, 1),
        "rollback_s": round(done.rollback_s, 1),
    }


def _print(report: MigrationReport) -> None:
    table = Table(title=f"IPv6 migration in {report.duration_s:.0f} s")
    for column in ("batch", "stage", "router or host", "result", "apply s", "gate s"):
        table.add_column(column, overflow="fold")
    for b in report.batches:
        for name, o in b.targets.items():
            mine = b.findings_of(name)
            if o.error or mine:
                result = "rolled back: " + (o.error or "; ".join(mine))
            else:
                result = ", ".join(o.added) if o.added else "unchanged"
            table.add_row(
                str(b.index), b.stage, name, Text(result), f"{b.apply_s:.1f}", f"{b.gate_s:.1f}"
            )
    out.print(table)
    print_not_run(report, "migration")
