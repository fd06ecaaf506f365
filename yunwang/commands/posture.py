"""`yunwang posture [--explain NAME] [--scope KIND]`: scores by city, county,
tenant and zone; by system and host on request."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from estate import Estate, UnknownName
from security.events import Event
from security.posture import (
    DATASETS,
    SCOPE_KINDS,
    PostureInputs,
    ScopeKind,
    Score,
    estate_scopes,
    score,
    score_all,
)
from security.store import StoreError
from security.warnings import ACTIVE
from yunwang.commands._security import JsonFlag, StoreOption, duration, store_from
from yunwang.console import fail, load_estate, out, print_json

# What --explain looks for, in this order; and what the table lists unless --scope says.
KINDS: tuple[ScopeKind, ...] = ("tenant", "county", "zone", "system", "host")
LISTED: tuple[ScopeKind, ...] = ("city", "tenant", "county", "zone")


def register(app: typer.Typer) -> None:
    app.command("posture")(posture)


def posture(
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            help="Show what takes this tenant, county, zone, system (tenant/code) or host "
            "(or 'city') down: its code, or with --estate its name (华龙区).",
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="List these kinds: city, tenant, county, zone, system, host "
            "(repeatable; default city, tenant, county, zone).",
        ),
    ] = None,
    estate_file: Annotated[
        Path | None,
        typer.Option(
            "--estate",
            help="Score every county, tenant, zone, system and host of this estate, even "
            "quiet ones; its hosts' systems and tenants fill in what stored events lack.",
        ),
    ] = None,
    history: Annotated[
        str, typer.Option("--history", help="How far back to read state events.")
    ] = "30d",
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Security posture scores (0-100, docs/posture.md); exit 1 if a scope is unknown."""
    now = datetime.now(UTC)
    since = now - duration(history, "--history")
    listed = _kinds(scope)
    estate = load_estate(estate_file) if estate_file is not None else None
    db = store_from(store, read_only=True)
    try:
        events: Iterable[Event] = db.iter_events(DATASETS, since)
        if estate is not None:
            from security.context import EstateContext

            events = map(EstateContext(estate).enrich, events)
        inputs = PostureInputs().observe_all(events)
        warnings = db.find_warnings(status=ACTIVE, limit=100000)
    except StoreError as exc:
        fail(str(exc))
    finally:
        db.close()
    city = "city"
    also: dict[ScopeKind, set[str]] = {}
    if estate is not None:
        city = estate.city.name
        also = estate_scopes(estate)
    if explain is not None:
        if explain in ("city", city):
            s = score(inputs, warnings, "city", "city", now)
            s.name = city
        else:
            kind, key = _scope(explain, estate, inputs.scopes(warnings, also))
            s = score(inputs, warnings, kind, key, now)
        _explain(s, as_json)
        return
    order = {kind: i for i, kind in enumerate(listed)}
    scores = sorted(
        (s for s in score_all(inputs, warnings, now, also, city) if s.kind in order),
        key=lambda s: order[s.kind],
    )  # stable: by name within a kind
    if as_json:
        print_json([_doc(s) for s in scores])
        return
    table = Table(title="Security posture (100 = nothing known is wrong)", title_justify="left")
    for column in (
        "scope",
        "name",
        "score",
        "compliance",
        "warnings",
        "links",
        "DR",
        "top deduction",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("score", "compliance", "warnings", "links", "DR")
            else "left",
        )
    for s in scores:
        top = s.deductions[0] if s.deductions else None
        table.add_row(
            s.kind,
            s.name,
            f"[{_style(s.score)}]{s.score:.1f}[/]",
            *(_pct(s.components[c]) for c in ("compliance", "warnings", "links", "dr")),
            f"-{top.points:.1f} {top.subject}" if top else "",
        )
    out.print(table)


def _kinds(given: list[str] | None) -> tuple[ScopeKind, ...]:
    if not given:
        return LISTED
    known: tuple[ScopeKind, ...] = ("city", *SCOPE_KINDS)
    chosen = []
    for text in given:
        kind = next((k for k in known if k == text.strip()), None)
        if kind is None:
            fail(f"--scope {text!r}: expected one of {', '.join(known)}")
        chosen.append(kind)
    return tuple(dict.fromkeys(chosen))


def _scope(
    text: str, estate: Estate | None, scopes: dict[ScopeKind, set[str]]
) -> tuple[ScopeKind, str]:
    """The tenant, county, zone, system or host `text` names: a code, or with
    --estate a display name."""
    kind = next((k for k in KINDS if text in scopes[k]), None)
    if estate is not None:
        try:
            found, key = estate.resolve(text, ("tenant", "county", "zone", "system", "host"))
        except UnknownName as exc:
            if kind is None:  # not a host the store knows either (a lab's LAN host)
                fail(f"--explain: {exc}")
            return kind, text
        return next(k for k in KINDS if k == found), key
    if kind is not None:
        return kind, text
    systems = sorted(n for n in scopes["system"] if n.endswith(f"/{text}"))
    if len(systems) == 1:
        return "system", systems[0]
    if systems:
        fail(
            f"--explain: {text!r} is a system of {len(systems)} tenants: name one as "
            f"TENANT/CODE ({', '.join(systems[:5])}{' ...' if len(systems) > 5 else ''})"
        )
    known = sorted(n for k in KINDS for n in scopes[k])
    close = difflib.get_close_matches(text, known, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    fail(
        f"--explain: no tenant, county, zone, system or host named {text!r} ({hint}known: "
        f"{shown or 'none yet'}; --estate FILE also takes names such as 华龙区)"
    )


def _explain(s: Score, as_json: bool) -> None:
    if as_json:
        print_json(_doc(s))
        return
    out.print(f"[bold]{s.kind} {s.name}[/]: [{_style(s.score)}]{s.score:.1f}[/] / 100")
    table = Table(title="What takes the score down", title_justify="left")
    for column in ("points", "component", "subject", "why"):
        table.add_column(column, justify="right" if column == "points" else "left", overflow="fold")
    for d in s.deductions:
        table.add_row(f"-{d.points:.2f}", d.component, d.subject, d.reason)
    if not s.deductions:
        table.add_row("0", "", "nothing known is wrong", "")
    out.print(table)
    out.print(
        "components: "
        + ", ".join(f"{c} {_pct(v)}" for c, v in s.components.items())
        + "  (— = no data, left out)"
    )


def _doc(s: Score) -> dict[str, Any]:
    return {
        "scope": s.kind,
        "name": s.name,
        "score": s.score,
        "components": s.components,
        "deductions": [
            {
                "component": d.component,
                "subject": d.subject,
                "points": round(d.points, 3),
                "reason": d.reason,
            }
            for d in s.deductions
        ],
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _style(value: float) -> str:
    return (
        "green"
        if value >= 90
        else "yellow"
        if value >= 70
        else "dark_orange"
        if value >= 50
        else "bold red"
    )
