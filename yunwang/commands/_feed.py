"""`--store URL` for producers (`sense`, `collect`): ship events to the centre's store."""

from __future__ import annotations

from typing import Annotated

import typer

from estate import Estate
from security.context import EstateContext
from security.feed import Producer, Shipper
from security.store import StoreError, open_store
from yunwang.console import fail

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


def start_shipper(url: str, producer: Producer, estate: Estate, heartbeat_s: float) -> Shipper:
    """Open the store as a producer (no installation rights needed) and start shipping."""
    try:
        store = open_store(url, install=False)
    except StoreError as exc:
        fail(f"--store: {exc}")
    except ValueError as exc:  # a URL the client cannot parse
        fail(f"--store {url!r}: {exc}")
    except OSError as exc:
        fail(f"--store {url!r}: {exc.filename}: {exc.strerror}")
    return Shipper(store, producer, EstateContext(estate).enrich, heartbeat_s=heartbeat_s).start()
