"""The embedded store: one SQLite file in WAL mode.

Events are buffered and written in batches inside one transaction (the
difference between ~1k and >50k events/s); ids are unique keys, so a replay
is ignored row by row. Message text is indexed with FTS5 over the events
table (external content): new rows are added to the index in one statement
per batch, which is ~4x faster than a per-row trigger; deletions go
through a trigger (retention is rare).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from security.events import Event
from security.levels import WarningLevel, rank
from security.store import StoreError, StoreHealth, check_retention, parse_query
from security.warnings import Status, Warning

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    rowid INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,  -- the 16 bytes of Event.id: a smaller, faster unique index
    ts REAL NOT NULL,
    dataset TEXT NOT NULL,
    message TEXT NOT NULL,
    doc TEXT NOT NULL  -- the ECS document; ad-hoc SQL: doc ->> '$.yunwang.county'
);
-- Only the columns and indexes the CLI's queries use: each one costs insert
-- speed, and the document holds every field anyway.
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_dataset_ts ON events (dataset, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    message, content='events', content_rowid='rowid'
);
CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, message) VALUES ('delete', old.rowid, old.message);
END;
CREATE TABLE IF NOT EXISTS warnings (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    key TEXT NOT NULL,
    level TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_seen REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS warnings_status_level ON warnings (status, level_rank, last_seen);
CREATE INDEX IF NOT EXISTS warnings_rule_key ON warnings (rule_id, key);
"""


def fts_query(text: str) -> str:
    """Every word must appear; words are quoted so user text is never FTS syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words)


def _row(event: Event) -> tuple[Any, ...]:
    # The stored document is exactly what Event.id hashes (no id inside; it
    # is recomputed on read), so each event is built and serialised once.
    body = json.dumps(event.to_ecs(include_id=False), sort_keys=True, ensure_ascii=False)
    event_id = hashlib.sha256(body.encode()).digest()[:16]  # == bytes.fromhex(event.id)
    return (event_id, event.timestamp.timestamp(), event.dataset, event.message, body)


class SqliteStore:
    def __init__(self, path: Path, retention_days: int = 180, batch_size: int = 10000) -> None:
        self.path = path
        self.retention_days = check_retention(retention_days)
        self.batch_size = batch_size
        self._pending: list[tuple[Any, ...]] = []
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS
            # crash can lose the last transactions.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            # A 64 MiB page cache and a larger WAL between checkpoints keep the
            # id and FTS index updates of a batch in memory.
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the event store ({exc})") from exc

    # -- events ----------------------------------------------------------
    def put_events(self, events: Sequence[Event]) -> None:
        with self._lock:
            self._pending.extend(_row(event) for event in events)
            if len(self._pending) >= self.batch_size:
                self._write_pending()

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        # IMMEDIATE: take the write lock before reading max(rowid), so rows
        # another process adds cannot slip between that read and our insert.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            last = self._db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
            self._db.executemany(
                "INSERT OR IGNORE INTO events (id, ts, dataset, message, doc) VALUES (?,?,?,?,?)",
                rows,
            )
            self._db.execute(
                "INSERT INTO events_fts (rowid, message) SELECT rowid, message FROM events"
                " WHERE rowid > ?",
                (last,),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._db.execute("ROLLBACK")
            self._pending[:0] = rows
            raise

    def get_event(self, event_id: str) -> Event | None:
        self.flush()
        try:
            key = bytes.fromhex(event_id)
        except ValueError:
            return None
        with self._lock:
            row = self._db.execute("SELECT doc FROM events WHERE id = ?", (key,)).fetchone()
        return Event.from_ecs(json.loads(row[0])) if row else None

    def search(
        self,
        query: str | None = None,
        *,
        dataset: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        parsed = parse_query(query)
        self.flush()
        where: list[str] = []
        args: list[Any] = []
        if parsed.words:
            where.append("e.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
            args.append(fts_query(parsed.text))
        for name, value in parsed.fields:
            # SEARCH_FIELDS are fixed dotted names: the JSON path is never user text.
            where.append(f"e.doc ->> '$.{name}' = ?")
            args.append(value)
        if dataset:
            where.append("e.dataset = ?")
            args.append(dataset)
        if since:
            where.append("e.ts >= ?")
            args.append(since.timestamp())
        if until:
            where.append("e.ts < ?")
            args.append(until.timestamp())
        sql = "SELECT e.doc FROM events e"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY e.ts DESC, e.rowid DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Event.from_ecs(json.loads(row[0])) for row in rows]

    def count_events(self) -> int:
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def iter_events(self, datasets: Sequence[str], since: datetime) -> Iterator[Event]:
        self.flush()
        marks = ",".join("?" for _ in datasets)
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc FROM events WHERE dataset IN ({marks}) AND ts >= ? ORDER BY ts, rowid",
                [*datasets, since.timestamp()],
            ).fetchall()
        for row in rows:
            yield Event.from_ecs(json.loads(row[0]))

    # -- warnings --------------------------------------------------------
    def put_warnings(self, warnings: Sequence[Warning]) -> None:
        rows = [
            (
                w.id,
                w.rule_id,
                w.key,
                w.level,
                rank(w.level),
                w.status,
                w.last_seen.timestamp(),
                json.dumps(w.to_dict(), ensure_ascii=False),
            )
            for w in warnings
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO warnings VALUES (?,?,?,?,?,?,?,?)", rows
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def get_warning(self, warning_id: str) -> Warning | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM warnings WHERE id = ?", (warning_id,)
            ).fetchone()
        return Warning.from_dict(json.loads(row[0])) if row else None

    def find_warnings(
        self,
        *,
        status: Iterable[Status] | None = None,
        level: WarningLevel | None = None,
        rule_id: str | None = None,
        ids: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> list[Warning]:
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            statuses = list(status)
            where.append(f"status IN ({','.join('?' for _ in statuses)})")
            args.extend(statuses)
        if level is not None:
            where.append("level = ?")
            args.append(level)
        if rule_id is not None:
            where.append("rule_id = ?")
            args.append(rule_id)
        if ids is not None:
            wanted = list(ids)
            where.append(f"id IN ({','.join('?' for _ in wanted)})")
            args.extend(wanted)
        sql = "SELECT doc FROM warnings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY level_rank, last_seen DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Warning.from_dict(json.loads(row[0])) for row in rows]

    # -- the store's own health -----------------------------------------
    def health(self) -> StoreHealth:
        return StoreHealth()  # a failed write raises and the pipeline retries it

    def take_events(self) -> list[Event]:
        return []

    # -- housekeeping ----------------------------------------------------
    def apply_retention(self, now: datetime | None = None) -> int:
        self.flush()
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        with self._lock:
            cursor = self._db.execute("DELETE FROM events WHERE ts < ?", (cutoff.timestamp(),))
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._write_pending()
            self._db.close()
