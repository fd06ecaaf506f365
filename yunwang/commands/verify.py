"""`yunwang verify cloud ESTATE`: the live cloud against the estate, drift graded and stored."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from security.audit import record
from yunwang.commands._security import JsonFlag, StoreOption, store_from
from yunwang.console import EXIT_INVALID, err, fail, load_estate, out, print_json

if TYPE_CHECKING:
    from infra.verify import Report
    from security.levels import WarningLevel

verify_app = typer.Typer(help="Check what is deployed against the estate.", no_args_is_help=True)
COLOURS = {"red": "red", "orange": "dark_orange", "yellow": "yellow", "blue": "blue"}


def register(app: typer.Typer) -> None:
    app.add_typer(verify_app, name="verify")


@verify_app.command("cloud")
def cloud(
    estate: Annotated[Path, typer.Argument(help="The estate file.")],
    cloud_name: Annotated[
        str | None,
        typer.Option(
            "--cloud",
            help="A cloud in clouds.yaml, or a clouds.yaml path (default: the OS_* variables).",
        ),
    ] = None,
    stack: Annotated[
        Path | None,
        typer.Option(help="The Pulumi.<stack>.yaml the cloud was deployed with."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Read the live cloud (read-only) and report missing, different and unmanaged objects. Exit 1 on drift."""
    # Imported here: a mistaken argument is refused without the planner and the reader.
    from infra.planning import PlanError, plan_estates, read_stack_config
    from infra.verify import verify
    from infra.verify.credentials import CredentialError, connector
    from infra.verify.reader import ReadError, ReadOnlyCloud

    spec = load_estate(estate)
    # The SDK logs each failed attempt; the verb reports the failure once, in one line.
    for logger in ("keystoneauth", "openstack"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    try:
        connect = connector(cloud_name)
    except CredentialError as exc:
        fail(str(exc))
    readonly = ReadOnlyCloud(connect)
    try:
        with err.status("planning and reading the cloud…", spinner="dots"):
            plan = plan_estates([spec], read_stack_config(stack) if stack else {})[0]
            report = verify(spec, readonly, plan)
    except (PlanError, ReadError) as exc:
        _audit(estate, "failure", {"error": str(exc)})
        fail(str(exc))
    except Exception as exc:  # keystoneauth's and the SDK's: unreachable, refused, bad token
        if type(exc).__module__.split(".")[0] not in ("keystoneauth1", "openstack"):
            raise
        _audit(estate, "failure", {"error": str(exc).splitlines()[0]})
        fail(f"cloud: {str(exc).splitlines()[0]}")
    finally:
        readonly.close()
    graded = _store(report, store)
    _audit(
        estate,
        "failure" if report.drifts else "success",
        {
            "drifts": len(report.drifts),
            "red": sum(1 for _, level in graded if level == "red"),
            "api_calls": report.api_calls,
        },
    )
    if as_json:
        print_json(_as_json(report, graded))
    else:
        _print(report, graded)
    if report.drifts:
        raise SystemExit(EXIT_INVALID)


def _store(report: Report, url: str | None) -> list[tuple[str, WarningLevel | None]]:
    """Every drift as an event through the security pipeline (warnings raised and stored)."""
    from infra.verify.events import drift_event, grade
    from security.events import utcnow
    from security.pipeline import Pipeline
    from security.rulebook import load_rules

    rules = load_rules()
    now = utcnow()
    events = [drift_event(d, now) for d in report.drifts]
    graded: list[tuple[str, WarningLevel | None]] = []
    for event in events:
        found = grade(event, rules)
        graded.append(found if found else ("", None))
    if events:
        pipeline = Pipeline(store_from(url), rules=rules)
        try:
            pipeline.submit(events)
            pipeline.tick()
        finally:
            pipeline.close()
    return graded


def _audit(estate: Path, outcome: str, detail: dict[str, Any]) -> None:
    record(action="infra.verify-cloud", target=str(estate), outcome=outcome, detail=detail)  # type: ignore[arg-type]


def _as_json(report: Report, graded: list[tuple[str, WarningLevel | None]]) -> dict[str, Any]:
    return {
        "estate": report.estate,
        "drifts": [
            {
                "finding": d.finding,
                "kind": d.kind,
                "object": d.key,
                "region": d.region or "global",
                "fields": {n: {"declared": w, "live": h} for n, (w, h) in d.fields.items()},
                "tenant": d.tenant,
                "zone": d.zone,
                "exposure": d.exposure,
                "change": d.change,
                "rule": rule,
                "level": level,
            }
            for d, (rule, level) in zip(report.drifts, graded, strict=True)
        ],
        "checked": report.checked,
        "notes": report.notes,
        "api_calls": report.api_calls,
        "seconds": round(report.seconds, 3),
    }


def _print(report: Report, graded: list[tuple[str, WarningLevel | None]]) -> None:
    checked = sum(report.checked.values())
    title = (
        f"{report.estate}: {checked} declared objects checked, {len(report.drifts)} drifts "
        f"({report.api_calls} API reads, {report.seconds:.1f} s)"
    )
    if not report.drifts:
        out.print(f"[green]no drift[/]: {title}")
    else:
        table = Table(title=title)
        for column in ("level", "finding", "kind", "object", "detail"):
            table.add_column(column)
        for d, (_rule, level) in zip(report.drifts, graded, strict=True):
            colour = COLOURS.get(level or "", "white")
            detail = d.summary or d.change or ""
            table.add_row(f"[{colour}]{level or '-'}[/]", d.finding, d.kind, d.key, detail)
        out.print(table)
    for note in report.notes:
        out.print(f"[dim]note[/]: {note}", highlight=False)
