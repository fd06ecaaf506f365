"""Fixtures for the security tests: real Elasticsearch, real Alertmanager, a webhook receiver.

Each service is started by the fixture on a free 127.0.0.1 port and stopped
by the pid it recorded.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ES_SCRIPTS = ROOT / "ci" / "elasticsearch"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def yunwang_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Audit trail and default stores go to a per-test directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("YUNWANG_HOME", str(home))
    monkeypatch.setenv("YUNWANG_ACTOR", "tester")
    return home


class EsNode:
    """One real Elasticsearch node, started and stopped through ci/elasticsearch."""

    def __init__(self, directory: Path, settings: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Node settings for fault tests, e.g. a tiny write queue (per-item 429s).
        self.settings = [
            arg for k, v in (settings or {}).items() for arg in ("--setting", f"{k}={v}")
        ]

    def start(self, timeout_s: float = 300) -> None:
        result = subprocess.run(
            [
                str(ES_SCRIPTS / "start.sh"),
                "--dir",
                str(self.directory),
                "--port",
                str(self.port),
                *self.settings,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0:
            raise RuntimeError(f"elasticsearch did not start: {result.stderr.strip()[-500:]}")

    def stop(self, keep_data: bool = True) -> None:
        args = [str(ES_SCRIPTS / "stop.sh"), "--dir", str(self.directory)]
        subprocess.run(args + (["--keep-data"] if keep_data else []), check=True, timeout=120)


@pytest.fixture(scope="package")  # stopped when the security tests end, not left idle
def es_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsNode]:
    if shutil.which("java") is None:
        pytest.skip("no java: run ci/setup.d/50-security.sh (CI does)")
    directory = Path(f"/tmp/yunwang-es-test-{os.getpid()}")
    node = EsNode(directory)
    node.start()
    try:
        yield node
    finally:
        node.stop(keep_data=False)


def es_namespace() -> str:
    return "t" + uuid.uuid4().hex[:10]


class Receiver:
    """A tiny HTTP server that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(
                    {
                        "body": json.loads(self.rfile.read(length)),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class AlertmanagerProcess:
    def __init__(self, workdir: Path, webhook: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: hook\n"
            "  group_by: [alertname, warning_id]\n"
            "  group_wait: 0s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    webhook_configs:\n"
            f"      - url: {webhook}\n"
            "        send_resolved: true\n"
        )
        assert ALERTMANAGER is not None
        self.process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(self._ready, 30, "alertmanager ready", every=0.2)
        except AssertionError:
            self.stop()
            raise

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1):
                return True
        except OSError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(
            f"{self.url}/api/v2/alerts?active=true&silenced=false", timeout=5
        ) as r:
            data: list[dict[str, Any]] = json.loads(r.read())
            return data

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[AlertmanagerProcess]:
    if ALERTMANAGER is None:
        pytest.skip(
            "prometheus-alertmanager not installed: run ci/setup.d/50-security.sh (CI does)"
        )
    am = AlertmanagerProcess(tmp_path, receiver.url)
    yield am
    am.stop()
