"""Events per second into Elasticsearch: the store vs a raw helpers.bulk loop (goal >= 80 %).

    .venv/bin/python bench/security_elastic.py [--url http://127.0.0.1:9200] [--events 100000] [--rounds 3]

Without --url it starts its own node with ci/elasticsearch/start.sh on a free
port and stops it at the end. Both sides start from the same Event objects,
index into a fresh data stream of the same template, with the same chunk
size, and end with a refresh; after an untimed warm-up of both, rounds
alternate which side goes first.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from elasticsearch import helpers
from security_common import event_mix, median

from security.events import Event
from security.store.elastic import ElasticStore

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 2000


def store_run(url: str, events: list[Event], spool: Path) -> float:
    store = ElasticStore(
        url, namespace="b" + uuid.uuid4().hex[:8], spool_dir=spool, chunk_size=CHUNK
    )
    started = time.perf_counter()
    for i in range(0, len(events), 1000):
        store.put_events(events[i : i + 1000])
    store.flush()
    elapsed = time.perf_counter() - started
    assert store.count_events() == len(events) and not store.spool
    store.close()
    return len(events) / elapsed


def raw_run(url: str, events: list[Event], spool: Path) -> float:
    # Same template installed (through a store) so mappings match; then a bare loop.
    store = ElasticStore(url, namespace="r" + uuid.uuid4().hex[:8], spool_dir=spool)
    client, stream = store.client, store.stream
    started = time.perf_counter()
    actions = (
        {"_op_type": "create", "_index": stream, "_id": e.id, "_source": e.to_ecs()} for e in events
    )
    ok, errors = helpers.bulk(client, actions, chunk_size=CHUNK, stats_only=True)
    client.indices.refresh(index=stream)
    elapsed = time.perf_counter() - started
    assert ok == len(events) and not errors
    store.close()
    return len(events) / elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    node_dir = None
    url = args.url
    if url is None:
        port = free_port()
        node_dir = Path(tempfile.mkdtemp(prefix="yunwang-es-bench-"))
        subprocess.run(
            [
                str(ROOT / "ci/elasticsearch/start.sh"),
                "--dir",
                str(node_dir),
                "--port",
                str(port),
                "--heap",
                "1g",
            ],
            check=True,
        )
        url = f"http://127.0.0.1:{port}"
    try:
        events = event_mix(args.events)
        store_rates, raw_rates = [], []
        with tempfile.TemporaryDirectory() as tmp:
            # Untimed warm-up of both paths: the JVM's first bulk requests are slow.
            store_run(url, events[:5000], Path(tmp) / "warm-s")
            raw_run(url, events[:5000], Path(tmp) / "warm-r")
            for round_no in range(args.rounds):
                spool = Path(tmp) / str(round_no)
                if round_no % 2 == 0:
                    store_rates.append(store_run(url, events, spool / "s"))
                    raw_rates.append(raw_run(url, events, spool / "r"))
                else:
                    raw_rates.append(raw_run(url, events, spool / "r"))
                    store_rates.append(store_run(url, events, spool / "s"))
        s, r = median(store_rates), median(raw_rates)
        print(
            json.dumps(
                {
                    "events": args.events,
                    "rounds": args.rounds,
                    "store_events_per_s": round(s),
                    "raw_helpers_bulk_events_per_s": round(r),
                    "store_vs_raw": round(s / r, 3),
                    # Rounds are paired (same load at the same time): the median
                    # of per-round ratios is steadier than the ratio of medians.
                    "paired_ratio_median": round(
                        median([a / b for a, b in zip(store_rates, raw_rates, strict=True)]), 3
                    ),
                    "goal_80_percent": s / r >= 0.8,
                    "store_rounds": [round(x) for x in store_rates],
                    "raw_rounds": [round(x) for x in raw_rates],
                },
                indent=2,
            )
        )
    finally:
        if node_dir is not None:
            subprocess.run(
                [str(ROOT / "ci/elasticsearch/stop.sh"), "--dir", str(node_dir)], check=True
            )


if __name__ == "__main__":
    main()
