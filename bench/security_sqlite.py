"""Events per second into the SQLite store, batched (goal: >= 50k/s).

    .venv/bin/python bench/security_sqlite.py [--events 200000] [--rounds 3]

Peer in the same run: a bare `executemany` of prebuilt rows into the same
tables without full-text indexing (the floor SQLite itself sets). The
store does more: builds the ECS document and the event id, and indexes
every message in FTS5. Wall and CPU rates are both reported: the machine
is shared, so events per CPU-second is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from security_common import event_mix, median

from security.store.sqlite import SCHEMA, SqliteStore, _row


def store_run(events: list, directory: Path) -> tuple[float, float]:  # type: ignore[type-arg]
    """(events per wall second, events per CPU second)."""
    store = SqliteStore(directory / "store.db")
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), 1000):  # producers hand over ~1k events at a time
        store.put_events(events[i : i + 1000])
    store.flush()
    elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
    assert store.count_events() == len(events)
    store.close()
    return len(events) / elapsed, len(events) / cpu_used


def raw_run(rows: list[tuple], directory: Path) -> tuple[float, float]:  # type: ignore[type-arg]
    db = sqlite3.connect(directory / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), 5000):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO events (id, ts, dataset, message, doc) VALUES (?,?,?,?,?)",
            rows[i : i + 5000],
        )
        db.execute("COMMIT")
    elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return len(rows) / elapsed, len(rows) / cpu_used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    events = event_mix(args.events)
    rows = [_row(e) for e in events]  # the peer gets ids and JSON for free
    store_runs, raw_runs = [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            store_runs.append(store_run(events, Path(tmp)))
            raw_runs.append(raw_run(rows, Path(tmp)))
    s_wall, s_cpu = median([r[0] for r in store_runs]), median([r[1] for r in store_runs])
    r_wall, r_cpu = median([r[0] for r in raw_runs]), median([r[1] for r in raw_runs])
    result = {
        "events": args.events,
        "rounds": args.rounds,
        "store_events_per_s": round(s_wall),
        "store_events_per_cpu_s": round(s_cpu),
        "raw_executemany_rows_per_s": round(r_wall),
        "raw_executemany_rows_per_cpu_s": round(r_cpu),
        "store_vs_raw_wall": round(s_wall / r_wall, 3),
        "goal_50k_per_s": s_wall >= 50_000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
