"""Latency from an event entering the pipeline to its warning stored and visible in metrics.

    .venv/bin/python bench/security_latency.py [--rate 1000] [--seconds 20]

A producer thread submits a watch-like mix at --rate events/s in 50 ms
batches (10 % of events match a rule; a few hundred distinct keys, so most
repeat an open warning and some open new ones). A scraper polls the
pipeline's Prometheus endpoint on 127.0.0.1 every 50 ms. For each warning
opened, latency = first scrape showing it (yunwang_warning_active) minus the
time its first event was handed to the pipeline; the store is checked to
hold it. Goal: p99 < 1 s at 1k events/s. The scrape interval bounds the
resolution (about +25 ms on average).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from security_common import event_mix

from security.events import utcnow
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore

ACTIVE = re.compile(r'yunwang_warning_active\{[^}]*warning_id="(W[0-9a-f]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(SqliteStore(Path(tmp) / "events.db"))
        registry = CollectorRegistry()
        registry.register(pipeline.collector())
        server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        submitted_at: dict[str, float] = {}
        first_seen: dict[str, float] = {}
        done = threading.Event()

        def scrape() -> None:
            while not done.is_set():
                body = urllib.request.urlopen(url, timeout=5).read().decode()
                now = time.perf_counter()
                for warning_id in ACTIVE.findall(body):
                    first_seen.setdefault(warning_id, now)
                time.sleep(0.05)

        def tick() -> None:
            while not done.is_set():
                pipeline.tick()
                time.sleep(1)

        mix = event_mix(int(args.rate * args.seconds))
        batch = max(1, args.rate // 20)
        scraper = threading.Thread(target=scrape)
        ticker = threading.Thread(target=tick)
        scraper.start()
        ticker.start()
        start = time.perf_counter()
        for n, i in enumerate(range(0, len(mix), batch)):
            due = start + n * batch / args.rate
            time.sleep(max(0.0, due - time.perf_counter()))
            events = [replace(e, timestamp=utcnow()) for e in mix[i : i + batch]]
            handed = time.perf_counter()
            for change in pipeline.submit(events):
                if change.kind == "opened":
                    submitted_at[change.warning.id] = handed
        produced_for = time.perf_counter() - start
        time.sleep(1.5)
        done.set()
        scraper.join()
        ticker.join()
        server.shutdown()
        latencies = [first_seen[w] - t for w, t in submitted_at.items() if w in first_seen]
        stored = sum(1 for w in submitted_at if pipeline.store.get_warning(w) is not None)
        pipeline.close()
    print(
        json.dumps(
            {
                "rate_target": args.rate,
                "rate_achieved": round(len(mix) / produced_for),
                "events": len(mix),
                "warnings_opened": len(submitted_at),
                "warnings_stored": stored,
                "seen_in_metrics": len(latencies),
                "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
                "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
                "max_ms": round(1000 * max(latencies), 1),
                "goal_p99_under_1s": percentile(latencies, 0.99) < 1.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
