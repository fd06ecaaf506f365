"""The scale-out store: Elasticsearch 8.x, data streams, ILM, and a disk spool.

Installation (policy, template, warnings index), reads and warnings live
here; events go in through `BulkSpool` (security/store/es_bulk.py): bulk
with backoff, the spool when Elasticsearch is away, nothing dropped.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from estate.home import yunwang_home
from security.events import Event
from security.levels import WarningLevel, rank
from security.store import StoreError, StoreHealth, check_retention, parse_query
from security.store import es_retention as retention
from security.store import es_schema as schema
from security.store.es_bulk import REFUSED, RETRYABLE, UNREACHABLE, BulkSpool
from security.store.es_health import StoreProblems
from security.store.spool import Spool
from security.warnings import Status, Warning

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)
MAX_SAID = 200  # characters of an error the node names, in a StoreError


def _reachable(method: Callable[P, R]) -> Callable[P, R]:
    """A cluster that is down, or answers with an error, is one clear
    StoreError, not a transport traceback."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (*UNREACHABLE, ApiError) as exc:
            raise _store_error(getattr(args[0], "url", "?"), exc) from exc

    return wrapper


def _store_error(url: str, exc: Exception) -> StoreError:
    """A node that is down, or that answered with an error: shards not
    started yet (503 just after a data stream is created), overload (429), a
    refusal. The callers retry (the pipeline at its next tick) or say it in
    one line; the node's words are cut short, since they come from the network."""
    if isinstance(exc, ApiError):
        return StoreError(f"{url}: {_said(exc)}")
    return StoreError(f"{url}: elasticsearch is unreachable")


def _said(exc: ApiError) -> str:
    said = " ".join(str(exc.message).split())[:MAX_SAID]
    return f"elasticsearch answered {exc.status_code} ({said})"


