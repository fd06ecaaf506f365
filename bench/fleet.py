"""Producers -> Elasticsearch -> centre (issue 12): latency, throughput, poll lateness.

    .venv/bin/python bench/fleet.py [--events 50000] [--watch-seconds 60]

Starts its own Elasticsearch node (ci/elasticsearch) on a free port, then:
1. latency: a Shipper (the producer's path) sends 20 events/s for 30 s; the
   centre reads the feed once a second as `watch` does and grades each event;
   p50/p99 from handing the event to the shipper to its grading.
2. throughput: the same events through the pipeline into Elasticsearch as
   `watch`'s pipeline thread sends them (batches of 2,000, then the tick's
   flush) versus raw `helpers.bulk` of the same documents; events/s, ratio.
3. lateness: `Watch` (simulated city) replaying a large capture into
   Elasticsearch; poll-cycle lateness per cycle against the interval.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elasticsearch import helpers  # noqa: E402

from security.events import Event  # noqa: E402
from security.feed import Producer, Shipper  # noqa: E402
from security.feed_reader import FeedReader  # noqa: E402
from security.pipeline import Pipeline  # noqa: E402
from security.rulebook import load_rules  # noqa: E402
from security.store import open_store  # noqa: E402
from security.store.elastic import ElasticStore  # noqa: E402

ES = ROOT / "ci" / "elasticsearch"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(n: int, at: datetime | None = None) -> Event:
    return Event(
        timestamp=at or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n),
        dataset="yunwang.packets",
        action="bench",
        message=f"bench event {n}",
        labels=(("n", str(n)),),
    )


def latency(url: str, home: Path) -> tuple[float, float, int]:
    centre = open_store(f"{url}/?namespace=lat&spool={home / 'c'}")
    assert isinstance(centre, ElasticStore)
    pipeline = Pipeline(centre, rules=load_rules())
    shipper = Shipper(
        open_store(f"{url}/?namespace=lat&spool={home / 'p'}", install=False),
        Producer("bench-tap", "sensor"),
    ).start()
    reader = FeedReader(centre, home / "feed.json")
    sent: dict[str, float] = {}
    delays: list[float] = []
    stop = threading.Event()

    def centre_loop() -> None:
        while not stop.wait(1.0):  # the centre's feed period in `watch`
            events = reader.poll()
            pipeline.submit(events, stored=True)
            now = time.monotonic()
            delays.extend(now - sent[m] for e in events if (m := e.message) in sent)
            reader.commit()

    worker = threading.Thread(target=centre_loop)
    worker.start()
    for n in range(600):
        sent[f"bench event {n}"] = time.monotonic()
        shipper.ship(event(n, datetime.now(UTC)))
        time.sleep(0.05)
    deadline = time.monotonic() + 30
    while len(delays) < 600 and time.monotonic() < deadline:
        time.sleep(0.5)
    stop.set()
    worker.join()
    shipper.close()
    pipeline.close()
    delays.sort()
    return delays[len(delays) // 2], delays[int(len(delays) * 0.99) - 1], len(delays)


def throughput(url: str, home: Path, count: int) -> tuple[float, float]:
    events = [event(n) for n in range(count)]
    for e in events:
        _ = e.id  # both paths start from hashed events
    store = open_store(f"{url}/?namespace=thr&spool={home / 't'}")
    pipeline = Pipeline(store, rules=load_rules())
    started = time.perf_counter()
    for i in range(0, count, 2000):
        pipeline.submit(events[i : i + 2000])
    pipeline.tick()
    product = count / (time.perf_counter() - started)
    pipeline.close()
    raw = open_store(f"{url}/?namespace=raw&spool={home / 'r'}")
    assert isinstance(raw, ElasticStore)
    docs = [
        {"_op_type": "create", "_index": raw.stream, "_id": e.id, "_source": e.to_ecs()}
        for e in events
    ]
    started = time.perf_counter()
    helpers.bulk(raw.client, docs, chunk_size=2000)
    raw.client.indices.refresh(index=raw.stream)
    bulk = count / (time.perf_counter() - started)
    raw.close()
    return product, bulk


def lateness(url: str, seconds: float, interval: float, pcap: Path) -> list[float]:
    from yunwang.watch_job import Watch, WatchOptions

    options = WatchOptions(
        interval_s=interval, metrics_port=0, pcap=pcap, store=f"{url}/?namespace=late"
    )
    seen: list[float] = []
    with Watch(options) as watch:
        last = -1

        def note() -> None:
            nonlocal last
            if watch.cycles != last:
                last = watch.cycles
                seen.append(watch.stats.lateness_last_s)

        watch.run(time.monotonic() + seconds, note)
        print(f"  sensor: {watch.summary().sensor}, loop: {watch.summary().loop}", file=sys.stderr)
    return seen[1:]  # the first is the start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--watch-seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--connections", type=int, default=25_000, help="capture size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["YUNWANG_HOME"] = str(home / "home")
        port = free_port()
        node = Path(f"/tmp/yunwang-es-bench-{os.getpid()}")  # the node's user must reach it
        subprocess.run([str(ES / "start.sh"), "--dir", str(node), "--port", str(port)], check=True)
        url = f"http://127.0.0.1:{port}"
        try:
            p50, p99, n = latency(url, home)
            print(
                f"latency producer -> graded at the centre: p50 {p50:.2f} s, p99 {p99:.2f} s ({n} events)"
            )
            product, bulk = throughput(url, home, args.events)
            print(
                f"events/s into Elasticsearch: pipeline (watch's path) {product:.0f}, "
                f"raw helpers.bulk {bulk:.0f}, ratio {product / bulk:.2f}"
            )
            from bench.packets_bench import build_capture
            from estate import load

            estate_path = ROOT / "examples" / "small.yaml"
            pcap = build_capture(load(estate_path), estate_path, args.connections)
            late = lateness(url, args.watch_seconds, args.interval, pcap)
            print(
                f"poll lateness while replaying {pcap.name} into Elasticsearch "
                f"(interval {args.interval:g} s, {len(late)} cycles): "
                f"median {statistics.median(late) if late else float('nan'):.2f} s, "
                f"max {max(late, default=float('nan')):.2f} s, "
                f"late > 10 %: {sum(1 for x in late if x > args.interval * 0.1)}"
            )
        finally:
            subprocess.run([str(ES / "stop.sh"), "--dir", str(node)], check=False)  # and its data


if __name__ == "__main__":
    main()
