"""`yunwang plan ESTATE` and `yunwang plan OLD NEW`: the cloud an estate asks for, under Pulumi's mocks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from estate import Estate
from infra.diff import PlanDiff, diff
from infra.invariants import CheckResult, check_all
from infra.planning import (
    Plan,
    PlanError,
    Planned,
    check_stack_against,
    plan_estates,
    read_stack_config,
)
from security.audit import record
from yunwang.console import EXIT_INVALID, err, fail, load_estate, out, print_json

DETAIL_LINES = 40


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


def plan(
    estate: Annotated[
        Path, typer.Argument(help="The estate file (the old one when NEW is given).")
    ],
    new: Annotated[
        Path | None,
        typer.Argument(help="A changed estate file: show what it adds, removes, changes."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every resource, machine-readable.")
    ] = False,
    stack: Annotated[
        Path | None,
        typer.Option(help="A Pulumi.<stack>.yaml whose plain yunwang: config the plan uses."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=16, help="Processes to spread the plan over.")
    ] = None,
) -> None:
    """Run the Pulumi program under the mock runtime: resources, invariants, or a diff. Exit 1 if an invariant fails."""
    files = [estate] if new is None else [estate, new]
    estates = [load_estate(f) for f in files]
    try:
        stack_config = read_stack_config(stack) if stack else {}
        if stack:
            check_stack_against(stack, stack_config, estates[-1])
        with err.status("planning under Pulumi's mock runtime…", spinner="dots"):
            plans = plan_estates(estates, stack_config, workers)
    except PlanError as exc:
        record(
            action="infra.plan",
            target=str(files[-1]),
            outcome="failure",
            detail={"error": str(exc)},
        )
        fail(str(exc))
    results = check_all(plans[-1], estates[-1], stack_config)
    failed = [r.name for r in results if not r.passed]
    changes = diff(plans[0], plans[1]) if new is not None else None
    record(
        action="infra.plan",
        target=str(files[-1]),
        outcome="failure" if failed else "success",
        detail={
            "resources": len(plans[-1].resources),
            "failed_invariants": failed,
            **(_change_counts(changes) if changes is not None else {}),
        },
    )
    if as_json:
        print_json(_as_json(plans[-1], results, changes))
    elif changes is not None:
        _print_diff(changes)
        _print_invariants(results)
    else:
        _print_plan(plans[-1], estates[-1])
        _print_invariants(results)
    if failed:
        raise SystemExit(EXIT_INVALID)


def _print_plan(p: Plan, estate: Estate) -> None:
    table = Table(
        title=f"{estate.city.name}: {len(p.resources)} resources planned in {p.seconds:.1f} s"
    )
    table.add_column("component")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for (component, typ), count in sorted(p.counts().items()):
        table.add_row(component, _type_name(typ), str(count))
    components = Counter(r.type for r in p.resources if not r.custom)
    for typ, count in sorted(components.items()):
        table.add_row("[dim]components[/]", typ, str(count))
    out.print(table)


def _print_invariants(results: list[CheckResult]) -> None:
    table = Table(title="invariants")
    table.add_column("check")
    table.add_column("result")
    table.add_column("checked", justify="right")
    table.add_column("what it means")
    for r in results:
        verdict = "[green]pass[/]" if r.passed else f"[red]FAIL ({len(r.findings)})[/]"
        table.add_row(r.name, verdict, str(r.checked), r.title)
    out.print(table)
    for r in results:
        for line in r.findings[:DETAIL_LINES]:
            out.print(f"  [red]{r.name}[/]: ", line, sep="", markup=True, highlight=False)
        if len(r.findings) > DETAIL_LINES:
            out.print(f"  … and {len(r.findings) - DETAIL_LINES} more (--json for all)")


def _change_counts(changes: PlanDiff) -> dict[str, int]:
    return {
        "added": len(changes.added),
        "removed": len(changes.removed),
        "changed": len(changes.changed),
    }


def _print_diff(changes: PlanDiff) -> None:
    if changes.empty:
        out.print("no changes: the new estate plans the same resources")
        return
    counts: Counter[tuple[str, str, str]] = Counter()
    for r in changes.added:
        counts[("add", r.component, r.type)] += 1
    for r in changes.removed:
        counts[("remove", r.component, r.type)] += 1
    for c in changes.changed:
        counts[("change", c.resource.component, c.resource.type)] += 1
    table = Table(title=f"+{len(changes.added)} -{len(changes.removed)} ~{len(changes.changed)}")
    table.add_column("action")
    table.add_column("component")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    style = {"add": "green", "remove": "red", "change": "yellow"}
    for (action, component, typ), count in sorted(counts.items()):
        table.add_row(
            f"[{style[action]}]{action}[/]", component, typ.rsplit(":", 1)[-1], str(count)
        )
    out.print(table)
    lines = [f"[green]+[/] {r.name} ({_short(r)})" for r in changes.added]
    lines += [f"[red]-[/] {r.name} ({_short(r)})" for r in changes.removed]
    for c in changes.changed:
        fields = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in c.fields.items())
        lines.append(f"[yellow]~[/] {c.resource.name} ({_short(c.resource)}): {fields}")
    for line in lines[:DETAIL_LINES]:
        out.print("  " + line, highlight=False)
    if len(lines) > DETAIL_LINES:
        out.print(f"  … and {len(lines) - DETAIL_LINES} more (--json for all)")


def _short(r: Planned) -> str:
    return _type_name(r.type)


def _type_name(typ: str) -> str:
    return "Provider" if typ.startswith("pulumi:providers:") else typ.rsplit(":", 1)[-1]


def _resource_json(r: Planned) -> dict[str, Any]:
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "component": r.component,
        "parent": r.parent,
        "custom": r.custom,
        "inputs": r.inputs,
        "secrets": list(r.secrets),
    }


def _as_json(p: Plan, results: list[CheckResult], changes: PlanDiff | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "estate": p.estate,
        "seconds": round(p.seconds, 3),
        "counts": [
            {"component": c, "type": t, "count": n} for (c, t), n in sorted(p.counts().items())
        ],
        "invariants": [
            {"name": r.name, "passed": r.passed, "checked": r.checked, "findings": r.findings}
            for r in results
        ],
        "resources": [_resource_json(r) for r in p.resources],
    }
    if changes is not None:
        data["diff"] = {
            "added": [_resource_json(r) for r in changes.added],
            "removed": [_resource_json(r) for r in changes.removed],
            "changed": [
                {"urn": c.resource.urn, "fields": {k: list(v) for k, v in c.fields.items()}}
                for c in changes.changed
            ],
        }
    return data
