"""Run the web view under uvicorn in a background thread (beside `watch`'s loop)
or in the foreground (`yunwang serve`)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from dashboards.web import DEFAULT_PORT
from dashboards.web.app import WebView
from dashboards.web.hosts import is_loopback
from dashboards.web.source import CitySource
from dashboards.web.users import UserError, Users
from estate.home import yunwang_home

DEFAULT_HOST = "127.0.0.1"

START_TIMEOUT_S = 10.0
# A request's line and headers must arrive whole this long after the connection
# opens or the previous response ends: uvicorn alone waits for ever, so a client
# sending a header a minute (slowloris) would hold its connection indefinitely.
REQUEST_HEAD_TIMEOUT_S = 10.0


class WebError(Exception):
    """The web view cannot start (one line)."""


@dataclass(frozen=True)
class WebOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port
    users_file: Path | None = None  # default: $YUNWANG_HOME/web/users.json
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None


def default_users_file() -> Path:
    return yunwang_home() / "web" / "users.json"


class WebServer:
    """`with WebServer(source, options) as web: print(web.url)`"""

    def __init__(self, source: CitySource, options: WebOptions) -> None:
        if (options.certfile is None) != (options.keyfile is None):
            raise WebError("--cert and --key: give both (TLS) or neither")
        for path in (options.certfile, options.keyfile):
            if path is not None and not path.is_file():
                raise WebError(f"{path}: no such file")
        if options.certfile is not None and options.keyfile is not None:
            _check_tls(options.certfile, options.keyfile)
        try:
            self.users = Users(options.users_file or default_users_file())
            # Set when this start created the first admin: where its password is.
            self.first_login = self.users.ensure_first_admin()
        except (UserError, OSError) as exc:
            raise WebError(str(exc)) from None
        self.view = WebView(
            source, self.users, tls=options.tls, loopback_only=is_loopback(options.host)
        )
        self.options = options
        config = uvicorn.Config(
            self.view.app,
            host=options.host,
            port=options.port,
            ssl_certfile=str(options.certfile) if options.certfile else None,
            ssl_keyfile=str(options.keyfile) if options.keyfile else None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,  # no product and version for a scanner to match
            http=_HeadDeadline,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        sockets = self._server.servers[0].sockets if self._server.servers else []
        port = sockets[0].getsockname()[1] if sockets else self.options.port
        host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
        return f"{'https' if self.options.tls else 'http'}://{host}:{port}/"

    def __enter__(self) -> WebServer:
        # Bound here, not by uvicorn in its thread: a port in use is then one line.
        self._socket = _bind(self.options.host, self.options.port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="yunwang-web",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WebError(
                    f"web view: could not listen on {self.options.host}:{self.options.port}"
                )
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()

    def hint(self) -> str:
        """The line `make run` prints: where to look and how to log in the first time."""
        first = self.users.path.with_name("first-login.txt")
        if first.exists():
            return (
                f"web view: {self.url}  first login: user admin, password in {first} "
                "(0600; delete it once the admin has a password of its own)"
            )
        return f"web view: {self.url}  users: {self.users.path}"


def _check_tls(certfile: Path, keyfile: Path) -> None:
    """Load the pair as uvicorn will, so a bad one is one line here and not a
    traceback from the server's thread."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        raise WebError(
            f"{certfile}, {keyfile}: expected a PEM certificate and its private key "
            f"({exc.reason or exc})"
        ) from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WebError(f"web view: cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


class _HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request head is late."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._in_request() and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_response_complete(self) -> None:
        self._arm()  # before: a pipelined request handled inside cancels it again
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(REQUEST_HEAD_TIMEOUT_S, self._late)

    def _late(self) -> None:
        self._deadline = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()
