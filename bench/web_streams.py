"""Many open event streams at full city size: one view JSON per change for all
streams (the web view now) against one per stream (its first version), same run.

    .venv/bin/python bench/web_streams.py --streams 1 8 40 --runs 5

examples/puyang.yaml (6 counties, 85 townships, 2,980 villages), a real
Pipeline on SQLite, uvicorn on loopback; each stream is a logged-in client
(8 per user, the server's bound) reading `/api/stream` in its own thread.
Each run raises a new warning, calls `changed()` as the watch loop does after
a cycle, and times until every stream has the new version; the process CPU
time over that window (server and clients alike, the same in both modes) is
the cost of one change.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dashboards.web.app import STREAMS_PER_USER  # noqa: E402
from dashboards.web.server import WebOptions, WebServer  # noqa: E402
from dashboards.web.source import LinkReadings, PipelineSource  # noqa: E402
from dashboards.web.users import Users  # noqa: E402
from estate import load  # noqa: E402
from security.events import Context, Event  # noqa: E402
from security.pipeline import Pipeline  # noqa: E402
from security.store import open_store  # noqa: E402

PASSWORD = "bench password 123"
ESTATE = load(REPO / "examples" / "puyang.yaml")


class Stream(threading.Thread):
    """One open `/api/stream`: the newest version it has received, and when."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/stream", headers={"Cookie": cookie})
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.status
        self.version, self.seen = -1, 0.0
        self.changed = threading.Condition()

    def run(self) -> None:
        try:
            for line in self.response:
                if line.startswith(b"id: "):
                    with self.changed:
                        self.version, self.seen = int(line[4:]), time.perf_counter()
                        self.changed.notify_all()
        except (OSError, ValueError, AttributeError):  # http.client, closed under its reader
            return

    def close(self) -> None:
        # Shut the socket first: closing the file under a blocked reader waits for ever.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout=10)
        self.conn.close()

    def wait_for(self, version: int, timeout: float = 30.0) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: self.version >= version, timeout):
                raise AssertionError(f"stream did not get version {version} in {timeout}s")
            return self.seen


def login(url: str, user: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"user": user, "password": PASSWORD}).encode()
    request = urllib.request.Request(url + "api/login", body, {"Content-Type": "application/json"})
    opener.open(request, timeout=30).close()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def failover(pair_id: str) -> Event:
    pair = next(p for p in ESTATE.link_pairs() if p.id == pair_id)
    return Event(
        timestamp=datetime.now(UTC), dataset="yunwang.links", action="pair-state-changed",
        message=f"{pair_id} failover",
        context=Context(pair=pair_id, node=pair_id, level=pair.primary.level,
                        county=pair.primary.county, township=pair.primary.township,
                        state="failover"),
    )  # fmt: skip


def measure(count: int, runs: int, shared: bool, home: Path) -> dict[str, Any]:
    pipeline = Pipeline(open_store(f"sqlite:///{home / f'events-{count}-{shared}.db'}"))
    townships = [t.id for t in ESTATE.nodes(level="township")]
    readings = LinkReadings(states=dict.fromkeys(townships[:10], "failover"))
    source = PipelineSource(ESTATE, pipeline, lambda: readings)
    source.changed()
    users = Users(
        home / f"users-{count}-{shared}.json",
        PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
    )
    names = [f"screen{i}" for i in range((count + STREAMS_PER_USER - 1) // STREAMS_PER_USER)]
    for name in names:
        users.set(name, "operator", PASSWORD)
    options = WebOptions(port=0, users_file=users.path)
    latencies, cpu = [], []
    with WebServer(source, options) as server:
        if not shared:  # the first version: every stream built its own JSON
            view = server.view
            view._view_json = lambda version: json.dumps(view._view(), ensure_ascii=False)  # type: ignore[method-assign]
        port = int(server.url.rstrip("/").rsplit(":", 1)[1])
        cookies = {name: login(server.url, name) for name in names}
        streams = [Stream(port, cookies[names[i // STREAMS_PER_USER]]) for i in range(count)]
        for stream in streams:
            stream.start()
        for stream in streams:
            stream.wait_for(source.version)
        for run in range(runs):
            pipeline.submit([failover(townships[20 + run])])
            time.sleep(0.5)  # the streams idle (their 0.2 s polls) before the change
            cpu0, began = time.process_time(), time.perf_counter()
            source.changed()
            seen = [stream.wait_for(source.version) for stream in streams]
            latencies.append((max(seen) - began) * 1000)
            cpu.append((time.process_time() - cpu0) * 1000)
            print(f"{count} streams, {'shared' if shared else 'per stream'}, run {run}: "
                  f"{latencies[-1]:.0f} ms, {cpu[-1]:.0f} ms CPU", file=sys.stderr)  # fmt: skip
        for stream in streams:
            stream.close()
    pipeline.close()
    return {"latency_ms": latencies, "cpu_ms": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 40])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for count in args.streams:
            shared = measure(count, args.runs, True, home)
            alone = measure(count, args.runs, False, home)
            rows.append((count, shared, alone))
    print("| streams | change to all streams, ms: shared / per stream | ratio "
          "| CPU per change, ms: shared / per stream | ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    for count, shared, alone in rows:
        lat = statistics.median(shared["latency_ms"]), statistics.median(alone["latency_ms"])
        cpu = statistics.median(shared["cpu_ms"]), statistics.median(alone["cpu_ms"])
        print(f"| {count} | {lat[0]:.0f} / {lat[1]:.0f} | {lat[1] / lat[0]:.2f} "
              f"| {cpu[0]:.0f} / {cpu[1]:.0f} | {cpu[1] / cpu[0]:.2f} |")  # fmt: skip
    print()
    print("raw:", json.dumps({c: {"shared": s, "per_stream": a} for c, s, a in rows}))


if __name__ == "__main__":
    main()
