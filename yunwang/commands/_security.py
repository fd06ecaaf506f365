"""What the security verbs share: opening the store, grading what a verb produced, durations."""

from __future__ import annotations

import logging
import os
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


def duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)
