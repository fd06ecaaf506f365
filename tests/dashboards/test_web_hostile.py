"""The web view as an attacker meets it, over real HTTP (uvicorn): login bursts, event
stream floods, hostile bodies, paths, cookies and half-sent requests."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.web import app as web_app
from dashboards.web import server as web_server
from dashboards.web import sessions
from dashboards.web.hosts import is_loopback
from dashboards.web.server import WebServer
from security.audit import AuditTrail
from tests.dashboards.test_web_access import PASSWORD, Client, _server


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    with _server(tmp_path) as server:
        yield server


def port_of(web: WebServer) -> int:
    return int(web.url.rstrip("/").rsplit(":", 1)[1])


def raw(web: WebServer, request: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; the status, headers and body that come back."""
    with socket.create_connection(("127.0.0.1", port_of(web)), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [ln for ln in head.lower().split(b"\r\n") if ln.startswith(b"content-length:")]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def test_a_burst_of_parallel_logins_cannot_outrun_the_lock(web: WebServer) -> None:
    # Counted before the password is checked: parallel guesses cannot all pass a
    # lock that only finished failures would set.
    start, statuses = threading.Barrier(20), []

    def guess() -> None:
        client = Client(web.url)
        start.wait()
        statuses.append(client.login("op", "not the password"))

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 20
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 20


def test_a_good_login_does_not_wash_out_the_address(web: WebServer) -> None:
    client = Client(web.url)
    for name in ("ghost1", "ghost2", "ghost3", "ghost4"):
        assert client.login(name, "a guessed password") == 401
    assert client.login("op", PASSWORD) == 200  # gets its own attempt back, no more
    assert client.login("ghost5", "a guessed password") == 401  # the address's fifth failure
    assert client.login("aud", PASSWORD) == 429


def open_stream(web: WebServer, client: Client) -> tuple[http.client.HTTPConnection, int]:
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
    conn = http.client.HTTPConnection("127.0.0.1", port_of(web), timeout=10)
    conn.request("GET", "/api/stream", headers={"Cookie": cookie})
    response = conn.getresponse()
    if response.status == 200:
        assert response.readline().startswith(b"id: ")  # the first event: the whole view
    return conn, response.status


def test_event_streams_are_bounded_per_user_and_in_all(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "STREAMS_PER_USER", 3)
    monkeypatch.setattr(web_app, "STREAMS", 4)
    built = []
    build = web.view._view

    def counted() -> dict[str, Any]:
        built.append(1)
        return build()

    monkeypatch.setattr(web.view, "_view", counted)
    op, aud = Client(web.url), Client(web.url)
    assert op.login("op", PASSWORD) == 200 and aud.login("aud", PASSWORD) == 200
    streams = [open_stream(web, op) for _ in range(3)]
    assert [status for _, status in streams] == [200, 200, 200]
    assert len(built) == 1  # one view built for the three streams of the same version
    assert open_stream(web, op)[1] == 429  # the user's bound
    streams.append(open_stream(web, aud))
    assert streams[-1][1] == 200
    assert open_stream(web, aud)[1] == 429  # the server's bound
    for conn, _ in streams:
        conn.close()
    deadline = time.monotonic() + 10
    while web.view._streams.total() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert web.view._streams.total() == 0  # closed streams give their places back
    conn, status = open_stream(web, op)
    conn.close()
    assert status == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[" * 8000 + b"]" * 8000, 400, "request body: expected a JSON object"),
        (b'{"user": ["op"], "password": 12}', 400, "request body: user: expected a string"),
        (b"\xff\xfe not utf-8", 400, "request body: expected a JSON object"),
        (b'{"user": "' + b"a" * 20000 + b'"}', 413, "request body: at most 16384 bytes"),
    ],
)
def test_hostile_bodies_get_one_line(web: WebServer, body: bytes, status: int, error: str) -> None:
    got, headers, text = raw(web, post("/api/login", body))
    assert (got, json.loads(text)) == (status, {"error": error})
    assert headers["content-security-policy"].startswith("default-src 'self'")


def test_a_chunked_body_is_cut_at_the_bound(web: WebServer) -> None:
    chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
    request = (
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunk * 64 + b"0\r\n\r\n"
    )
    assert raw(web, request)[0] == 413


