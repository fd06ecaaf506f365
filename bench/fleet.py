"""Producers -> Elasticsearch -> centre (issue 12): latency, throughput, poll lateness.

    .venv/bin/python bench/fleet.py [--events 50000] [--watch-seconds 60] [--url URL]

Starts its own Elasticsearch node (ci/elasticsearch) on a free port (or
uses --url), then, each on the product path:
1. latency: a `Shipper` (a producer's path) sends port scans from distinct
   sources at --rate/s; a `Watch` with that store (the centre: its feed
   thread, its pipeline) opens one warning for each; p50/p99 from handing the
   event to the shipper to the warning being open at the centre.
2. throughput: events put into a running `Watch`'s queue as its sensor
   thread puts them, until all are graded and written to Elasticsearch;
   versus raw `helpers.bulk` of the same events (their documents built on
   the way, as the store has to); events/s, ratio.
3. lateness: `Watch` (simulated city) replaying a large capture into
   Elasticsearch; poll-cycle lateness per cycle against the interval.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/fleet_ab.py points this at an older tree: the same bench, that tree's product code.
TREE = Path(os.environ.get("YUNWANG_BENCH_TREE") or ROOT)
sys.path.insert(0, str(TREE))

from elasticsearch import helpers  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402

from monitors.packets.capture import PcapWriter  # noqa: E402
from security.events import Endpoint, Event  # noqa: E402
from security.feed import Producer, Shipper  # noqa: E402
from security.store import open_store  # noqa: E402
from security.store.elastic import ElasticStore  # noqa: E402
from yunwang.watch_job import Watch, WatchOptions  # noqa: E402

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


def benign_capture(path: Path) -> Path:
    """One harmless frame: the centre's own sensor has nothing to add."""
    with PcapWriter(path) as writer:
        frame = bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(op=1))
        writer.write(time.time(), frame, len(frame))
    return path


def _scan(n: int) -> Event:
    """A port scan from its own source: each one its own warning (YW-NET-004)."""
    return Event(
        timestamp=datetime.now(UTC),
        dataset="yunwang.packets",
        action="port-scan",
        message=f"bench scan {n}",
        source=Endpoint(ip=f"198.19.{n // 250}.{n % 250 + 1}"),
    )


def _centre(url: str, namespace: str, home: Path) -> WatchOptions:
    """`yunwang watch --store URL` on the simulated city, a benign capture: the centre."""
    return WatchOptions(
        interval_s=5,
        scenario="normal",
        metrics_port=0,
        pcap=benign_capture(home / "benign.pcap"),
        store=f"{url}/?namespace={namespace}&spool={home / namespace}",
    )


def latency(url: str, home: Path, count: int, rate: float) -> list[float]:
    """Shipper -> Elasticsearch -> the centre's feed thread -> an open warning."""
    sent: dict[str, float] = {}
    opened: dict[str, float] = {}
    namespace = f"lat{os.getpid()}"  # a node given by --url may hold earlier runs
    with Watch(_centre(url, namespace, home)) as watch:
        assert watch.security is not None
        pipeline = watch.security.pipeline
        shipper = Shipper(
            open_store(f"{url}/?namespace={namespace}&spool={home / 'p'}", install=False),
            Producer("bench-tap", "sensor"),
        ).start()

        def produce() -> None:
            for n in range(count):
                scan = _scan(n)
                sent[f"port-scan from {scan.source.ip}"] = time.monotonic()  # type: ignore[union-attr]
                shipper.ship(scan)
                time.sleep(1 / rate)

        def note() -> None:
            now = time.monotonic()
            for warning in pipeline.active_warnings():
                if warning.summary in sent and warning.summary not in opened:
                    opened[warning.summary] = now

        producer = threading.Thread(target=produce)
        producer.start()
        watch.run(
            time.monotonic() + count / rate + 30,
            note,
            done=lambda: len(opened) >= count,
            refresh_s=0.02,
        )
        producer.join()
        shipper.close()
    return sorted(opened[k] - sent[k] for k in opened)


def _scans_from(n: int, sources: int) -> Event:
    """A port scan from one of `sources` addresses: each event raises or updates a warning."""
    return replace(
        event(n),
        action="port-scan",
        source=Endpoint(ip=f"198.19.{n % sources // 250}.{n % sources % 250 + 1}"),
    )


def throughput(
    url: str, home: Path, count: int, raw_first: bool = False, graded: bool = False
) -> tuple[float, float]:
    """Events/s: through `watch`'s queue into Elasticsearch vs raw `helpers.bulk`.

    The events' action ("bench") concerns no rule unless `graded`: then each
    is a port scan from one of 500 sources, so every event is matched and
    raises or updates one of 500 warnings (YW-NET-004).
    """
    events = [_scans_from(n, 500) if graded else event(n) for n in range(count)]
    for e in events:
        _ = e.id  # both paths start from hashed events, their documents built with the hash
    # Alternated by bench/fleet_ab.py: whichever runs second meets the first's merges.
    if raw_first:
        bulk = _raw_bulk(url, home, events)
        product = _through_watch(url, home, events)
    else:
        product = _through_watch(url, home, events)
        bulk = _raw_bulk(url, home, events)
    return product, bulk


