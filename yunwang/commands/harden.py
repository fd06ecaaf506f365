"""`yunwang harden`: check or fix hosts against MLPS 2.0, controls traced to clauses.

    yunwang harden examples/small.yaml --check
    yunwang harden examples/small.yaml --limit gaj --control YW-C-AC-001
    yunwang harden examples/small.yaml --lab --check --json

Results go to the event store as `yunwang.hardening` events (posture's
compliance component, rule YW-HOST-001); every run is in the audit trail.
Exit 0 when every selected control passes, 1 otherwise.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from estate import Estate, UnknownName
from security.audit import current_actor
from yunwang.commands._security import JsonFlag, StoreOption, grade_and_store
from yunwang.console import EXIT_INVALID, EXIT_USAGE, err, fail, load_estate, out, print_json

if TYPE_CHECKING:
    from playbooks.hardening import HostOutcome, Report
    from playbooks.inventory import Targets
    from security.events import Event
    from security.store import Store

# Tasks a host runs in a fix run, roughly: the bar's length (a check run is short).
_FIX_TASKS = 200


def register(app: typer.Typer) -> None:
    app.command(name="harden")(harden)


def harden(
    estate_file: Annotated[Path, typer.Argument(metavar="ESTATE", help="The estate YAML")],
    check: Annotated[
        bool, typer.Option("--check", help="Only read: report, change nothing")
    ] = False,
    limit: Annotated[
        list[str] | None, typer.Option("--limit", help="A tenant, system or host (repeatable)")
    ] = None,
    control: Annotated[
        list[str] | None, typer.Option("--control", help="Only this control id (repeatable)")
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="The city's hardening policy (YAML)")
    ] = None,
    lab: Annotated[
        bool, typer.Option("--lab", help="Target the lab's hosts (yunwang lab up)")
    ] = False,
    lab_dir: Annotated[Path | None, typer.Option("--lab-dir", help="Lab directory")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check or fix hosts against MLPS 2.0 level 2/3 (GB/T 22239-2019)."""
    from playbooks.controls import ControlError, resolve_ids
    from playbooks.inventory import InventoryError, estate_targets, lab_targets, load_policy
    from playbooks.runner import RunError
    from security.audit import record

    estate = load_estate(estate_file)
    mode = "check" if check else "fix"
    try:
        policy = load_policy(policy_file)
        if lab or lab_dir is not None:
            from lab.errors import LabError
            from lab.lab import Lab

            try:
                targets = lab_targets(estate, Lab(lab_dir), policy)
            except LabError as exc:
                fail(f"--lab: {exc}")
        else:
            targets = estate_targets(estate, policy)
        hosts = (
            targets.select([_tenant_code(estate, n) for n in limit])
            if limit
            else list(targets.hosts)
        )
        ids = resolve_ids(control or [])  # last: the catalogue is 135 YAML files to read
    except (ControlError, InventoryError) as exc:
        fail(str(exc), EXIT_USAGE if isinstance(exc, ControlError) else EXIT_INVALID)
    if not hosts:
        fail(f"{estate_file}: no hosts to harden")
    detail = {"estate": str(estate_file), "mode": mode, "hosts": hosts, "controls": ids}
    try:
        report = _run(targets, mode, ids, hosts, quiet=as_json)
    except RunError as exc:
        record(f"hardening.{mode}", str(estate_file), "failure", {**detail, "error": str(exc)})
        fail(str(exc))
    stored = _store(report, targets, estate, store)
    counts = Counter(r.status for r in report.results)
    record(
        f"hardening.{mode}",
        str(estate_file),
        "success" if report.ok else "failure",
        {
            **detail,
            "pass": counts["pass"],
            "fail": counts["fail"],
            "na": counts["na"],
            "changed": report.changed_total(),
            "host_states": {h: o.state for h, o in report.hosts.items()},
            "events": stored,
        },
        actor=current_actor(),
    )
    if as_json:
        print_json(_as_json(report))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(EXIT_INVALID)


def _run(targets: Targets, mode: str, ids: list[str], hosts: list[str], *, quiet: bool) -> Report:
    from playbooks.hardening import harden as run_harden

    if quiet:
        return run_harden(targets, mode=mode, controls=ids, limit=hosts)  # type: ignore[arg-type]
    bars: dict[str, TaskID] = {}
    total = _FIX_TASKS if mode == "fix" and not ids else 20
    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        for host in hosts:
            bars[host] = progress.add_task(host[:24], total=total, status="")

        def advance(host: str, outcome: HostOutcome) -> None:
            if host in bars:
                status = f"{outcome.tasks} tasks, {outcome.changed} changed"
                if outcome.state != "done":
                    status += f", {outcome.state}"
                progress.update(bars[host], completed=min(outcome.tasks, total), status=status)

        report = run_harden(targets, mode=mode, controls=ids, limit=hosts, progress=advance)  # type: ignore[arg-type]
        for bar in bars.values():
            progress.update(bar, completed=total)
    return report


def _store(report: Report, targets: Targets, estate: Estate, url: str | None) -> int:
    """Events into the store through the security pipeline (rules, warnings)."""
    from playbooks.hardening import DATASET, history_window, latest_outcomes, to_events
    from security.events import utcnow

    def build(store: Store) -> list[Event]:
        # Drift is judged against each control's last stored outcome.
        previous = latest_outcomes(store.iter_events([DATASET], utcnow() - history_window()))
        return to_events(report, targets, previous)

    return grade_and_store(url, estate, build)


def _as_json(report: Report) -> dict[str, object]:
    return {
        "mode": report.mode,
        "ok": report.ok,
        "duration_s": round(report.duration_s, 1),
        "hosts": {
            h: {"state": o.state, "message": o.message, "tasks": o.tasks, "changed": o.changed}
            for h, o in report.hosts.items()
        },
        "results": [
            {
                "host": r.host,
                "control": r.control,
                "status": r.status,
                "evidence": r.evidence,
                "changed": r.changed,
            }
            for r in report.results
        ],
    }


def _print(report: Report) -> None:
    from playbooks.controls import catalogue

    known = catalogue()
    failing = report.failing()
    if failing:
        table = Table(title="failing controls")
        for column in ("host", "control", "clause", "title", "evidence"):
            table.add_column(column, overflow="fold")
        for r in failing:
            c = known[r.control]
            table.add_row(r.host, r.control, c.clause, c.title, r.evidence)
        out.print(table)
    summary = Table(title=f"harden ({report.mode}) in {report.duration_s:.0f} s")
    for column in ("host", "state", "pass", "fail", "n/a", "changed", "note"):
        summary.add_column(column, overflow="fold")
    for host, outcome in report.hosts.items():
        counts = Counter(r.status for r in report.results if r.host == host)
        summary.add_row(
            host,
            outcome.state,
            str(counts["pass"]),
            str(counts["fail"]),
            str(counts["na"]),
            str(outcome.changed),
            outcome.message,
        )
    out.print(summary)


def _tenant_code(estate: Estate, text: str) -> str:
    """--limit 市公安局 is --limit gaj: a tenant's name as the screens show it."""
    try:
        return estate.resolve(text, ("tenant",))[1]
    except UnknownName:
        return text  # a host or a system, or nothing: select() says which
