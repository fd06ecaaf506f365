"""What the security verbs share: opening the store, grading what a verb produced, durations."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs, urlparse

import typer

from security.rulebook import parse_duration
from security.store import Store, StoreError, default_url, open_store
from yunwang.console import EXIT_USAGE, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from estate import Estate
    from security.events import Event

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Event store: sqlite:///PATH or http://HOST:9200/?namespace=NS "
        "(default $YUNWANG_STORE, else SQLite in $YUNWANG_HOME).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def store_from(url: str | None, *, read_only: bool = False) -> Store:
    """The store at `url` (else $YUNWANG_STORE, else the default), or one line and exit 1.

    A read-only verb never creates what the user typed: a mistyped
    `sqlite:///typo/x.db` is an error, not a new empty store in a new directory.
    """
    # The store logs for long-running processes; a CLI verb reports its own
    # failures in one line, so the store's warnings would only repeat them.
    logging.getLogger("security").setLevel(logging.ERROR)
    given = url or os.environ.get("YUNWANG_STORE")
    try:
        if read_only and given:
            _must_exist(given)
        if read_only:
            _must_be_event_store(given or default_url())
        return open_store(given or default_url())
    except StoreError as exc:
        fail(str(exc))
    except ValueError as exc:  # urllib and the Elasticsearch client: a URL that does not parse
        fail(f"store url {given!r}: {exc}")
    except OSError as exc:  # a spool directory that cannot be made
        fail(f"store url {given!r}: {exc.filename}: {exc.strerror}")


def grade_and_store(url: str | None, estate: Estate, build: Callable[[Store], list[Event]]) -> int:
    """The events `build` makes (it may read the store first) through the
    security pipeline with the estate's context: rules grade them, warnings
    open, everything is stored. Returns how many events went in."""
    from security.context import EstateContext
    from security.pipeline import Pipeline

    store = store_from(url)
    try:
        events = build(store)
        pipeline = Pipeline(store, enrich=EstateContext(estate).enrich)
        pipeline.submit(events)
        pipeline.close()
    finally:
        store.close()
    return len(events)


def _must_exist(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme in ("sqlite", ""):
        path = Path(parsed.path if parsed.scheme else url)
        if not path.is_file():
            raise StoreError(f"{path}: no event store here (check --store / $YUNWANG_STORE)")
    elif parsed.scheme in ("http", "https"):
        spool = parse_qs(parsed.query).get("spool")
        if spool and not Path(spool[-1]).is_dir():
            raise StoreError(f"{spool[-1]}: no spool directory here (check --store)")


# What SqliteStore's schema creates; a read-only verb never adds them to a file.
_STORE_TABLES = ("events", "events_fts", "warnings")


def _must_be_event_store(url: str) -> None:
    """An existing SQLite file must already be a yunwang event store: opening it
    as one would add the tables (and switch it to WAL) in someone else's file.

    Checked through a read-only connection, which leaves the file as it was. A
    default store that does not exist yet is left to open_store (it is ours).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("sqlite", ""):
        return
    path = Path(parsed.path if parsed.scheme else url)
    if not path.is_file():
        return
    # Without a -wal file nobody has the store open in WAL mode and the file is
    # the whole database: `immutable` reads it without creating -wal/-shm beside
    # it. With one, a read-only connection also reads what the WAL holds.
    wal = path.with_name(path.name + "-wal").exists()
    mode = "mode=ro" if wal else "immutable=1"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
        try:
            names = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: not a yunwang event store ({exc})") from None
    missing = [name for name in _STORE_TABLES if name not in names]
    if missing:
        raise StoreError(f"{path}: not a yunwang event store (no {missing[0]} table)")


def duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)