def _through_watch(url: str, home: Path, events: list[Event], run: str = "") -> float:
    count = len(events)
    namespace = f"thr{os.getpid()}{run}"
    with Watch(_centre(url, namespace, home)) as watch:
        assert watch.security is not None
        pipeline = watch.security.pipeline
        started = time.perf_counter()

        def sense() -> None:
            for e in events:
                watch.queue.put(e)

        feeder = threading.Thread(target=sense)
        feeder.start()  # as the sensor thread puts its events
        watch.run(
            None,
            done=lambda: pipeline.events_total["yunwang.packets"] >= count,
            refresh_s=0.02,
        )
        pipeline.store.flush()  # the rest of the batch, and a refresh: all searchable
        product = count / (time.perf_counter() - started)
        feeder.join()
        stored = pipeline.store.count_events()
    assert stored >= count, f"through watch: {stored} of {count} events stored"
    return product


def _raw_bulk(url: str, home: Path, events: list[Event], run: str = "") -> float:
    namespace = f"raw{os.getpid()}{run}"
    raw = open_store(f"{url}/?namespace={namespace}&spool={home / 'r'}")
    assert isinstance(raw, ElasticStore)
    started = time.perf_counter()
    docs = (
        {"_op_type": "create", "_index": raw.stream, "_id": e.id, "_source": e.document()}
        for e in events
    )
    helpers.bulk(raw.client, docs, chunk_size=2000)
    raw.client.indices.refresh(index=raw.stream)
    bulk = len(events) / (time.perf_counter() - started)
    raw.close()
    return bulk


def lateness(url: str, seconds: float, interval: float, pcap: Path) -> list[float]:
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
    parser.add_argument("--scans", type=int, default=600, help="latency: events shipped")
    parser.add_argument("--rate", type=float, default=20, help="latency: events/s shipped")
    parser.add_argument("--watch-seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--connections", type=int, default=25_000, help="capture size")
    parser.add_argument(
        "--scanners",
        type=int,
        default=0,
        help="lateness: replay a scan storm instead (N sources x 16 ports, every frame an event)",
    )
    parser.add_argument("--url", help="an Elasticsearch node already running (fresh namespaces)")
    parser.add_argument("--only", choices=("latency", "throughput", "lateness"))
    parser.add_argument("--raw-first", action="store_true", help="throughput: the peer first")
    parser.add_argument("--graded", action="store_true", help="throughput: events rules match")
    parser.add_argument("--json", action="store_true", help="one JSON line (bench/fleet_ab.py)")
    args = parser.parse_args()
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["YUNWANG_HOME"] = str(home / "home")
        node = Path(f"/tmp/yunwang-es-bench-{os.getpid()}")  # the node's user must reach it
        url = args.url
        if url is None:
            port = free_port()
            subprocess.run(
                [str(ES / "start.sh"), "--dir", str(node), "--port", str(port)], check=True
            )
            url = f"http://127.0.0.1:{port}"
        try:
            if args.only in (None, "latency"):
                delays = latency(url, home, args.scans, args.rate)
                p50 = statistics.median(delays)
                p99 = delays[max(0, int(len(delays) * 0.99) - 1)]
                result.update(p50=p50, p99=p99, max=delays[-1], opened=len(delays))
                print(
                    f"latency producer -> warning open at the centre: p50 {p50:.2f} s, "
                    f"p99 {p99:.2f} s, max {delays[-1]:.2f} s ({len(delays)} of {args.scans})"
                )
            if args.only in (None, "throughput"):
                product, bulk = throughput(url, home, args.events, args.raw_first, args.graded)
                result.update(watch=product, raw=bulk, ratio=product / bulk)
                print(
                    f"events/s into Elasticsearch: through watch {product:.0f}, "
                    f"raw helpers.bulk {bulk:.0f}, ratio {product / bulk:.2f}"
                )
            if args.only in (None, "lateness"):
                from bench.packets_bench import build_capture
                from estate import load
                from monitors.sim.traffic import write_scan_storm

                estate_path = ROOT / "examples" / "small.yaml"
                if args.scanners:
                    storm = home / "scan-storm.pcap"
                    pcap = write_scan_storm(
                        load(estate_path), storm, args.scanners, 16, time.time()
                    ).path
                else:
                    pcap = build_capture(load(estate_path), estate_path, args.connections)
                late = lateness(url, args.watch_seconds, args.interval, pcap)
                print(
                    f"poll lateness while replaying {pcap.name} into Elasticsearch "
                    f"(interval {args.interval:g} s, {len(late)} cycles): "
                    f"median {statistics.median(late) if late else float('nan'):.2f} s, "
                    f"max {max(late, default=float('nan')):.2f} s, "
                    f"late > 10 %: {sum(1 for x in late if x > args.interval * 0.1)}"
                )
            if args.json:
                print(json.dumps(result))
        finally:
            if args.url is None:
                subprocess.run([str(ES / "stop.sh"), "--dir", str(node)], check=False)


if __name__ == "__main__":
    main()
