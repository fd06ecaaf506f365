"""What the security verbs share: opening the store, the acting user, durations."""

from __future__ import annotations

import getpass
import logging
import os
from datetime import timedelta
from typing import Annotated

import typer

from security.rulebook import parse_duration
from security.store import Store, StoreError, default_url, open_store
from yunwang.console import EXIT_USAGE, fail

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


def store_from(url: str | None) -> Store:
    # The store logs for long-running processes; a CLI verb reports its own
    # failures in one line, so the store's warnings would only repeat them.
    logging.getLogger("security").setLevel(logging.ERROR)
    try:
        return open_store(url or os.environ.get("YUNWANG_STORE") or default_url())
    except StoreError as exc:
        fail(str(exc))


def actor() -> str:
    try:
        return os.environ.get("YUNWANG_ACTOR") or getpass.getuser()
    except OSError:
        return f"uid:{os.getuid()}"


def duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)
