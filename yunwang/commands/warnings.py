"""`yunwang warnings`: list early warnings, acknowledge or resolve one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from security.audit import current_actor
from security.levels import CHINESE, GRADE, LEVELS, WarningLevel
from security.pipeline import acknowledge_stored
from security.store import StoreError
from security.warnings import ACTIVE, Status, Warning, WarningError
from yunwang.commands._security import JsonFlag, StoreOption, store_from
from yunwang.console import EXIT_USAGE, fail, out, print_json

STYLE = {"red": "bold red", "orange": "bold dark_orange", "yellow": "yellow", "blue": "blue"}


def register(app: typer.Typer) -> None:
    app.command("warnings")(warnings)


def warnings(
    level: Annotated[
        str | None, typer.Option("--level", help="Only this level: red, orange, yellow or blue.")
    ] = None,
    status: Annotated[
        str,
        typer.Option(
            "--status", help="active (open + acknowledged), open, acknowledged, resolved or all."
        ),
    ] = "active",
    ack: Annotated[
        str | None, typer.Option("--ack", help="Acknowledge the warning with this id.")
    ] = None,
    resolve: Annotated[
        str | None, typer.Option("--resolve", help="Resolve the warning with this id by hand.")
    ] = None,
    comment: Annotated[
        str,
        typer.Option("--comment", "-m", help="Why (kept with the warning and in the audit trail)."),
    ] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 200,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List early warnings, most severe first; --ack ID or --resolve ID to act on one."""
    if level is not None and level not in LEVELS:
        fail(f"--level: expected one of {', '.join(LEVELS)}, got {level!r}", EXIT_USAGE)
    statuses: dict[str, tuple[Status, ...] | None] = {
        "active": tuple(sorted(ACTIVE)),
        "open": ("open",),
        "acknowledged": ("acknowledged",),
        "resolved": ("resolved",),
        "all": None,
    }
    if status not in statuses:
        fail(f"--status: expected one of {', '.join(statuses)}, got {status!r}", EXIT_USAGE)
    if ack is not None and resolve is not None:
        fail("--ack and --resolve: give one of them", EXIT_USAGE)
    for option, value in (("--ack", ack), ("--resolve", resolve)):
        if value is not None and not value.strip():
            # An empty id (a shell variable that was not set) must not fall
            # back to listing, as if the action had been done.
            fail(f"{option}: expected a warning id, got an empty one", EXIT_USAGE)
    db = store_from(store, read_only=not (ack or resolve))
    try:
        target = ack or resolve
        if target:
            try:
                changed = acknowledge_stored(
                    db, target, current_actor(), comment, resolve=bool(resolve)
                )
            except WarningError as exc:
                fail(str(exc))
            if as_json:
                print_json(changed.to_dict())
            else:
                verb = "resolved" if resolve else "acknowledged"
                out.print(
                    f"{changed.id} {verb} by {changed.ack_by or changed.resolved_by}: {changed.summary}",
                    markup=False,
                )
            return
        found = db.find_warnings(
            status=statuses[status], level=level if level is None else _level(level), limit=limit
        )
    except StoreError as exc:
        fail(str(exc))
    finally:
        db.close()
    if as_json:
        print_json([w.to_dict() for w in found])
        return
    out.print(_table(found))
    out.print(_summary(found))


def _summary(found: list[Warning]) -> str:
    """Counts by level, and the age of the oldest of each: what is waiting longest."""
    now = datetime.now(UTC)
    parts = []
    for lvl in LEVELS:
        of_level = [w for w in found if w.level == lvl]
        oldest = max(of_level, key=lambda w: w.age_seconds(now), default=None)
        age = f" (oldest {_age(oldest, now)})" if oldest is not None else ""
        parts.append(f"[{STYLE[lvl]}]{lvl} {len(of_level)}[/]{age}")
    return "  ".join(parts)


def _level(text: str) -> WarningLevel:
    for level in LEVELS:
        if level == text:
            return level
    raise AssertionError(text)


def _age(w: Warning, now: datetime) -> str:
    seconds = int(w.age_seconds(now))
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"


def _table(found: list[Warning]) -> Table:
    now = datetime.now(UTC)
    table = Table(title=f"Early warnings ({len(found)})", title_justify="left")
    for column in ("id", "level", "status", "summary", "seen", "age", "where"):
        table.add_column(column, overflow="fold")
    for w in found:
        where = " ".join(w.context[k] for k in ("county", "tenant", "zone") if k in w.context)
        status = f"{w.status} ({w.ack_by}: {w.ack_comment})" if w.ack_by else w.status
        table.add_row(
            w.id,
            f"[{STYLE[w.level]}]{w.level} {GRADE[w.level]} {CHINESE[w.level]}[/]",
            status,
            f"{w.rule_id} {w.summary}",
            str(w.count),
            _age(w, now),
            where,
        )
    return table
