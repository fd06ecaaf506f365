"""`yunwang events search QUERY`: message words and ECS field:value terms over stored events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from security.store import StoreError
from yunwang.commands._security import JsonFlag, StoreOption, duration, store_from
from yunwang.console import fail, out, print_json

events_app = typer.Typer(
    help="Search the security events the platform has stored.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")


@events_app.command("search")
def search(
    query: Annotated[
        str,
        typer.Argument(
            help="Words that must all appear in the message, and field:value terms for "
            "source.ip, event.action, yunwang.county, rule.id ('' for any)."
        ),
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Only this producer, e.g. yunwang.links.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only the last 30m, 6h, 7d...")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many, newest first.")
    ] = 50,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Events matching every word and field:value term of QUERY, newest first.

    e.g. `yunwang events search "source.ip:198.18.0.5 rule.id:YW-NET-002 scan"`
    """
    start = datetime.now(UTC) - duration(since, "--since") if since else None
    db = store_from(store, read_only=True)
    try:
        found = db.search(query, dataset=dataset, since=start, limit=limit)
    except StoreError as exc:
        fail(str(exc))
    finally:
        db.close()
    if as_json:
        print_json([e.to_ecs() for e in found])
        return
    table = Table(title=f"{len(found)} events", title_justify="left")
    for column in ("time (UTC)", "dataset", "action", "severity", "where", "message"):
        table.add_column(column, overflow="fold")
    for e in found:
        ctx = e.context
        where = " ".join(
            f"{k}={v}"
            for k, v in (("county", ctx.county), ("tenant", ctx.tenant), ("zone", ctx.zone))
            if v
        )
        table.add_row(
            e.timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.dataset,
            e.action,
            str(e.severity),
            where,
            e.message,
        )
    out.print(table)
