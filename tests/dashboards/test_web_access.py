"""Access to the web view over real HTTP(S) (uvicorn): login, roles, CSRF, expiry, TLS.

The source is the event store, as `yunwang serve` uses it, with warnings in it.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dashboards.web.server import WebError, WebOptions, WebServer
from dashboards.web.sessions import SessionPolicy
from dashboards.web.source import StoreSource
from dashboards.web.users import Users
from estate import load
from security.audit import AuditTrail
from security.store import open_store
from security.warnings import Warning, warning_id
from tests.dashboards.conftest import REPO

ESTATE = REPO / "examples" / "small.yaml"
PASSWORD = "a long enough password"


class Client:
    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)
        self.csrf: str | None = None

    def call(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, user: str, password: str) -> int:
        status, doc = self.call("api/login", {"user": user, "password": password})
        if status == 200:
            self.csrf = doc["csrf"]
        return status


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def seeded(home: Path) -> Warning:
    now = dt.datetime.now(dt.UTC)
    warning = Warning(
        id=warning_id("YW-LINK-001", "hl", now), rule_id="YW-LINK-001", rule_name="dual link",
        key="hl", level="orange", base_level="orange", status="open",
        summary="county hl runs on its backup link", first_seen=now, last_seen=now,
        context={"county": "hl"},
    )  # fmt: skip
    store = open_store(f"sqlite:///{home / 'events.db'}")
    store.put_warnings([warning])
    store.close()
    return warning


def _server(home: Path, **options: Any) -> WebServer:
    # Cheap argon2 parameters keep the suite fast; verifying reads them from each hash.
    users = Users(
        home / "web" / "users.json", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    )
    for name, role in (("admin", "admin"), ("op", "operator"), ("aud", "auditor")):
        users.set(name, role, PASSWORD)
    store = open_store(f"sqlite:///{home / 'events.db'}")
    return WebServer(StoreSource(load(ESTATE), store), WebOptions(port=0, **options))


@pytest.fixture
def web(home: Path, seeded: Warning) -> Iterator[WebServer]:
    with _server(home) as server:
        yield server


def test_operator_acknowledges_with_csrf_and_it_is_audited(
    web: WebServer, seeded: Warning, home: Path
) -> None:
    op = Client(web.url)
    assert op.call("api/view")[0] == 401
    assert op.login("op", PASSWORD) == 200
    status, view = op.call("api/view")
    assert status == 200 and [w["id"] for w in view["warnings"]] == [seeded.id]
    assert {c["id"] for c in view["counties"]} == {"hl", "qf"}
    path = f"api/warnings/{seeded.id}/acknowledge"
    assert op.call(path, {"comment": "on it"}, csrf=False)[0] == 403  # no CSRF token
    op.csrf, real = "forged", op.csrf
    assert op.call(path, {"comment": "on it"})[0] == 403
    op.csrf = real
    assert op.call(path, {})[0] == 400  # a comment is required
    as_form = {"Content-Type": "text/plain"}  # what a cross-site form can send without preflight
    assert op.call(path, {"comment": "x"}, headers=as_form)[0] == 415
    assert op.call(path, {"comment": "x"}, headers={"Origin": "https://evil.example"})[0] == 403
    assert (
        Client(web.url).call("api/login", {"user": "op", "password": PASSWORD}, headers=as_form)[0]
        == 415
    )
    status, doc = op.call(path, {"comment": "on it"})
    assert status == 200 and doc["status"] == "acknowledged" and doc["ack_by"] == "op"
    assert op.call(path, {"comment": "again"})[0] == 409
    resolve = f"api/warnings/{seeded.id}/resolve"
    status, doc = op.call(resolve, {"comment": "carrier repaired the line"})
    assert status == 200 and doc["status"] == "resolved"
    assert op.call("api/view")[1]["warnings"] == []  # the page lists active warnings only
    records = list(AuditTrail(home / "audit.jsonl").records())
    for verb in ("acknowledge", "resolve"):
        assert any(
            r.actor == "op" and r.action == f"warning.{verb}" and r.outcome == "success"
            for r in records
        )
    assert any(
        r.actor == "op" and r.action == "web.csrf" and r.outcome == "failure" for r in records
    )
    refused = [r for r in records if r.actor == "op" and r.action == "web.cross_site"]
    assert [r.detail.get("origin") for r in refused] == ["", "https://evil.example"]


def test_roles_are_separate(web: WebServer, seeded: Warning) -> None:
    aud, admin, op = Client(web.url), Client(web.url), Client(web.url)
    for client, name in ((aud, "aud"), (admin, "admin"), (op, "op")):
        assert client.login(name, PASSWORD) == 200
    act = f"api/warnings/{seeded.id}/resolve"
    assert aud.call(act, {"comment": "x"})[0] == 403
    assert admin.call(act, {"comment": "x"})[0] == 403
    status, trail = aud.call("api/audit")
    assert status == 200 and trail["intact"]
    assert {(r["actor"], r["action"]) for r in trail["records"]} >= {
        ("aud", "web.login"),
        ("admin", "web.denied"),
        ("aud", "web.denied"),
    }  # newest first; the refused attempts are there
    assert op.call("api/audit")[0] == 403 and admin.call("api/audit")[0] == 403
    assert op.call("api/users", {"name": "x", "role": "admin", "password": PASSWORD})[0] == 403
    assert (
        admin.call("api/users", {"name": "new", "role": "operator", "password": "short"})[0] == 400
    )
    assert (
        admin.call("api/users", {"name": "op", "role": "auditor", "password": PASSWORD})[0] == 200
    )
    assert op.call("api/me")[0] == 401  # a changed role ends the user's sessions


def test_login_is_rate_limited_and_audited(web: WebServer, home: Path) -> None:
    client = Client(web.url)
    for _ in range(5):
        assert client.login("op", "wrong password here") == 401
    assert client.login("op", PASSWORD) == 429  # locked even with the right password
    assert client.login("ghost", "x" * 5000) == 429  # the address is locked too
    failures = [r for r in AuditTrail(home / "audit.jsonl").records() if r.action == "web.login"]
    assert sum(r.outcome == "failure" for r in failures) == 7


def test_sessions_expire(web: WebServer) -> None:
    # Seconds, not tenths: the call right after login must land within idle_s.
    web.view.sessions.policy = SessionPolicy(idle_s=3.0)
    client = Client(web.url)
    assert client.login("op", PASSWORD) == 200
    assert client.call("api/me")[0] == 200
    time.sleep(4.0)
    assert client.call("api/me")[0] == 401


def test_sessions_end_after_the_shift_even_in_use(web: WebServer) -> None:
    absolute_s = 3.0
    web.view.sessions.policy = SessionPolicy(absolute_s=absolute_s)
    client = Client(web.url)
    began = time.monotonic()  # no later than the session's creation
    assert client.login("op", PASSWORD) == 200
    statuses: list[int] = []
    # Used all the time (idle expiry never comes) until the first refusal; the
    # bound is generous because a loaded machine may answer slowly.
    while time.monotonic() - began < absolute_s + 15:
        statuses.append(client.call("api/me")[0])
        if statuses[-1] != 200:
            break
        time.sleep(0.1)
    ended_after = time.monotonic() - began
    assert statuses[-1] == 401
    assert statuses[:-1] and set(statuses[:-1]) == {200}  # in use until then
    assert ended_after >= absolute_s  # the shift's end, not earlier


def test_plain_passwords_are_refused(home: Path) -> None:
    users = home / "web" / "users.json"
    users.parent.mkdir(parents=True)
    users.write_text(json.dumps({"users": {"op": {"role": "operator", "hash": "hunter2"}}}))
    with pytest.raises(WebError, match=r"users\.op\.hash: expected an argon2 hash"):
        WebServer(
            StoreSource(load(ESTATE), open_store(f"sqlite:///{home / 'e.db'}")), WebOptions(port=0)
        )


def test_first_start_creates_one_admin_with_a_private_password(home: Path) -> None:
    store = open_store(f"sqlite:///{home / 'events.db'}")
    with WebServer(StoreSource(load(ESTATE), store), WebOptions(port=0)) as server:
        assert server.first_login is not None
        assert server.first_login.stat().st_mode & 0o777 == 0o600
        assert "first login: user admin" in server.hint() and server.url.startswith(
            "http://127.0.0.1:"
        )
        password = server.first_login.read_text().split("password: ")[1].strip()
        assert password not in (home / "web" / "users.json").read_text()
        assert Client(server.url).login("admin", password) == 200


def test_tls_when_given_a_certificate(home: Path, seeded: Warning) -> None:
    cert, key = _self_signed(home)
    with _server(home, certfile=cert, keyfile=key) as server:
        assert server.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        client = Client(server.url, context)
        assert client.login("op", PASSWORD) == 200
        # the session cookie never travels in clear, and no other host can plant one
        assert [(c.name, c.secure) for c in client.jar] == [("__Host-yunwang_session", True)]
        with client.opener.open(server.url + "login", timeout=10) as page:
            assert page.headers["Strict-Transport-Security"].startswith("max-age=")
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert client.call("api/view")[0] == 200
        assert client.call("api/logout", {})[0] == 200
        assert not list(client.jar) and client.call("api/view")[0] == 401


def test_serve_command_prints_the_address_and_first_login(home: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "yunwang", "serve", str(ESTATE), "--port", "0"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("web view: http://127.0.0.1:") and "first login: user admin" in line
        url = line.split()[2]
        assert Client(url).call("api/view")[0] == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run(
        [sys.executable, "-m", "yunwang", "serve", str(ESTATE), "--cert", "/nonexistent.pem", "--key", "/k"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.strip() == "/nonexistent.pem: no such file"
    (home / "junk.pem").write_text("not a certificate\n")
    cert, key = _self_signed(home)
    for pair, said in (
        ((home / "junk.pem", key), "expected a PEM certificate and its private key"),
        ((cert, home / "junk.pem"), "expected a PEM certificate and its private key"),
    ):
        bad = subprocess.run(
            [sys.executable, "-m", "yunwang", "serve", str(ESTATE), "--port", "0",
             "--cert", str(pair[0]), "--key", str(pair[1])],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and said in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bad = subprocess.run(
            [sys.executable, "-m", "yunwang", "serve", str(ESTATE), "--port", str(port)],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr == f"web view: cannot listen on 127.0.0.1:{port} (Address already in use)\n"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_drill_downs_for_a_county_a_tenant_and_a_warning(web: WebServer, seeded: Warning) -> None:
    aud = Client(web.url)  # reading the page is every role's; the auditor suffices
    assert aud.login("aud", PASSWORD) == 200
    status, county = aud.call("api/county/hl")
    assert status == 200 and [t["id"] for t in county["townships"]] == ["hl-zyl", "hl-ycz"]
    assert [v["id"] for v in county["townships"][0]["villages"]] == ["hl-zyl-v001", "hl-zyl-v002"]
    assert [w["id"] for w in county["warnings"]] == [seeded.id]
    assert county["posture"]["kind"] == "county" and county["posture"]["score"] < 100
    assert any(d["component"] == "warnings" for d in county["posture"]["deductions"])
    status, tenant = aud.call("api/explain/tenant/gaj")  # posture --explain for a tenant
    assert status == 200 and (tenant["kind"], tenant["name"]) == ("tenant", "gaj")
    assert 0 <= tenant["score"] <= 100 and isinstance(tenant["deductions"], list)
    status, warning = aud.call(f"api/warnings/{seeded.id}")
    assert status == 200 and warning["summary"] == seeded.summary and warning["level"] == "orange"
    assert aud.call("api/county/nowhere")[0] == 404
    assert aud.call("api/explain/galaxy/x")[0] == 404
    assert aud.call("api/warnings/no-such-warning")[0] == 404
