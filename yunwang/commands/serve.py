"""`yunwang serve ESTATE`: the web view (一屏统览) over the event store, on its own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from dashboards.web import DEFAULT_PORT
from dashboards.web.server import WebError, WebOptions, WebServer
from dashboards.web.source import StoreSource
from security.audit import record
from yunwang.commands._leaving import leave_on_sigterm
from yunwang.commands._security import StoreOption, store_from
from yunwang.console import err, fail, load_estate


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    file: Annotated[Path, typer.Argument(help="The estate the store's events are about.")],
    store: StoreOption = None,
    listen: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port (0: any free port).", min=0, max=65535)
    ] = DEFAULT_PORT,
    users: Annotated[
        Path | None, typer.Option(help="Users file (default $YUNWANG_HOME/web/users.json).")
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the web view of the warnings, posture and links in the store; Ctrl-C to stop."""
    estate = load_estate(file)
    db = store_from(store)
    options = WebOptions(listen, port, users_file=users, certfile=cert, keyfile=key)
    leave_on_sigterm()
    try:
        with WebServer(StoreSource(estate, db), options) as server:
            record(action="web.serve", target=server.url, detail={"estate": estate.file})
            err.print(server.hint(), markup=False)
            while True:
                time.sleep(3600)
    except WebError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        db.close()
