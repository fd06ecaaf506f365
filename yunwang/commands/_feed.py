"""`--store URL` for producers (`sense`, `collect`): ship events to the centre's store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from yunwang.console import fail

if TYPE_CHECKING:  # the verbs import this module; the store's imports only with --store
    from estate import Estate
    from security.feed import Producer, Shipper

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="YUNWANG_STORE",
        help="Ship events to this store (http://HOST:9200/?namespace=NS&api_key_env=VAR).",
    ),
]
HeartbeatOption = Annotated[
    float,
    typer.Option("--heartbeat", min=1.0, help="Seconds between heartbeats to the centre."),
]


def check_store_url(url: str) -> None:
    """Refuse a --store URL that could never open (a secret written inline, a
    scheme no store speaks) before the command's slower work begins."""
    from security.store import StoreError, check_url

    try:
        check_url(url)
    except StoreError as exc:
        fail(f"--store: {exc}")


def start_shipper(url: str, producer: Producer, estate: Estate, heartbeat_s: float) -> Shipper:
    """Open the store as a producer (no installation rights needed) and start shipping."""
    from security.context import EstateContext
    from security.feed import Shipper
    from security.store import StoreError, open_store

    try:
        store = open_store(url, install=False)
    except StoreError as exc:
        fail(f"--store: {exc}")
    except ValueError as exc:  # a URL the client cannot parse
        fail(f"--store {url!r}: {exc}")
    except OSError as exc:
        fail(f"--store {url!r}: {exc.filename}: {exc.strerror}")
    return Shipper(store, producer, EstateContext(estate).enrich, heartbeat_s=heartbeat_s).start()
