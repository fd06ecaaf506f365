"""DNS rebinding: a page on another site whose name its owner points at 127.0.0.1
reaches a loopback listener from the victim's browser, with that name in `Host`.
A web view listening on loopback answers only requests that name loopback, so
such a page cannot spray logins (and lock the real users out) or read the login
page; anywhere else the listener's own name is the operator's to choose.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.responses import JSONResponse


def is_loopback(host: str) -> bool:
    """`host` as a listen address or a Host header's name (no port, no brackets)."""
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header: '[::1]:8088' -> '::1', 'localhost:80' -> 'localhost'."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class LoopbackHostsOnly:
    """ASGI middleware refusing (421) a request whose Host is not a loopback name."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not is_loopback(host_name(host)):
                refused = JSONResponse(
                    {"error": "Host: this view listens on loopback; expected 127.0.0.1, localhost or [::1]"},
                    status_code=421,
                )  # fmt: skip
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