class ElasticStore(BulkSpool):
    def __init__(
        self,
        url: str,
        namespace: str = "default",
        spool_dir: Path | None = None,
        retention_days: int = 180,
        chunk_size: int = 2000,
        batch_size: int = 5000,
        request_timeout: float = 30.0,
        initial_backoff: float = 0.5,
        install: bool = True,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if not namespace.islower() or "-" in namespace:
            raise StoreError(
                f"namespace {namespace!r}: expected lower case, no '-' (data stream naming)"
            )
        self.url = url
        self.namespace = namespace
        self.stream = schema.data_stream(namespace)
        self.warnings_index = schema.warnings_index(namespace)
        self.retention_days = check_retention(retention_days)
        self.chunk_size = chunk_size
        self.batch_size = batch_size
        self.initial_backoff = initial_backoff  # doubled on each 429 retry, up to 30 s
        self.client = Elasticsearch(
            url,
            request_timeout=request_timeout,
            max_retries=0,
            retry_on_timeout=False,
            **(client_options or {}),
        )
        self.spool = Spool(spool_dir or yunwang_home() / "spool" / namespace)
        self.ilm = False
        self.rejected = 0
        self.refused_batches = 0
        self.spool_write_errors = 0
        self.held = 0  # events at the head of _pending that the spool's disk could not take
        self.down = False
        self._ready = False
        self._not_ready = "elasticsearch is unreachable"  # what reads say until it is ready
        self._pending: list[dict[str, Any]] = []
        self.problems = StoreProblems(url)
        self._lock = threading.Lock()  # _pending only, never held across I/O
        self._sending = threading.RLock()  # one send at a time (security/store/es_bulk.py)
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._closing = False
        self.install = install
        if not install:  # a producer: create_doc on the data stream is all it may do
            self._ready = True
            return
        try:
            self.setup()
        except UNREACHABLE:
            self.down = True
            log.warning("elasticsearch at %s unreachable; events will spool", url)
        except ApiError as exc:
            if exc.status_code not in (*RETRYABLE, *REFUSED):
                raise _store_error(url, exc) from exc
            # Starting, overloaded or refusing us: events spool, the template is
            # installed before a later send, and reads say why they cannot.
            self.down = exc.status_code in RETRYABLE
            self._not_ready = _said(exc)
            log.warning("elasticsearch at %s: %s; events will spool", url, self._not_ready)

    # -- installation ----------------------------------------------------
    def setup(self) -> None:
        """Install policy, template and the warnings index (idempotent)."""
        try:
            self.client.ilm.put_lifecycle(
                name=schema.POLICY_NAME, policy=schema.ilm_policy(self.retention_days)
            )
            self.ilm = True
        except (NotFoundError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status_code not in (400, 404, 405):
                raise
            # A minimal distribution without the ILM module: fall back to data
            # stream lifecycle plus our own sweep (apply_retention).
            self.ilm = False
        self.client.indices.put_index_template(
            name=f"{schema.TEMPLATE_NAME}-{self.namespace}",
            **schema.index_template(self.namespace, self.retention_days, self.ilm),
        )
        if not self.client.indices.exists(index=self.warnings_index):
            try:
                self.client.indices.create(
                    index=self.warnings_index,
                    mappings=schema.WARNINGS_MAPPINGS,
                    settings={"index.auto_expand_replicas": "0-1"},
                )
            except ApiError as exc:
                if exc.status_code != 400:  # created meanwhile by another process
                    raise
        self._ready = True

    # -- the store's own health -----------------------------------------
    def take_events(self) -> list[Event]:
        return self.problems.take()

    def health(self) -> StoreHealth:
        return StoreHealth(
            held_events=self.held,
            spool_write_errors=self.spool_write_errors,
            refused_batches=self.refused_batches,
            rejected_events=self.rejected,
            quarantined_lines=self.spool.quarantined,
        )

    def _reading(self) -> None:
        """Reads see everything written so far; a down cluster is one clear error."""
        self.flush()
        if not self._ready:
            raise StoreError(f"{self.url}: {self._not_ready}")

    def get_event(self, event_id: str) -> Event | None:
        hits = self._search({"term": {"event.id": event_id}}, size=1)
        return hits[0] if hits else None

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
        must: list[dict[str, Any]] = []
        if parsed.words:
            must.append({"match": {"message": {"query": parsed.text, "operator": "and"}}})
        must += [{"term": {name: value}} for name, value in parsed.fields]
        if dataset:
            must.append({"term": {"event.dataset": dataset}})
        if since or until:
            bounds: dict[str, str] = {}
            if since:
                bounds["gte"] = since.astimezone(UTC).isoformat()
            if until:
                bounds["lt"] = until.astimezone(UTC).isoformat()
            must.append({"range": {"@timestamp": bounds}})
        # 10,000 is the index.max_result_window default; the CLI never needs more.
        return self._search(
            {"bool": {"filter": must}} if must else {"match_all": {}}, size=min(limit, 10000)
        )

    @_reachable
    def _search(self, query: dict[str, Any], size: int, ascending: bool = False) -> list[Event]:
        self._reading()
        try:
            response = self.client.search(
                index=self.stream,
                query=query,
                size=size,
                sort=[
                    {"@timestamp": {"order": "asc" if ascending else "desc"}},
                    {"event.id": "asc"},
                ],
                ignore_unavailable=True,
            )
        except NotFoundError:
            return []
        return [Event.from_ecs(hit["_source"]) for hit in response["hits"]["hits"]]

    @_reachable
    def count_events(self) -> int:
        self._reading()
        try:
            return int(self.client.count(index=self.stream, ignore_unavailable=True)["count"])
        except NotFoundError:
            return 0

    def iter_events(self, datasets: Sequence[str], since: datetime) -> Iterator[Event]:
        self._reading()
        query = {
            "bool": {
                "filter": [
                    {"terms": {"event.dataset": list(datasets)}},
                    {"range": {"@timestamp": {"gte": since.astimezone(UTC).isoformat()}}},
                ]
            }
        }
        try:
            hits = helpers.scan(
                self.client,
                index=self.stream,
                query={"query": query, "sort": [{"@timestamp": "asc"}, {"event.id": "asc"}]},
                preserve_order=True,
                ignore_unavailable=True,
            )
            for hit in hits:
                yield Event.from_ecs(hit["_source"])
        except NotFoundError:
            return
        # Not `_reachable`: a generator fails as it is read, a page of the scroll
        # as well as its first.
        except (*UNREACHABLE, ApiError) as exc:
            raise _store_error(self.url, exc) from exc

    # -- warnings --------------------------------------------------------
    @_reachable
    def put_warnings(self, warnings: Sequence[Warning]) -> None:
        if not warnings:
            return
        if not self._ready:
            self.setup()
        actions = [
            {
                "_op_type": "index",
                "_index": self.warnings_index,
                "_id": w.id,
                "_source": {**w.to_dict(), "level_rank": rank(w.level)},
            }
            for w in warnings
        ]
        # No refresh here: grading waits on this; readers refresh (find_warnings).
        helpers.bulk(self.client, actions)

    @_reachable
    def get_warning(self, warning_id: str) -> Warning | None:
        try:
            doc = self.client.get(index=self.warnings_index, id=warning_id)
        except NotFoundError:
            return None
        return _warning(doc["_source"])

    @_reachable
    def find_warnings(
        self,
        *,
        status: Iterable[Status] | None = None,
        level: WarningLevel | None = None,
        rule_id: str | None = None,
        ids: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> list[Warning]:
        filters: list[dict[str, Any]] = []
        if status is not None:
            filters.append({"terms": {"status": list(status)}})
        if level is not None:
            filters.append({"term": {"level": level}})
        if rule_id is not None:
            filters.append({"term": {"rule_id": rule_id}})
        if ids is not None:
            filters.append({"ids": {"values": list(ids)}})
        self.client.indices.refresh(index=self.warnings_index)
        response = self.client.search(
            index=self.warnings_index,
            query={"bool": {"filter": filters}},
            size=min(limit, 10000),
            sort=[{"level_rank": "asc"}, {"last_seen": "desc"}],
        )
        return [_warning(hit["_source"]) for hit in response["hits"]["hits"]]

    # -- housekeeping ----------------------------------------------------
    def backing_indices(self) -> list[str]:
        return retention.backing_indices(self.client, self.stream)

    @_reachable
    def apply_retention(self, now: datetime | None = None) -> int:
        self._reading()
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        return retention.sweep(self.client, self.stream, cutoff)

    def close(self) -> None:
        try:
            self._stop_sender()
            with self._sending:
                self._send_pending()
        finally:
            self.client.close()


def _warning(source: dict[str, Any]) -> Warning:
    doc = dict(source)
    doc.pop("level_rank", None)
    return Warning.from_dict(doc)
