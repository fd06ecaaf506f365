"""`yunwang dr`: drills that measure RPO/RTO, and the DR state of every system.

    yunwang dr drill examples/small.yaml gaj/jwzh --kind failover --lab   # the estate's dr.standby
    yunwang dr drill examples/small.yaml gaj/jwzh --kind failover --lab --standby dr-h1
    yunwang dr drill examples/small.yaml gaj/jwzh --kind restore --lab --standby dr-h1 --scratch dr-h2
    yunwang dr backup examples/small.yaml gaj/jwzh --lab --standby dr-h1 --path /etc/postgresql
    yunwang dr check examples/small.yaml gaj/jwzh --lab --standby dr-h1
    yunwang dr status examples/small.yaml --json

Drill records and checks go to the store as `yunwang.dr` events (posture's
DR component, rule YW-DR-001) and every drill to the audit trail.
Passwords come from references: $YUNWANG_DR_REPLICATION_PASSWORD,
$YUNWANG_DR_APP_PASSWORD, $YUNWANG_RESTIC_PASSWORD.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from security.audit import current_actor
from yunwang.commands._security import (
    JsonFlag,
    StoreOption,
    grade_and_store,
    store_from,
)
from yunwang.console import (
    EXIT_INVALID,
    EXIT_USAGE,
    fail,
    load_estate,
    out,
    print_json,
    running_lab,
)

if TYPE_CHECKING:
    from estate import Estate
    from estate.model import DrClass, System
    from security.events import Event

dr_app = typer.Typer(help="DR centre: drills (failover, restore), checks, status.")

EstateArg = Annotated[Path, typer.Argument(metavar="ESTATE", help="The estate YAML")]
SystemArg = Annotated[str, typer.Argument(metavar="SYSTEM", help="tenant/system, e.g. gaj/jwzh")]
LabDir = Annotated[Path | None, typer.Option("--lab-dir", help="Lab directory")]
LabFlag = Annotated[bool, typer.Option("--lab", help="Act on the lab's hosts (yunwang lab up)")]
Standby = Annotated[
    str | None,
    typer.Option(
        "--standby",
        help="The DR-centre host (standby, repository); default: the system's dr.standby",
    ),
]
Paths = Annotated[
    list[str] | None,
    typer.Option(
        "--path", help="A path to back up (repeat); default: the system's dr.backup_paths"
    ),
]
Primary = Annotated[
    str | None, typer.Option("--primary", help="The primary host (default: the system's own)")
]


def register(app: typer.Typer) -> None:
    app.add_typer(dr_app, name="dr")


def _system(estate: Estate, name: str) -> tuple[System, DrClass]:
    system = estate.system_named(name)  # codes or names: gaj/jwzh, 市公安局/警务综合平台
    if system is None:
        fail(f"{estate.file}: no system {name!r} (expected tenant/system)", EXIT_USAGE)
    if system.dr_class is None:
        fail(f"{estate.file}: system {name} has no dr_class", EXIT_USAGE)
    return system, estate.dr.classes[system.dr_class]


def _standby(estate: Estate, system: System, given: str | None) -> str:
    """--standby, else the estate's: the flag overrides what the file declares."""
    standby = given or system.dr.standby
    if not standby:
        fail(
            f"{estate.file}: system {system.ref} declares no dr.standby; "
            "pass --standby HOST or declare dr: {standby: HOST} on the system",
            EXIT_USAGE,
        )
    return standby


def _paths(system: System, given: list[str] | None) -> tuple[str, ...]:
    return tuple(given) if given else system.dr.backup_paths


def _hosts(lab: bool, lab_dir: Path | None) -> Any:
    if not lab and lab_dir is None:
        fail("dr: only lab hosts are reachable from here; pass --lab or --lab-dir", EXIT_USAGE)
    return running_lab(lab_dir)


def _primary(hosts: Any, system: System, given: str | None) -> str:
    if given:
        return given
    key = system.ref
    for host in hosts.hosts:
        if host.system == key:
            return str(host.name)
    fail(f"no lab host of {key}: pass --primary", EXIT_USAGE)


def _submit(estate: Estate, url: str | None, events: list[Event]) -> None:
    grade_and_store(url, estate, lambda _store: events)


