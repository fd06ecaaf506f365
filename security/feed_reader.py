"""The centre reads every producer's new events from Elasticsearch, once each.

    reader = FeedReader(store, yunwang_home() / "feed" / "city.json")
    events = reader.poll()      # producers' events not graded yet, oldest first
    pipeline.grade(events)      # rules, posture, delivery: not stored again
    reader.commit()             # the checkpoint, on disk, only after grading

Producers stamp `event.ingested` as each batch leaves for the store
(security/store/elastic.py). The reader pages through events ingested since
its checkpoint minus a look-back (clock skew between producers, bulks that
become visible out of order), sorted by ingested time then id, and skips the
ids it already graded within that window. The checkpoint (cursor and those
ids) is written after grading: a restart neither loses an event nor grades
one twice. Only events with `labels.shipped_by` are read: the centre's own
events were graded when it made them.

Each poll first refreshes the stream (the centre installed it, so it may):
what producers wrote is searchable when the centre looks, not up to a
second later at the node's next scheduled refresh. A refresh with nothing
new written is almost free; with writes it is the segment the scheduled one
would have made anyway, only sooner (bench/RESULTS.md measures the cost).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from security.durable import replace_durably
from security.events import Event
from security.feed_document import MalformedDocument, ingested_event
from security.store import StoreError

log = logging.getLogger(__name__)
PAGE = 2000
MAX_PER_POLL = 20_000  # one poll's share; the rest waits for the next (the loop stays live)
MAX_ID = 512
MAX_REMEMBERED = 500_000  # ids kept for the look-back window; a checkpoint larger is damaged


@dataclass
class Checkpoint:
    cursor: datetime
    seen: dict[str, str]  # event id -> ingested (ISO), within the look-back window

    def to_json(self) -> dict[str, Any]:
        return {"cursor": self.cursor.isoformat(), "seen": self.seen}

    @classmethod
    def load(cls, path: Path, start: datetime) -> Checkpoint:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(start, {})
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: feed checkpoint unreadable ({exc})") from None
        try:
            cursor = datetime.fromisoformat(raw["cursor"])
            seen = raw["seen"]
            if not isinstance(seen, dict) or len(seen) > MAX_REMEMBERED or cursor.tzinfo is None:
                raise ValueError("seen: expected a bounded map of ids")
            return cls(cursor, {str(k): str(v) for k, v in seen.items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{path}: feed checkpoint: expected cursor and seen ({exc})") from None


class FeedReader:
    def __init__(
        self,
        store: Any,  # an ElasticStore: its client and its data stream
        checkpoint: Path,
        look_back: timedelta = timedelta(seconds=15),
        start: datetime | None = None,
    ) -> None:
        self.client = store.client
        self.stream = store.stream
        self.path = checkpoint
        self.look_back = look_back
        # A first start takes up what producers shipped in the last hour.
        self.state = Checkpoint.load(checkpoint, start or datetime.now(UTC) - timedelta(hours=1))
        self.read_total = 0
        self.errors = 0
        self.malformed = 0  # producers' documents not of an event's shape (skipped)
        self.rejected: set[str] = set()
        self.reachable = True  # the last poll reached the store
        self.behind = False  # the last poll stopped at MAX_PER_POLL: more is waiting

    def poll(self) -> list[Event]:
        """Producers' events not graded yet; [] (and counted) while the store is unreachable."""
        since = (self.state.cursor - self.look_back).isoformat()
        query = {
            "bool": {
                "filter": [
                    {"exists": {"field": "labels.shipped_by"}},
                    {"range": {"event.ingested": {"gte": since}}},
                ]
            }
        }
        events: list[Event] = []
        after: list[Any] | None = None
        was_reachable, self.reachable = self.reachable, True
        self.behind = True
        try:  # what producers shipped since Elasticsearch's last scheduled refresh, too
            self.client.indices.refresh(index=self.stream, ignore_unavailable=True)
        except Exception as exc:  # down or refusing: the next poll tries again
            self.errors += 1
            self.reachable = False
            if was_reachable:  # once per outage, not at every poll
                log.error("refreshing producers' events: %s", exc)
            return events
        while len(events) < MAX_PER_POLL:
            try:
                response = self.client.search(
                    index=self.stream,
                    query=query,
                    size=PAGE,
                    sort=[{"event.ingested": "asc"}, {"event.id": "asc"}],
                    search_after=after,
                    ignore_unavailable=True,
                )
            except Exception as exc:  # down or refusing: the next poll tries again
                self.errors += 1
                self.reachable = False
                if was_reachable:  # once per outage, not at every poll
                    log.error("reading producers' events: %s", exc)
                self.read_total += len(events)
                return events
            hits = response["hits"]["hits"]
            for hit in hits:
                try:
                    event_id, ingested, event = ingested_event(hit.get("_source"))
                except MalformedDocument as exc:
                    self._malformed(hit, exc)
                    continue
                if event_id in self.state.seen:
                    continue
                self.state.seen[event_id] = ingested
                cursor = datetime.fromisoformat(ingested)
                if cursor > self.state.cursor:
                    self.state.cursor = cursor
                events.append(event)
            if len(hits) < PAGE:
                self.behind = False
                break
            after = hits[-1]["sort"]
        if not was_reachable:
            log.warning("reading producers' events again")
        self.read_total += len(events)
        return events

    def _malformed(self, hit: dict[str, Any], problem: MalformedDocument) -> None:
        """Counted and logged once (by its store id), never graded."""
        key = f"_id:{str(hit.get('_id'))[:MAX_ID]}"
        if key in self.rejected:
            return
        if len(self.rejected) >= MAX_REMEMBERED:
            self.rejected.clear()
        self.rejected.add(key)
        self.malformed += 1
        log.warning("a producer's document %s skipped: %s", key[4:], problem)

    def commit(self) -> None:
        """Persist the checkpoint (atomically): call after the events were graded."""
        horizon = (self.state.cursor - self.look_back * 2).isoformat(timespec="microseconds")
        self.state.seen = {k: v for k, v in self.state.seen.items() if v >= horizon}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(self.path, json.dumps(self.state.to_json()))
