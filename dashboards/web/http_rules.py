"""The rules every route of the web view shares: security headers, the
same-origin JSON a state change must be, a bounded request body, one-line
errors, and an event stream that gives its place back however it ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

STATIC = Path(__file__).parent / "static"
MAX_BODY = 16 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class EventStream(StreamingResponse):
    """An event stream that gives its place back however it ends (a client gone
    before the first event included, when the generator never runs)."""

    def __init__(self, events: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(events, media_type="text/event-stream")
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


class SecurityHeaders:
    """Security headers on every response; under TLS, HSTS too."""

    def __init__(self, app: Any, tls: bool = False) -> None:
        self.app = app
        extra = {"Strict-Transport-Security": "max-age=31536000"} if tls else {}
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (HEADERS | extra).items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += self.headers
            await send(message)

        await self.app(scope, receive, with_headers)


def cross_site(request: Request) -> Response | None:
    """A state change must be JSON (a cross-site form cannot send it without a CORS
    preflight we never grant) from this origin: login CSRF included."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "expected application/json")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return error(403, "cross-origin request refused")
    return None


class BadBody(Exception):
    """A request body refused before any handler sees it (one line, with its status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadBody)
    return error(exc.status, str(exc))


async def json_fields(request: Request, *fields: str) -> dict[str, str]:
    """The body's `fields` (a missing one is ""): the body must be a JSON object of at
    most MAX_BODY bytes and each field, when given, a string."""
    too_big = BadBody(413, f"request body: at most {MAX_BODY} bytes")
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise too_big
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_big
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise BadBody(400, "request body: expected a JSON object") from None
    if not isinstance(doc, dict):
        raise BadBody(400, "request body: expected a JSON object")
    found = {field: doc.get(field, "") for field in fields}
    for field, value in found.items():
        if not isinstance(value, str):
            raise BadBody(400, f"request body: {field}: expected a string")
    return found


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def page_file(name: str) -> Response:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8")
