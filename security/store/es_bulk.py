"""Events into Elasticsearch: bulk and spool as one, so nothing is dropped on the way.

Events are indexed with `helpers.streaming_bulk` (op_type create, _id = the
event's deterministic id: a replay answers 409 and changes nothing). 429s
are retried with exponential backoff by the helper, which hands retried
items back after the others: results are matched to events by `_id`, never
by position. When Elasticsearch is unreachable the unsent events go to the
spool, and every later event queues behind them so order is kept; each flush
first replays the spool.

A request Elasticsearch refuses for good (401/403 credentials, 413 too
large) is spooled like an outage and raises a warning about the store
itself (rule YW-STORE-001); a spool whose disk is full keeps the events in
memory, retries on every flush, and says so once in the log, in
`yunwang_store_held_events` and as the same warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch, helpers

from security.events import Event
from security.store.es_health import StoreProblems
from security.store.spool import Spool

log = logging.getLogger(__name__)
# The transport logs every failed request during an outage; the store reports it once.
logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)
UNREACHABLE = (TransportConnectionError, ConnectionTimeout)
# put_events leaves a chunk to the sender thread (or less to the tick's
# flush), so grading goes on meanwhile, until this many batches are pending;
# then it sends itself.
BACKLOG_BATCHES = 4
RETRYABLE = (429, 502, 503, 504)  # what an outage or overload answers: spool quietly
REFUSED = {  # what a refusal for good means, when the node says nothing more
    401: "credentials refused",
    403: "not allowed to write the data stream",
    413: "request larger than the node's http.max_content_length",
}

# Of each item's answer only what `_bulk` reads: the node's full answer
# (index, version, shards, sequence numbers) is about four times as long, and
# parsing it was a tenth of the pipeline's CPU (py-spy, bench/fleet.py).
_BULK_RESPONSE: Final = "errors,items.*._id,items.*.status,items.*.error"


class BulkSpool:
    """The write half of `ElasticStore`; it sets these up and installs the stream."""

    url: str
    stream: str
    client: Elasticsearch
    spool: Spool
    problems: StoreProblems
    chunk_size: int
    batch_size: int
    initial_backoff: float
    rejected: int
    refused_batches: int
    spool_write_errors: int
    held: int
    down: bool
    install: bool  # False for a producer, which may not refresh
    _ready: bool
    _pending: list[dict[str, Any]]
    _lock: threading.Lock
    _sending: threading.RLock
    _wake: threading.Event  # a chunk is pending: the sender thread sends it
    _sender: threading.Thread | None
    _closing: bool

    def setup(self) -> None:
        """Install the data stream's template (ElasticStore): retried before a send."""
        raise NotImplementedError

    def _refresh(self) -> None:
        if not self.install:  # a producer may not refresh; the centre's reads do
            return
        # Down, not found or not ready (ApiError covers NotFoundError): the read
        # that follows says it.
        with contextlib.suppress(*UNREACHABLE, ApiError):
            self.client.indices.refresh(index=self.stream, ignore_unavailable=True)

    # -- events ----------------------------------------------------------
    # Two locks: `_lock` guards `_pending` and is held only to add or swap it,
    # so `put_events` waits for Elasticsearch only when far behind; `_sending`
    # is held for a whole send (setup, spool replay, bulk, spooling what
    # failed): one sender at a time keeps the spool in order and every event
    # behind the spool.
    def put_events(self, events: Sequence[Event]) -> None:
        actions = [self._action(event) for event in events]  # outside any lock
        with self._lock:
            self._pending.extend(actions)
            # Held events are retried on flush; only new ones make a batch.
            backlog = len(self._pending) - self.held
        if backlog < self.chunk_size:
            return  # the next flush (the tick's, in its own thread) sends them
        if backlog < self.batch_size * BACKLOG_BATCHES:
            self._wake_sender()
            return
        # Far behind: the caller sends, or waits for the send under way; this
        # bounds what is held in memory.
        with self._sending:
            self._send_pending()

    def _wake_sender(self) -> None:
        """A full chunk is pending: the sender thread sends it while the caller
        goes on (grading the next events overlaps Elasticsearch indexing these)."""
        with self._lock:  # put_events has more than one caller (the pipeline, the tick)
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_forever, name="es-bulk-sender", daemon=True
                )
                self._sender.start()
        self._wake.set()

    def _send_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                with self._sending:
                    self._send_pending()
            except Exception as exc:  # the caller's send would have logged it the same way
                log.error("event store: %s", exc)

    def _stop_sender(self) -> None:
        self._closing = True
        self._wake.set()
        if self._sender is not None:
            self._sender.join()

    def _action(self, event: Event) -> dict[str, Any]:
        source = event.document()  # shared with the rules: never changed here
        action: dict[str, Any] = {
            "_op_type": "create",
            "_index": self.stream,
            "_id": event.id,
            "_source": source,
        }
        parts = _json_parts(source)
        if parts is not None:
            action[_JSON] = parts
        return action

    def flush(self) -> None:
        with self._sending:
            self._send_pending()
        self._refresh()

    def _send_pending(self) -> None:
        """Send what is pending; the caller holds `_sending`."""
        with self._lock:
            actions, self._pending, self.held = self._pending, [], 0
        if not self._ready:
            try:
                self.setup()
            except UNREACHABLE:
                self.down = True
                self._spool(actions)
                return
            except ApiError as exc:
                self._spool(actions)  # whatever the node answered, these wait on disk
                if exc.status_code in RETRYABLE:  # starting, or overloaded: as if down
                    self.down = True
                elif exc.status_code in REFUSED:
                    self._refused(exc, len(actions))  # e.g. credentials rotated before a restart
                else:
                    raise
                return
        if self.spool and not self.replay():
            self._spool(actions)
            return
        self._spool(self._bulk(actions))

    def _spool(self, actions: list[dict[str, Any]]) -> None:
        """Spool, or keep in memory (ahead of newer events) while the disk cannot take them."""
        if not actions:
            return
        try:
            self.spool.append([_plain(action) for action in actions])
        except OSError as exc:
            self.spool_write_errors += 1
            with self._lock:  # ahead of what arrived during the send
                self._pending[:0] = actions
                self.held = len(actions)
            self.problems.start(
                "spool-full",
                f"spool {self.spool.path}: {exc.strerror}: holding {len(actions)} events "
                "in memory, retrying on every flush",
            )
            return
        self.problems.end("spool-full", f"spool {self.spool.path} writable again")

    def replay(self) -> bool:
        """Send the spool in order; True when it is empty afterwards."""
        with self._sending:
            while self.spool:
                docs, offset = self.spool.read(self.chunk_size)
                # Whatever the file says, a spooled event goes back into our stream only.
                if self._bulk([self._action_from(doc) for doc in docs]):
                    return False
                self.spool.commit(offset)
            return True

    def _action_from(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "_op_type": "create",
            "_index": self.stream,
            "_id": doc["_id"],
            "_source": doc["_source"],
        }

    def _bulk(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Index; returns the actions left to spool (Elasticsearch went away or refused them)."""
        unhandled = {action["_id"]: action for action in actions}
        # When it reached the store, not when it happened: the centre reads
        # producers' events in this order (security/feed_reader.py), spooled ones too.
        ingested = datetime.now(UTC).isoformat(timespec="microseconds")
        stamp = json.dumps(ingested).encode()

        def expand(action: dict[str, Any]) -> tuple[dict[str, Any], Any]:
            header = {"create": {"_index": action["_index"], "_id": action["_id"]}}
            parts = action.get(_JSON)
            if parts is not None:
                return header, _joined(parts, stamp)
            # A copy of the two levels it changes: the event's document is shared.
            source = action["_source"]
            return header, {**source, "event": {**source.get("event", {}), "ingested": ingested}}

        retry_later: list[dict[str, Any]] = []
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                expand_action_callback=expand,  # type: ignore[arg-type]
                chunk_size=self.chunk_size,
                max_retries=6,
                initial_backoff=self.initial_backoff,
                max_backoff=30,
                raise_on_error=False,
                raise_on_exception=True,
                filter_path=_BULK_RESPONSE,
            ):
                result = next(iter(item.values()))
                action = unhandled.pop(result.get("_id"), None)
                if ok or action is None:
                    continue
                status = result.get("status", 0)
                if status == 409:  # already stored: the replay of a sent event
                    continue
                if status == 429:  # still rejected after every retry
                    retry_later.append(action)
                    continue
                try:
                    self.spool.reject(_plain(action), str(result.get("error")))
                    self.rejected += 1
                except OSError:
                    unhandled[action["_id"]] = action  # held with the rest until it is on disk
        except UNREACHABLE:
            if not self.down:
                log.warning(
                    "%s unreachable after %d of %d events: spooling",
                    self.url,
                    len(actions) - len(unhandled),
                    len(actions),
                )
            self.down = True
            return [*unhandled.values(), *retry_later]
        except ApiError as exc:
            if exc.status_code not in RETRYABLE:
                self._refused(exc, len(unhandled))
            return [*unhandled.values(), *retry_later]
        if self.down:
            log.warning("%s reachable again", self.url)
        self.down = False
        self.problems.end("refused", f"{self.url} accepts events again")
        return [*unhandled.values(), *retry_later]

    def _refused(self, exc: ApiError, count: int) -> None:
        self.refused_batches += 1
        self.problems.start(
            "refused",
            f"{self.url}: bulk refused ({exc.status_code}: "
            f"{REFUSED.get(exc.status_code) or exc.message}): "
            f"{count} events spooled until it accepts them",
            status=str(exc.status_code),
        )


# An action's document as JSON, made by `put_events`' caller (the pipeline,
# between two sends) rather than by the sender (while Elasticsearch waits
# for its next request): `event`'s members and the other members apart, so
# that `_bulk` puts `event.ingested` in front without serializing again.
# Never sent as a field, never spooled (`_plain`).
_JSON: Final = "_yw_json"
_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_parts(source: dict[str, Any]) -> tuple[bytes, bytes] | None:
    """`source` as JSON without its braces, in two parts; None if it will not
    serialize here (the client's serializer then does it at send time)."""
    event = source.get("event", {})
    if not isinstance(event, dict):
        return None
    try:
        members = _ENCODE({k: v for k, v in event.items() if k != "ingested"})
        rest = _ENCODE({k: v for k, v in source.items() if k != "event"})
    except (TypeError, ValueError):
        return None
    return members[1:-1].encode("utf-8", "surrogatepass"), rest[1:-1].encode(
        "utf-8", "surrogatepass"
    )


def _joined(parts: tuple[bytes, bytes], stamp: bytes) -> bytes:
    members, rest = parts
    body = b'{"event":{"ingested":' + stamp + (b"," + members if members else b"") + b"}"
    return body + (b"," + rest if rest else b"") + b"}"


def _plain(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k != _JSON}
