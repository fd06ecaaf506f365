"""`yunwang audit verify` and `yunwang audit show`: the tamper-evident trail."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from security.audit import AuditError, AuditRecord, AuditTrail
from security.audit_anchor import Anchor, latest_anchor, verify_anchor
from security.store import StoreError, default_url
from yunwang.commands._security import StoreOption, store_from
from yunwang.console import EXIT_INVALID, err, fail, out, print_json

audit_app = typer.Typer(
    help="Check and read the audit trail of every platform action.", no_args_is_help=True
)
TrailOption = Annotated[
    Path | None,
    typer.Option(
        "--file", help="Trail to read (default $YUNWANG_HOME/audit.jsonl).", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    file: TrailOption = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check the keyed chain and the head anchored in the event store; exit 1 on any breach."""
    trail = _trail(file, must_exist=False)
    anchor = _anchor(trail, store)
    if not trail.path.exists() and anchor is None:
        fail(f"{trail.path}: no audit trail here")
    try:
        breaches = trail.verify()
    except AuditError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{trail.path}: cannot read the audit trail ({exc.strerror})")
    if anchor is not None:
        breaches += verify_anchor(trail, anchor)
    count = sum(1 for _ in _records(trail)) if not breaches else None
    if as_json:
        print_json(
            {
                "file": str(trail.path),
                "intact": not breaches,
                "records": count,
                "anchor": None if anchor is None else anchor.__dict__,
                "breaches": [{"line": b.line, "reason": b.reason} for b in breaches],
            }
        )
    elif breaches:
        for breach in breaches:
            err.print(f"{trail.path}: {breach}", markup=False)
    else:
        anchored = (
            f", record {anchor.seq} anchored at {anchor.time}"
            if anchor
            else ", no anchor in the event store yet"
        )
        out.print(f"{trail.path}: intact, {count} records{anchored}", markup=False)
    if breaches:
        raise SystemExit(EXIT_INVALID)


def _anchor(trail: AuditTrail, url: str | None) -> Anchor | None:
    """The newest head `watch` anchored in the event store (none when there is no store)."""
    url = url or os.environ.get("YUNWANG_STORE")
    if url is None and not Path(default_url().removeprefix("sqlite:///")).exists():
        return None
    db = store_from(url, read_only=True)  # a mistyped store is an error, not "no anchor yet"
    try:
        return latest_anchor(db, trail)
    except StoreError as exc:
        fail(f"{exc} (cannot check the anchored head)")
    finally:
        db.close()


@audit_app.command("show")
def show(
    file: TrailOption = None,
    last: Annotated[int, typer.Option("--last", min=1, help="Only the newest N records.")] = 50,
    action: Annotated[
        str | None, typer.Option("--action", help="Only actions starting with this, e.g. warning.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest records of the trail (run `audit verify` to trust them)."""
    trail = _trail(file, must_exist=file is not None)
    records = [r for r in _records(trail) if action is None or r.action.startswith(action)][-last:]
    if as_json:
        print_json([{**r.body(), "hash": r.hash} for r in records])
        return
    table = Table(title=f"{trail.path} (newest {len(records)})", title_justify="left")
    for column in ("seq", "time (UTC)", "actor", "action", "target", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for r in records:
        detail = " ".join(f"{k}={v}" for k, v in r.detail.items())
        style = "" if r.outcome == "success" else "[red]"
        table.add_row(
            str(r.seq),
            r.time[:19].replace("T", " "),
            r.actor,
            r.action,
            r.target,
            f"{style}{r.outcome}",
            detail,
        )
    out.print(table)


def _trail(file: Path | None, must_exist: bool) -> AuditTrail:
    """The trail at `file` (default: the platform's); reading never creates one."""
    if file is not None and file.is_dir():  # before AuditTrail derives its head's name from it
        fail(f"{file}: is a directory, expected an audit trail file (audit.jsonl)")
    trail = AuditTrail(file)
    if trail.path.is_dir():
        fail(f"{trail.path}: is a directory, expected an audit trail file (audit.jsonl)")
    if must_exist and not trail.path.exists():
        fail(f"{trail.path}: no audit trail here")
    return trail


def _records(trail: AuditTrail) -> list[AuditRecord]:
    try:
        return list(trail.records())
    except AuditError as exc:
        fail(f"{trail.path}: {exc}; run `yunwang audit verify`")
    except OSError as exc:
        fail(f"{trail.path}: cannot read the audit trail ({exc.strerror})")
    except (ValueError, TypeError) as exc:
        fail(f"{trail.path}: unreadable record ({exc}); run `yunwang audit verify`")