@dr_app.command()
def drill(
    estate_file: EstateArg,
    system_name: SystemArg,
    kind: Annotated[str, typer.Option("--kind", help="failover or restore")],
    standby: Standby = None,
    primary: Primary = None,
    scratch: Annotated[
        str | None, typer.Option("--scratch", help="Restore drill: the host to restore on")
    ] = None,
    path: Paths = None,
    rate: Annotated[float, typer.Option("--rate", help="Writer commits per second")] = 100.0,
    lab: LabFlag = False,
    lab_dir: LabDir = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run one drill and record it: declared vs achieved RPO/RTO, pass or fail."""
    from dr.backup import ResticLine, back_up, restore_drill
    from dr.checks import backup_finished
    from dr.failover import failover_drill
    from dr.pair import RESTIC_REF, DrError, DrPair, orient, resolve, secrets
    from dr.record import DrillRecord
    from lab.errors import LabError
    from security.audit import record as audit
    from security.events import utcnow

    if kind not in ("failover", "restore"):
        fail(f"--kind {kind!r}: expected failover or restore", EXIT_USAGE)
    if not 1 <= rate <= 1000:
        fail(f"--rate {rate:g}: expected 1 to 1000 commits per second", EXIT_USAGE)
    estate = load_estate(estate_file)
    system, dr = _system(estate, system_name)
    standby_host = _standby(estate, system, standby)
    hosts = _hosts(lab, lab_dir)
    events = []
    try:
        creds = secrets()
        restic_password = resolve(RESTIC_REF) if kind == "restore" else ""
    except DrError as exc:
        fail(f"dr drill {system_name}: {exc}", EXIT_USAGE)
    pair = DrPair(
        hosts,
        _primary(hosts, system, primary),
        standby_host,
        creds,
        sync=dr.rpo_s == 0,
    )
    record = DrillRecord.begin(system, dr, kind, current_actor(), utcnow())  # type: ignore[arg-type]
    try:
        orient(pair)
        if kind == "failover":
            record.steps["setup"] = pair.setup()
            failover_drill(pair, record, rate=rate)
        else:
            line = ResticLine(hosts, pair.standby, system_name, restic_password)
            facts = back_up(line, pair.primary, _paths(system, path), dr.retention)
            events.append(backup_finished(system, dr, utcnow(), facts))
            restore_drill(line, scratch or pair.standby, record)
    except (DrError, LabError) as exc:
        audit(f"dr.drill.{kind}", system_name, "failure", {"error": str(exc)})
        fail(f"dr drill {system_name}: {exc}")
    finally:
        events.append(record.to_event())
    _submit(estate, store, events)
    audit(
        f"dr.drill.{kind}", system_name, "success" if record.passed else "failure", record.to_json()
    )
    if as_json:
        print_json(record.to_json())
    else:
        _print_record(record)
    if not record.passed:
        raise typer.Exit(EXIT_INVALID)


def _print_record(record: Any) -> None:
    verdict = "[green]passed[/]" if record.passed else "[red]failed[/]"
    out.print(f"{record.kind} drill of {record.system} ({record.dr_class}): {verdict}")
    for name, declared, achieved in (
        ("RPO", record.declared_rpo_s, record.achieved_rpo_s),
        ("RTO", record.declared_rto_s, record.achieved_rto_s),
    ):
        shown = "-" if achieved is None else f"{achieved:.3f} s"
        out.print(f"  {name}: achieved {shown}, class {declared:g} s")
    for step, seconds in record.steps.items():
        out.print(f"  step {step}: {seconds:.3f} s")
    out.print(f"  {record.reason}", markup=False)


@dr_app.command()
def backup(
    estate_file: EstateArg,
    system_name: SystemArg,
    standby: Standby = None,
    primary: Primary = None,
    path: Paths = None,
    lab: LabFlag = False,
    lab_dir: LabDir = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Back a system up to the DR centre (database dump and paths), then apply
    its class's retention; the backup's age is what YW-DR-001 watches."""
    from dr.backup import ResticLine, back_up
    from dr.checks import backup_finished
    from dr.pair import RESTIC_REF, DrError, resolve
    from lab.errors import LabError
    from security.audit import record as audit
    from security.events import utcnow

    estate = load_estate(estate_file)
    system, dr = _system(estate, system_name)
    repository = _standby(estate, system, standby)
    hosts = _hosts(lab, lab_dir)
    try:
        password = resolve(RESTIC_REF)
    except DrError as exc:
        fail(f"dr backup {system_name}: {exc}", EXIT_USAGE)
    source = _primary(hosts, system, primary)
    try:
        line = ResticLine(hosts, repository, system_name, password)
        facts = back_up(line, source, _paths(system, path), dr.retention)
    except (DrError, LabError) as exc:
        audit("dr.backup", system_name, "failure", {"error": str(exc)})
        fail(f"dr backup {system_name}: {exc}")
    event = backup_finished(system, dr, utcnow(), facts)
    _submit(estate, store, [event])
    audit("dr.backup", system_name, "success", facts)
    if as_json:
        print_json(event.to_ecs())
    else:
        out.print(event.message, markup=False)


@dr_app.command()
def check(
    estate_file: EstateArg,
    system_name: SystemArg,
    standby: Standby = None,
    lab: LabFlag = False,
    lab_dir: LabDir = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Read the standby's replication lag against the class RPO (YW-DR-001)."""
    from dr.checks import replica_check
    from security.events import utcnow

    estate = load_estate(estate_file)
    system, dr = _system(estate, system_name)
    host = _standby(estate, system, standby)
    event = replica_check(_hosts(lab, lab_dir), host, system, dr, utcnow())
    _submit(estate, store, [event])
    if as_json:
        print_json(event.to_ecs())
    else:
        out.print(event.message, markup=False)
    if event.outcome != "success":
        raise typer.Exit(EXIT_INVALID)


@dr_app.command()
def status(
    estate_file: EstateArg,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every replicated system: class, lag, last backup age, last drill;
    overdue drills and backups go to the store as YW-DR-001 events."""
    from datetime import timedelta

    from dr.checks import DATASET, fold, overdue
    from security.events import utcnow

    estate = load_estate(estate_file)
    now = utcnow()
    window = timedelta(seconds=2 * estate.dr.drill_interval_s)
    opened = store_from(store, read_only=True)
    try:
        events = list(opened.iter_events([DATASET], now - window))
    finally:
        opened.close()
    statuses = fold(estate, events)
    late = overdue(estate, statuses, now)
    if late:
        _submit(estate, store, late)
    rows = [s.row(now) for s in statuses]
    if as_json:
        print_json({"systems": rows, "overdue": [e.message for e in late]})
        return
    table = Table("system", "class", "RPO s", "lag s", "backup age s", "last drill")
    for row in rows:
        drill_row = row["last_drill"]
        table.add_row(
            row["system"],
            row["class"],
            f"{row['rpo_s']:g}",
            row["replication_lag_s"] or "-",
            "-" if row["last_backup_age_s"] is None else f"{row['last_backup_age_s']:.0f}",
            "-"
            if drill_row is None
            else f"{drill_row['kind']} {'passed' if drill_row['passed'] else 'failed'}",
        )
    out.print(table)
