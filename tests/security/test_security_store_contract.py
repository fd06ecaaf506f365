"""One contract, two engines: SQLite and a real Elasticsearch node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EsNode, es_namespace
from sec_helpers import T0, make_event

from security.engine import WarningBook
from security.rulebook import load_rules
from security.store import Store, StoreError, open_store
from security.store.elastic import ElasticStore
from security.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "elastic"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "events.db", batch_size=7)
    else:
        node: EsNode = request.getfixturevalue("es_node")
        s = ElasticStore(
            node.url, namespace=es_namespace(), spool_dir=tmp_path / "spool", batch_size=7
        )
    yield s
    s.close()


def events(n: int, start: float = 0, **context: str) -> list:  # type: ignore[type-arg]
    return [
        make_event(
            start + i, message=f"county c{i % 3} link {i} failover", county=f"c{i % 3}", **context
        )
        for i in range(n)
    ]


def test_put_is_idempotent(store: Store) -> None:
    batch = events(20)
    store.put_events(batch)
    store.put_events(batch[:10])
    store.flush()
    store.put_events(batch[5:])
    store.flush()
    assert store.count_events() == 20
    assert store.get_event(batch[3].id) == batch[3]
    assert store.get_event("0" * 32) is None


def test_search_needs_every_word_and_is_newest_first(store: Store) -> None:
    store.put_events(events(30))
    store.put_events(
        [make_event(100, message="rogue router advertisement on cloud", dataset="yunwang.packets")]
    )
    store.flush()
    hits = store.search("c1 failover")
    assert len(hits) == 10
    assert all("c1" in e.message for e in hits)
    assert [e.timestamp for e in hits] == sorted((e.timestamp for e in hits), reverse=True)
    assert [e.action for e in store.search("rogue advertisement")] == ["pair-state-changed"]
    assert store.search("rogue nonexistentword") == []
    assert len(store.search(limit=5)) == 5
    assert store.search()[0].message.startswith("rogue")


def test_filters_by_dataset_and_time(store: Store) -> None:
    store.put_events(events(10))
    store.put_events(
        [make_event(50, dataset="yunwang.packets", action="port-scan", message="scan")]
    )
    store.flush()
    assert [e.action for e in store.search(dataset="yunwang.packets")] == ["port-scan"]
    window = store.search(since=T0 + timedelta(seconds=3), until=T0 + timedelta(seconds=6))
    assert sorted(e.timestamp for e in window) == [T0 + timedelta(seconds=s) for s in (3, 4, 5)]


def test_search_filters_by_field_value_terms(store: Store) -> None:
    """`events search` terms for the ECS fields users filter by, mixed with message words."""
    scan = make_event(
        10,
        dataset="yunwang.packets",
        action="port-scan",
        message="port scan from a tenant",
        src="198.18.0.5",
        county="hl",
    )
    rogue = replace(
        make_event(
            11,
            dataset="yunwang.packets",
            action="rogue-ra",
            message="rogue router advertisement",
            src="2001:db8::7",
            county="qf",
        ),
        rule_id="YW-NET-002",
        rule_name="Rogue router advertisement",
    )
    other = make_event(12, action="port-scan", message="port scan from outside", src="198.18.0.6")
    store.put_events([*events(6), scan, rogue, other])
    store.flush()
    assert store.search("source.ip:198.18.0.5") == [scan]
    assert store.search("source.ip:2001:DB8:0::7") == [rogue]  # any spelling of the address
    assert store.search("event.action:port-scan") == [other, scan]
    assert store.search("event.action:port-scan tenant") == [scan]  # mixed with free text
    assert store.search("yunwang.county:qf") == [rogue]
    assert store.search("rule.id:YW-NET-002 yunwang.county:qf advertisement") == [rogue]
    assert store.search("rule.id:YW-NET-002 yunwang.county:hl") == []
    assert len(store.search("yunwang.county:c1")) == 2
    assert store.search("port event.action:rogue-ra") == []
    with pytest.raises(StoreError, match=r"source\.ip: expected an IP address, found 'x'"):
        store.search("source.ip:x")
    with pytest.raises(StoreError, match=r"rule\.id: expected a value"):
        store.search("rule.id:")


def test_user_text_is_never_query_syntax(store: Store) -> None:
    store.put_events([make_event(0, message='odd "quoted" AND OR NOT * ( text')])
    store.flush()
    assert len(store.search('"quoted" AND (')) == 1


def test_iter_events_is_oldest_first_per_dataset(store: Store) -> None:
    mixed = [
        *events(5),
        make_event(2.5, dataset="yunwang.dr", action="drill-finished", message="drill"),
    ]
    store.put_events(list(reversed(mixed)))
    got = list(store.iter_events(["yunwang.links", "yunwang.dr"], T0 + timedelta(seconds=1)))
    assert [e.timestamp for e in got] == sorted(e.timestamp for e in got)
    assert len(got) == 5 and {e.dataset for e in got} == {"yunwang.links", "yunwang.dr"}
    assert list(store.iter_events(["yunwang.snmp"], T0)) == []


def test_warnings_round_trip_and_order(store: Store) -> None:
    book = WarningBook(load_rules())
    county = book.observe(
        make_event(0, pair="c1", node="c1", level="county", state="isolated", county="c1")
    )
    village = book.observe(make_event(5, pair="v1", node="v1", level="village", state="failover"))
    warnings = [c.warning for c in county + village]
    store.put_warnings(warnings)
    red = next(w for w in warnings if w.level == "red")
    assert store.get_warning(red.id) == red
    found = store.find_warnings(status=["open"])
    assert [w.level for w in found] == sorted(
        (w.level for w in warnings), key=["red", "orange", "yellow", "blue"].index
    )
    acked = red.acknowledge("alice", T0 + timedelta(minutes=2), "on it")
    store.put_warnings([acked])
    assert store.get_warning(red.id) == acked
    assert [w.id for w in store.find_warnings(status=["acknowledged"])] == [red.id]
    assert {w.id for w in store.find_warnings(level="red")} == {red.id}
    assert store.find_warnings(rule_id="YW-NET-001") == []
    others = [w.id for w in warnings if w.id != red.id]
    assert [w.id for w in store.find_warnings(ids=others)] == others
    assert store.find_warnings(status=["acknowledged"], ids=others) == []
    assert store.get_warning("Wnope") is None


def test_retention_keeps_six_months(store: Store) -> None:
    now = datetime.now(UTC)
    old = [
        replace(e, timestamp=now - timedelta(days=200, seconds=i)) for i, e in enumerate(events(5))
    ]
    store.put_events(old)
    store.flush()
    assert store.apply_retention(now) == 5
    kept = [
        replace(e, timestamp=now - timedelta(days=179, seconds=i)) for i, e in enumerate(events(4))
    ]
    store.put_events(kept)
    store.flush()
    assert store.apply_retention(now) == 0
    assert store.count_events() == 4


def test_retention_below_legal_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="legal minimum of 180 days"):
        SqliteStore(tmp_path / "x.db", retention_days=90)
    with pytest.raises(StoreError, match="expected sqlite"):
        open_store("ftp://nowhere")
    assert isinstance(open_store(f"sqlite:///{tmp_path / 'y.db'}"), SqliteStore)
