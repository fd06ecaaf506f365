"""The web view's HTTP side, on Starlette (served by uvicorn; no HTTP parsing of ours).

Every route but the login page and its assets needs a session; every
state change needs the session's CSRF token; each role may do only its own
part (三员分立): operator acknowledges/resolves, auditor reads the audit
trail, admin manages users. Every login, logout and action goes to the
audit trail (security/audit.py) with the user as actor.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboards.web.hosts import LoopbackHostsOnly
from dashboards.web.sessions import Session, Sessions
from dashboards.web.source import CitySource
from dashboards.web.users import Role, UserError, Users
from dashboards.web.view import city_view, county_detail, explain, warning_row
from security.audit import AuditTrail, record
from security.posture import SCOPE_KINDS
from security.warnings import WarningError

STATIC = Path(__file__).parent / "static"
COOKIE = "yunwang_session"
# Under TLS the __Host- prefix: the browser takes the cookie only Secure, for this
# host and path /, so no sibling host or plain-HTTP answer can plant one.
TLS_COOKIE = "__Host-" + COOKIE
MAX_BODY = 16 * 1024
MAX_COMMENT = 2000
AUDIT_ROWS = 200
SSE_POLL_S = 0.2
SSE_KEEPALIVE_S = 15.0
# Open event streams: a few tabs and wall screens per user, a bound for the whole
# server (each stream holds a connection and polls), so one account cannot exhaust it.
STREAMS_PER_USER = 8
STREAMS = 200
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


class WebView:
    def __init__(self, source: CitySource, users: Users, sessions: Sessions | None = None,
                 tls: bool = False, loopback_only: bool = False) -> None:  # fmt: skip
        self.source = source
        self.users = users
        self.sessions = sessions or Sessions()
        self.tls = tls
        self.cookie = TLS_COOKIE if tls else COOKIE
        self._streams: Counter[str] = Counter()  # open event streams by user
        self._doc: tuple[int, str] = (-1, "")  # the view as sent, by source version
        self._doc_lock = threading.Lock()
        self.app = Starlette(routes=self._routes(), exception_handlers={BadBody: _refused})
        if loopback_only:
            self.app.add_middleware(LoopbackHostsOnly)
        self.app.add_middleware(_Headers, tls=tls)  # outermost: the refusals get them too

    def _routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.page),
            Route("/login", lambda r: _file("login.html")),
            Route("/api/login", self.login, methods=["POST"]),
            Route("/api/logout", self._acting(None, self.logout), methods=["POST"]),
            Route("/api/me", self._reading(None, self.me)),
            Route("/api/view", self._reading(None, self.view)),
            Route("/api/stream", self._reading(None, self.stream)),
            Route("/api/county/{county}", self._reading(None, self.county)),
            # A system's name is tenant/code: the name takes the rest of the path.
            Route("/api/explain/{kind}/{name:path}", self._reading(None, self.explain)),
            Route("/api/warnings/{wid}", self._reading(None, self.warning)),
            Route("/api/warnings/{wid}/{verb}", self._acting("operator", self.act), methods=["POST"]),
            Route("/api/audit", self._reading("auditor", self.audit)),
            Route("/api/users", self._reading("admin", self.list_users)),
            Route("/api/users", self._acting("admin", self.set_user), methods=["POST"]),
            Route("/api/users/{name}/delete", self._acting("admin", self.remove_user), methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]  # fmt: skip

    # -- guards ----------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(self.cookie))

    def _reading(
        self, role: Role | None, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Handler:
        async def guarded(request: Request) -> Response:
            session = self._session(request)
            if session is None:
                return _error(401, "login required")
            if role is not None and session.user.role != role:
                record(action="web.denied", target=request.url.path, outcome="failure",
                       detail={"role": session.user.role, "needs": role}, actor=session.user.name)  # fmt: skip
                return _error(403, f"needs the {role} role")
            return await handler(request, session)

        return guarded

    def _acting(
        self, role: Role | None, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Handler:
        read_guard = self._reading(role, handler)

        async def guarded(request: Request) -> Response:
            session = self._session(request)
            refused = _cross_site(request)
            if refused is not None:
                if session is not None:
                    record(action="web.cross_site", target=request.url.path, outcome="failure",
                           detail={"origin": request.headers.get("origin", "")[:200]},
                           actor=session.user.name)  # fmt: skip
                return refused
            if session is not None and not Sessions.csrf_ok(
                session, request.headers.get("x-csrf-token")
            ):
                record(
                    action="web.csrf",
                    target=request.url.path,
                    outcome="failure",
                    actor=session.user.name,
                )
                return _error(403, "missing or wrong CSRF token")
            return await read_guard(request)

        return guarded  # fmt: skip

    # -- pages and session -------------------------------------------------------

    async def page(self, request: Request) -> Response:
        if self._session(request) is None:
            return RedirectResponse("/login", status_code=303)
        return _file("index.html")

    async def login(self, request: Request) -> Response:
        refused = _cross_site(request)
        if refused is not None:
            return refused
        body = await _json(request, "user", "password")
        name, password = body["user"][:64], body["password"]
        client = request.client.host if request.client else "?"
        keys = (f"addr:{client}", f"user:{name}")
        stamp = self.sessions.attempt(*keys)
        if stamp is None:
            record(action="web.login", target=name, outcome="failure",
                   detail={"client": client, "reason": "rate limited"}, actor=name or "?")  # fmt: skip
            return _error(429, "too many failed logins; wait a few minutes")
        user = await asyncio.to_thread(self.users.verify, name, password)
        if user is None:
            record(action="web.login", target=name, outcome="failure",
                   detail={"client": client}, actor=name or "?")  # fmt: skip
            return _error(401, "wrong user or password")
        self.sessions.settle(stamp, *keys)
        session = self.sessions.open(user)
        record(
            action="web.login",
            target=name,
            detail={"client": client, "role": user.role},
            actor=name,
        )
        response = JSONResponse({"user": user.name, "role": user.role, "csrf": session.csrf})
        response.set_cookie(self.cookie, session.token, httponly=True, samesite="strict",
                            secure=self.tls, path="/")  # fmt: skip
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        self.sessions.close(session.token)
        record(action="web.logout", target=session.user.name, actor=session.user.name)
        response = JSONResponse({"ok": True})
        response.delete_cookie(self.cookie, path="/", secure=self.tls, httponly=True)
        return response

    async def me(self, request: Request, session: Session) -> Response:
        return JSONResponse(
            {"user": session.user.name, "role": session.user.role, "csrf": session.csrf}
        )

    # -- the city ----------------------------------------------------------------

    async def view(self, request: Request, session: Session) -> Response:
        return JSONResponse(await asyncio.to_thread(self._view))

    def _view(self) -> dict[str, Any]:
        return city_view(self.source.estate, self.source.state(), self.source.trend())

    async def stream(self, request: Request, session: Session) -> Response:
        """Server-sent events: the whole view each time the source changes."""
        user = session.user.name
        if self._streams[user] >= STREAMS_PER_USER or self._streams.total() >= STREAMS:
            return _error(429, "too many open event streams; close another tab")
        self._streams[user] += 1

        async def events() -> AsyncIterator[str]:
            seen, quiet = -1, 0.0
            while self.sessions.get(session.token) is not None:
                if await request.is_disconnected():
                    return
                version = await asyncio.to_thread(lambda: self.source.version)
                if version != seen:
                    seen, quiet = version, 0.0
                    doc = await asyncio.to_thread(self._view_json, version)
                    yield f"id: {version}\nevent: view\ndata: {doc}\n\n"
                elif quiet >= SSE_KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(SSE_POLL_S)
                quiet += SSE_POLL_S
            yield "event: expired\ndata: {}\n\n"

        def release() -> None:
            self._streams[user] -= 1

        return _EventStream(events(), release)

    def _view_json(self, version: int) -> str:
        """The view for `version`, built once however many streams send it."""
        with self._doc_lock:
            if self._doc[0] != version:
                self._doc = (version, json.dumps(self._view(), ensure_ascii=False))
            return self._doc[1]

    async def county(self, request: Request, session: Session) -> Response:
        county = request.path_params["county"]
        if county not in {n.id for n in self.source.estate.nodes(level="county")}:
            return _error(404, "no such county")
        state = await asyncio.to_thread(self.source.state)
        return JSONResponse(county_detail(self.source.estate, county, state))

    async def explain(self, request: Request, session: Session) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"][:128]
        if kind not in ("city", *SCOPE_KINDS):
            return _error(404, "kind: expected city, county, tenant, zone, system or host")
        state = await asyncio.to_thread(self.source.state)
        return JSONResponse(explain(state.score(kind, name)))

    async def warning(self, request: Request, session: Session) -> Response:
        found = await asyncio.to_thread(self.source.find, request.path_params["wid"][:64])
        return _error(404, "no such warning") if found is None else JSONResponse(warning_row(found))

    async def act(self, request: Request, session: Session) -> Response:
        wid, verb = request.path_params["wid"][:64], request.path_params["verb"]
        if verb not in ("acknowledge", "resolve"):
            return _error(404, "expected acknowledge or resolve")
        comment = (await _json(request, "comment"))["comment"].strip()[:MAX_COMMENT]
        if not comment:
            return _error(400, "comment: say why (kept with the warning and in the audit trail)")
        action = self.source.acknowledge if verb == "acknowledge" else self.source.resolve
        try:
            # The pipeline (or the store) writes the audit record with this user as actor.
            changed = await asyncio.to_thread(action, wid, session.user.name, comment)
        except WarningError as exc:
            record(action=f"warning.{verb}", target=wid, outcome="failure",
                   detail={"reason": str(exc)}, actor=session.user.name)  # fmt: skip
            return _error(409, str(exc))
        return JSONResponse(warning_row(changed))

    # -- the other two roles -------------------------------------------------------

    async def audit(self, request: Request, session: Session) -> Response:
        trail = AuditTrail()
        rows = await asyncio.to_thread(lambda: list(trail.records())[-AUDIT_ROWS:])
        intact = not await asyncio.to_thread(trail.verify)
        record(action="web.audit.read", target=str(trail.path), actor=session.user.name)
        return JSONResponse({"intact": intact, "records": [r.body() for r in reversed(rows)]})

    async def list_users(self, request: Request, session: Session) -> Response:
        return JSONResponse([{"name": u.name, "role": u.role} for u in self.users.list()])

    async def set_user(self, request: Request, session: Session) -> Response:
        body = await _json(request, "name", "role", "password")
        name, role = body["name"][:64], body["role"][:16]
        try:
            user = await asyncio.to_thread(self.users.set, name, role, body["password"])
        except UserError as exc:
            record(action="web.user.set", target=name, outcome="failure",
                   detail={"reason": str(exc)}, actor=session.user.name)  # fmt: skip
            return _error(400, str(exc))
        self.sessions.close_user(user.name)
        record(
            action="web.user.set",
            target=user.name,
            detail={"role": user.role},
            actor=session.user.name,
        )
        return JSONResponse({"name": user.name, "role": user.role})

    async def remove_user(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"][:64]
        try:
            self.users.remove(name)
        except UserError as exc:
            record(action="web.user.remove", target=name, outcome="failure",
                   detail={"reason": str(exc)}, actor=session.user.name)  # fmt: skip
            return _error(400, str(exc))
        self.sessions.close_user(name)
        record(action="web.user.remove", target=name, actor=session.user.name)
        return JSONResponse({"removed": name})


class _EventStream(StreamingResponse):
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


class _Headers:
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


def _cross_site(request: Request) -> Response | None:
    """A state change must be JSON (a cross-site form cannot send it without a CORS
    preflight we never grant) from this origin: login CSRF included."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(415, "expected application/json")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return _error(403, "cross-origin request refused")
    return None


class BadBody(Exception):
    """A request body refused before any handler sees it (one line, with its status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadBody)
    return _error(exc.status, str(exc))


async def _json(request: Request, *fields: str) -> dict[str, str]:
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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _file(name: str) -> Response:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8")
