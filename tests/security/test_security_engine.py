"""Warning lifecycle: open, repeat, suppress, escalate, acknowledge, resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sec_helpers import T0, make_event

from security.engine import WarningBook
from security.rulebook import load_rules
from security.warnings import WarningError


@pytest.fixture
def book() -> WarningBook:
    return WarningBook(load_rules())


def failover(seconds: float = 0, pair: str = "c1", level: str = "county", state: str = "failover"):  # type: ignore[no-untyped-def]
    return make_event(seconds, pair=pair, node=pair, level=level, state=state, county=pair)


def test_an_event_opens_a_warning_with_its_context(book: WarningBook) -> None:
    [change] = book.observe(failover())
    w = change.warning
    assert (change.kind, change.notify) == ("opened", True)
    assert (w.rule_id, w.level, w.status, w.count) == ("YW-LINK-001", "orange", "open", 1)
    assert w.context["county"] == "c1" and "c1" in w.summary
    assert book.active() == [w]


def test_repeats_update_one_warning_and_are_suppressed(book: WarningBook) -> None:
    first = book.observe(failover())[0].warning
    second = book.observe(failover(60))[0]
    assert second.kind == "updated" and not second.notify
    assert second.warning.id == first.id and second.warning.count == 2
    assert second.warning.last_seen == T0 + timedelta(seconds=60)
    # after the rule's 10 minute suppression window it notifies again
    third = book.observe(failover(11 * 60))[0]
    assert third.notify and third.warning.count == 3
    assert len(book.active()) == 1


def test_a_worse_repeat_raises_the_level_and_notifies(book: WarningBook) -> None:
    book.observe(failover(pair="t1", level="township"))
    change = book.observe(make_event(30, pair="t1", node="t1", level="county", state="failover"))[0]
    assert change.kind == "escalated" and change.notify and change.warning.level == "orange"


def test_clearing_event_resolves_automatically(book: WarningBook) -> None:
    opened = book.observe(failover())[0].warning
    [change] = book.observe(failover(120, state="normal"))
    assert change.kind == "resolved" and change.warning.id == opened.id
    assert change.warning.resolved_by == "auto" and change.warning.status == "resolved"
    assert book.active() == []
    # the next failover is a new warning, not the old one reopened
    again = book.observe(failover(600))[0]
    assert again.kind == "opened" and again.warning.id != opened.id


def test_long_failover_escalates_one_level_per_window(book: WarningBook) -> None:
    book.observe(failover())
    assert book.tick(T0 + timedelta(minutes=29)) == []
    [first] = book.tick(T0 + timedelta(minutes=30))
    assert (
        first.kind == "escalated"
        and first.warning.level == "red"
        and first.warning.escalations == 1
    )
    assert first.warning.base_level == "orange"
    assert book.tick(T0 + timedelta(minutes=90)) == []  # already at the ceiling


def test_acknowledged_warnings_do_not_escalate_and_record_who(book: WarningBook) -> None:
    w = book.observe(failover())[0].warning
    change = book.acknowledge(w.id, "alice", T0 + timedelta(minutes=1), "carrier ticket 42")
    acked = change.warning
    assert (acked.status, acked.ack_by, acked.ack_comment) == (
        "acknowledged",
        "alice",
        "carrier ticket 42",
    )
    assert acked.ack_at == T0 + timedelta(minutes=1)
    assert book.tick(T0 + timedelta(hours=2)) == []
    with pytest.raises(WarningError, match="only open warnings"):
        book.acknowledge(w.id, "bob", T0, "again")
    resolved = book.resolve(w.id, "alice", T0 + timedelta(hours=3), "fibre repaired").warning
    assert resolved.status == "resolved" and resolved.resolved_by == "alice"
    with pytest.raises(WarningError, match="no active warning"):
        book.resolve(w.id, "alice", T0, "twice")


def test_quiet_rules_resolve_after_silence(book: WarningBook) -> None:
    scan = make_event(
        0, dataset="yunwang.packets", action="port-scan", src="198.18.0.7", zone="cloud"
    )
    w = book.observe(scan)[0].warning
    assert w.rule_id == "YW-NET-004" and w.level == "blue"
    assert book.tick(T0 + timedelta(hours=1)) == []
    [change] = book.tick(T0 + timedelta(hours=2))
    assert change.kind == "resolved" and change.warning.resolved_by == "auto"


def test_unrelated_events_are_ignored(book: WarningBook) -> None:
    assert book.observe(make_event(0, dataset="yunwang.metrics", action="poll")) == []
    assert book.observe(failover(state="normal")) == []


def test_book_resumes_from_stored_active_warnings() -> None:
    rules = load_rules()
    first = WarningBook(rules)
    w = first.observe(failover())[0].warning
    resumed = WarningBook(rules, [w])
    change = resumed.observe(failover(30))[0]
    assert change.warning.id == w.id and change.warning.count == 2
