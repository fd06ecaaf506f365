"""Where events and warnings are kept: one interface, two engines.

SQLite is the embedded default (one file under $YUNWANG_HOME); Elasticsearch
is the scale-out store. Both keep events at least 180 days (Cybersecurity
Law art. 21) and are held to the same contract by tests/security/test_security_store_contract.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import ParseResult, parse_qs, urlparse

from estate.home import yunwang_home
from security.events import Event
from security.levels import WarningLevel
from security.warnings import Status, Warning

MIN_RETENTION_DAYS = 180


class StoreError(Exception):
    """A store that cannot be opened or used; str() is one line."""


# The ECS fields people filter events by, as `field:value` terms in a search.
SEARCH_FIELDS = ("source.ip", "event.action", "yunwang.county", "rule.id")
MAX_QUERY_TERMS = 32  # a search is typed by a person; more is a mistake or an attack


@dataclass(frozen=True)
class StoreHealth:
    """What the store could not do at once; exported as metrics (security/metrics.py)."""

    held_events: int = 0  # in memory: the spool's disk could not take them
    spool_write_errors: int = 0
    refused_batches: int = 0  # requests refused for good (401/403/413), spooled
    rejected_events: int = 0  # documents refused for good (mapping), kept in rejected.jsonl
    quarantined_lines: int = 0  # torn or damaged spool lines, kept in quarantine.jsonl


@dataclass(frozen=True)
class Query:
    """A search split into message words and exact `field:value` filters."""

    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.words)


def parse_query(query: str | None) -> Query:
    """`source.ip:198.18.0.5 rule.id:YW-NET-002 rogue` -> one filter per field term, the rest words.

    Only the fields in SEARCH_FIELDS are filters; any other word with a
    colon (a URL, a MAC address) is searched in the message as typed.
    """
    words: list[str] = []
    fields: list[tuple[str, str]] = []
    terms = (query or "").split()
    if len(terms) > MAX_QUERY_TERMS:
        raise StoreError(f"search: {len(terms)} terms, expected at most {MAX_QUERY_TERMS}")
    for term in terms:
        name, colon, value = term.partition(":")
        if not colon or name not in SEARCH_FIELDS:
            words.append(term)
            continue
        if not value:
            raise StoreError(f"search: {name}: expected a value after the colon")
        if name == "source.ip":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                raise StoreError(
                    f"search: source.ip: expected an IP address, found {value!r}"
                ) from None
        fields.append((name, value))
    return Query(tuple(words), tuple(fields))


def check_retention(days: int) -> int:
    if days < MIN_RETENTION_DAYS:
        raise StoreError(
            f"retention_days: {days} is below the legal minimum of {MIN_RETENTION_DAYS} days "
            "(Cybersecurity Law art. 21: logs kept at least six months)"
        )
    return days


class Store(Protocol):
    """The contract both engines meet."""

    retention_days: int

    def put_events(self, events: Sequence[Event]) -> None:
        """Store events; storing an event whose id is already stored changes nothing."""

    def flush(self) -> None:
        """Make everything put so far durable and visible to reads."""

    def get_event(self, event_id: str) -> Event | None: ...

    def search(
        self,
        query: str | None = None,
        *,
        dataset: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Newest first; `query` is words that must all appear in the message and
        `field:value` terms (SEARCH_FIELDS) that must all match exactly."""

    def count_events(self) -> int: ...

    def iter_events(self, datasets: Sequence[str], since: datetime) -> Iterator[Event]:
        """Oldest first, for folding state (link pairs, controls, drills)."""

    def put_warnings(self, warnings: Sequence[Warning]) -> None:
        """Insert or replace by warning id."""

    def get_warning(self, warning_id: str) -> Warning | None: ...

    def find_warnings(
        self,
        *,
        status: Iterable[Status] | None = None,
        level: WarningLevel | None = None,
        rule_id: str | None = None,
        ids: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> list[Warning]:
        """Most severe first, then newest first."""

    def health(self) -> StoreHealth: ...

    def take_events(self) -> list[Event]:
        """Events about the store itself (refused, disk full, recovered) since the last call."""

    def apply_retention(self, now: datetime) -> int:
        """Drop events older than retention_days; returns how many went."""

    def close(self) -> None: ...


def default_url() -> str:
    return f"sqlite:///{yunwang_home() / 'events.db'}"


def _elastic(parsed: ParseResult) -> tuple[dict[str, str], dict[str, Any]]:
    """An Elasticsearch URL's query, and the client's credentials from it."""
    from security.store.es_auth import client_options

    params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    return params, client_options(params)  # a secret in the URL is refused before the client loads


def _unknown(url: str) -> StoreError:
    return StoreError(f"store url {url!r}: expected sqlite:///PATH or http://HOST:PORT")


def check_url(url: str) -> None:
    """Refuse what `open_store(url)` would refuse for the URL alone (StoreError),
    before anything opens: a command checks it ahead of slower work."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        _elastic(parsed)
    elif parsed.scheme not in ("sqlite", ""):
        raise _unknown(url)


def open_store(
    url: str | None = None, retention_days: int = MIN_RETENTION_DAYS, install: bool = True
) -> Store:
    """`sqlite:///PATH` (or a bare path) or `http(s)://HOST:PORT/?namespace=NS&spool=DIR`.

    Elasticsearch credentials come by reference (security/store/es_auth.py);
    `install=False` is for producers, whose credentials may only write events:
    the centre installs the template, policy and warnings index.
    """
    url = url or default_url()
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        params, options = _elastic(parsed)
        from security.store.elastic import ElasticStore

        endpoint = f"{parsed.scheme}://{parsed.netloc}"
        spool = Path(params["spool"]) if "spool" in params else None
        return ElasticStore(
            endpoint,
            namespace=params.get("namespace", "default"),
            spool_dir=spool,
            retention_days=retention_days,
            install=install,
            client_options=options,
        )
    if parsed.scheme in ("sqlite", ""):
        from security.store.sqlite import SqliteStore

        path = parsed.path if parsed.scheme else url
        return SqliteStore(Path(path), retention_days=retention_days)
    raise _unknown(url)