@pytest.mark.parametrize(
    "path",
    [
        "/static/../users.py",
        "/static/%2e%2e/users.py",
        "/static/..%2f..%2fweb%2fusers.json",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static//etc/passwd",
    ],
)
def test_no_path_leaves_the_static_folder(web: WebServer, path: str) -> None:
    status, _, body = raw(
        web, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    assert status == 404 and b"argon2" not in body and b"root:" not in body


def test_bad_cookies_and_injected_headers(web: WebServer) -> None:
    for cookie in (b"yunwang_session=\xff\xfe", b"yunwang_session=" + b"A" * 12000, b'a="b; =;;'):
        status, _, _ = raw(
            web, b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + cookie + b"\r\n\r\n"
        )
        assert status == 401
    status, headers, _ = raw(
        web,
        b"GET /api/county/x%0d%0aSet-Cookie:%20yunwang_session=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    assert status == 401 and "set-cookie" not in headers
    assert "server" not in headers  # no product or version for a scanner to match


def test_the_last_admin_keeps_the_admin_role(web: WebServer, tmp_path: Path) -> None:
    admin = Client(web.url)
    assert admin.login("admin", PASSWORD) == 200
    status, doc = admin.call(
        "api/users", {"name": "admin", "role": "operator", "password": PASSWORD}
    )
    assert (status, doc) == (400, {"error": "user admin: the last admin keeps the admin role"})
    assert admin.call("api/users/admin/delete", {})[0] == 400
    assert admin.call("api/me")[0] == 200
    refused = {
        r.action
        for r in AuditTrail(tmp_path / "audit.jsonl").records()
        if r.actor == "admin" and r.outcome == "failure"
    }
    assert refused == {"web.user.set", "web.user.remove"}  # refusals are in the trail too


def test_a_request_head_sent_slowly_is_cut_off(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_server, "REQUEST_HEAD_TIMEOUT_S", 1.0)
    op = Client(web.url)
    assert op.login("op", PASSWORD) == 200
    stream, status = open_stream(web, op)  # a request in progress is not late
    assert status == 200
    with socket.create_connection(("127.0.0.1", port_of(web)), timeout=10) as sock:
        sock.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        began = time.monotonic()
        for _ in range(100):  # a header now and then, never the end of the head
            time.sleep(0.2)  # 20 s of sending unless the 1 s deadline cuts it off
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1024) == b""  # closed, nothing answered
        # About 1.3 s expected; the bound is loose for a loaded machine yet far
        # below the 20 s the slow sender would otherwise keep the head open.
        assert time.monotonic() - began < 8
    assert web.view._streams.total() == 1  # the open stream outlived the deadline
    stream.close()
    keep_alive = http.client.HTTPConnection("127.0.0.1", port_of(web), timeout=10)
    for _ in range(2):  # requests that arrive whole are unaffected, on one connection
        keep_alive.request("GET", "/login")
        assert keep_alive.getresponse().read().startswith(b"<!doctype html>")
        time.sleep(0.5)
    keep_alive.close()


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 401),
        ("localhost:{port}", 401),
        ("[::1]:{port}", 401),
        ("evil.example:{port}", 421),  # a rebinding page's own name
        ("127.0.0.1.evil.example", 421),
        ("", 421),
    ],
)
def test_a_loopback_view_answers_only_loopback_names(
    web: WebServer, host: str, status: int
) -> None:
    host = host.format(port=port_of(web))
    got, headers, body = raw(web, f"GET /api/me HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert got == status and "content-security-policy" in headers
    if status == 421:
        assert json.loads(body)["error"].startswith("Host: this view listens on loopback")


def test_a_rebinding_page_cannot_spray_logins(web: WebServer) -> None:
    # What a page on evil.example, resolved to 127.0.0.1, makes the victim's browser send:
    # its Origin matches its Host, so only the Host check stands between it and the lock.
    origin = f"evil.example:{port_of(web)}"
    body = json.dumps({"user": "op", "password": "a guessed password"}).encode()
    for _ in range(6):
        request = post("/api/login", body, f"Origin: http://{origin}\r\n")
        request = request.replace(b"Host: 127.0.0.1", f"Host: {origin}".encode())
        assert raw(web, request)[0] == 421
    assert Client(web.url).login("op", PASSWORD) == 200  # the real user is not locked out


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost", "LOCALHOST."))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "198.18.0.1", "localhost.evil", ""))


def test_one_account_logging_in_again_and_again_ends_only_its_own_sessions(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS_PER_USER", 3)
    aud, ops = Client(web.url), [Client(web.url) for _ in range(5)]
    assert aud.login("aud", PASSWORD) == 200
    for op in ops:
        assert op.login("op", PASSWORD) == 200
    assert [op.call("api/me")[0] for op in ops] == [401, 401, 200, 200, 200]  # oldest ended
    assert aud.call("api/me")[0] == 200
