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
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboards.web.hosts import LoopbackHostsOnly
from dashboards.web.http_rules import (
    STATIC,
    BadBody,
    EventStream,
    SecurityHeaders,
    cross_site,
    error,
    json_fields,
    page_file,
    refused,
)
from dashboards.web.sessions import Session, Sessions
from dashboards.web.source import CitySource
from dashboards.web.users import Role, UserError, Users
from dashboards.web.view import city_view, county_detail, explain, warning_row
from security.audit import AuditTrail, record
from security.posture import SCOPE_KINDS
from security.warnings import WarningError

COOKIE = "yunwang_session"
# Under TLS the __Host- prefix: the browser takes the cookie only Secure, for this
# host and path /, so no sibling host or plain-HTTP answer can plant one.
TLS_COOKIE = "__Host-" + COOKIE
MAX_COMMENT = 2000
AUDIT_ROWS = 200
SSE_POLL_S = 0.2
SSE_KEEPALIVE_S = 15.0
# Open event streams: a few tabs and wall screens per user, a bound for the whole
# server (each stream holds a connection and polls), so one account cannot exhaust it.
STREAMS_PER_USER = 8
STREAMS = 200
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
        self.app = Starlette(routes=self._routes(), exception_handlers={BadBody: refused})
        if loopback_only:
            self.app.add_middleware(LoopbackHostsOnly)
        self.app.add_middleware(SecurityHeaders, tls=tls)  # outermost: the refusals get them too

    def _routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.page),
            Route("/login", lambda r: page_file("login.html")),
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
                return error(401, "login required")
            if role is not None and session.user.role != role:
                record(action="web.denied", target=request.url.path, outcome="failure",
                       detail={"role": session.user.role, "needs": role}, actor=session.user.name)  # fmt: skip
                return error(403, f"needs the {role} role")
            return await handler(request, session)

        return guarded

    def _acting(
        self, role: Role | None, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Handler:
        read_guard = self._reading(role, handler)

        async def guarded(request: Request) -> Response:
            session = self._session(request)
            refused = cross_site(request)
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
                return error(403, "missing or wrong CSRF token")
            return await read_guard(request)

        return guarded  # fmt: skip

    # -- pages and session -------------------------------------------------------

    async def page(self, request: Request) -> Response:
        if self._session(request) is None:
            return RedirectResponse("/login", status_code=303)
        return page_file("index.html")

    async def login(self, request: Request) -> Response:
        refused = cross_site(request)
        if refused is not None:
            return refused
        body = await json_fields(request, "user", "password")
        name, password = body["user"][:64], body["password"]
        client = request.client.host if request.client else "?"
        keys = (f"addr:{client}", f"user:{name}")
        stamp = self.sessions.attempt(*keys)
        if stamp is None:
            record(action="web.login", target=name, outcome="failure",
                   detail={"client": client, "reason": "rate limited"}, actor=name or "?")  # fmt: skip
            return error(429, "too many failed logins; wait a few minutes")
        user = await asyncio.to_thread(self.users.verify, name, password)
        if user is None:
            record(action="web.login", target=name, outcome="failure",
                   detail={"client": client}, actor=name or "?")  # fmt: skip
            return error(401, "wrong user or password")
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
            return error(429, "too many open event streams; close another tab")
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

        return EventStream(events(), release)

    def _view_json(self, version: int) -> str:
        """The view for `version`, built once however many streams send it."""
        with self._doc_lock:
            if self._doc[0] != version:
                self._doc = (version, json.dumps(self._view(), ensure_ascii=False))
            return self._doc[1]

    async def county(self, request: Request, session: Session) -> Response:
        county = request.path_params["county"]
        if county not in {n.id for n in self.source.estate.nodes(level="county")}:
            return error(404, "no such county")
        state = await asyncio.to_thread(self.source.state)
        return JSONResponse(county_detail(self.source.estate, county, state))

    async def explain(self, request: Request, session: Session) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"][:128]
        if kind not in ("city", *SCOPE_KINDS):
            return error(404, "kind: expected city, county, tenant, zone, system or host")
        state = await asyncio.to_thread(self.source.state)
        return JSONResponse(explain(state.score(kind, name)))

    async def warning(self, request: Request, session: Session) -> Response:
        found = await asyncio.to_thread(self.source.find, request.path_params["wid"][:64])
        return error(404, "no such warning") if found is None else JSONResponse(warning_row(found))

    async def act(self, request: Request, session: Session) -> Response:
        wid, verb = request.path_params["wid"][:64], request.path_params["verb"]
        if verb not in ("acknowledge", "resolve"):
            return error(404, "expected acknowledge or resolve")
        comment = (await json_fields(request, "comment"))["comment"].strip()[:MAX_COMMENT]
        if not comment:
            return error(400, "comment: say why (kept with the warning and in the audit trail)")
        action = self.source.acknowledge if verb == "acknowledge" else self.source.resolve
        try:
            # The pipeline (or the store) writes the audit record with this user as actor.
            changed = await asyncio.to_thread(action, wid, session.user.name, comment)
        except WarningError as exc:
            record(action=f"warning.{verb}", target=wid, outcome="failure",
                   detail={"reason": str(exc)}, actor=session.user.name)  # fmt: skip
            return error(409, str(exc))
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
        body = await json_fields(request, "name", "role", "password")
        name, role = body["name"][:64], body["role"][:16]
        try:
            user = await asyncio.to_thread(self.users.set, name, role, body["password"])
        except UserError as exc:
            record(action="web.user.set", target=name, outcome="failure",
                   detail={"reason": str(exc)}, actor=session.user.name)  # fmt: skip
            return error(400, str(exc))
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
            return error(400, str(exc))
        self.sessions.close_user(name)
        record(action="web.user.remove", target=name, actor=session.user.name)
        return JSONResponse({"removed": name})
