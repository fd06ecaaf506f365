"""Warnings reach a real Alertmanager (and through it a receiver), and a generic webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import AlertmanagerProcess, Receiver
from sec_helpers import make_event

from security.delivery import Alertmanager, DeliveryError, Webhook, alert
from security.engine import Change
from security.events import utcnow
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore
from tests.waiting import wait_until

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str = "the delivery") -> T:
    return wait_until(predicate, 20.0, what, every=0.1)


def now_event(seconds: float = 0, **context: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(make_event(0, **context), timestamp=utcnow() + timedelta(seconds=seconds))


def test_warning_lifecycle_in_alertmanager(
    tmp_path: Path, alertmanager: AlertmanagerProcess, receiver: Receiver
) -> None:
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), sinks=[Alertmanager(alertmanager.url)])
    [change] = pipeline.submit(
        [now_event(pair="c1", node="c1", level="county", state="isolated", county="c1")]
    )
    warning = change.warning

    [active] = wait_for(alertmanager.alerts)
    assert active["labels"]["severity"] == "critical"
    assert active["labels"]["warning_level"] == "red"
    assert active["labels"]["warning_id"] == warning.id
    assert active["labels"]["county"] == "c1"
    assert (
        "特别重大" in active["annotations"]["summary"] and "c1" in active["annotations"]["summary"]
    )
    assert "YW-LINK-002" in active["annotations"]["description"]
    # Alertmanager routed it on to its receiver
    firing = wait_for(lambda: [b for b in receiver.bodies if b["body"]["status"] == "firing"])
    assert firing[0]["body"]["alerts"][0]["labels"]["warning_level"] == "red"

    pipeline.close()


def test_escalation_replaces_the_alert_at_the_old_level(
    tmp_path: Path, alertmanager: AlertmanagerProcess, receiver: Receiver
) -> None:
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), sinks=[Alertmanager(alertmanager.url)])
    [opened] = pipeline.submit(
        [now_event(pair="c1", node="c1", level="county", state="failover", county="c1")]
    )
    assert wait_for(alertmanager.alerts)[0]["labels"]["warning_level"] == "orange"
    [escalated] = pipeline.tick(opened.warning.first_seen + timedelta(minutes=31))
    assert escalated.kind == "escalated" and escalated.previous_level == "orange"
    levels = wait_for(
        lambda: [a["labels"]["warning_level"] for a in alertmanager.alerts()] == ["red"] and ["red"]
    )
    assert levels == ["red"]
    pipeline.submit(
        [now_event(5, pair="c1", node="c1", level="county", state="normal", county="c1")]
    )
    wait_for(lambda: not alertmanager.alerts())
    resolved = wait_for(lambda: [b for b in receiver.bodies if b["body"]["status"] == "resolved"])
    assert {a["labels"]["warning_id"] for a in resolved[-1]["body"]["alerts"]} == {
        opened.warning.id
    }
    pipeline.close()


def test_generic_webhook_hears_every_change_with_token(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    pipeline = Pipeline(
        SqliteStore(tmp_path / "e.db"), sinks=[Webhook(receiver.url, token_env="HOOK_TOKEN")]
    )
    [opened] = pipeline.submit(
        [now_event(pair="t1", node="t1", level="township", state="failover")]
    )
    pipeline.acknowledge(opened.warning.id, "alice", "looking")
    pipeline.resolve(opened.warning.id, "alice", "fixed")
    kinds = [c["change"] for b in receiver.bodies for c in b["body"]["changes"]]
    assert kinds == ["opened", "acknowledged", "resolved"]
    assert {b["auth"] for b in receiver.bodies} == {"Bearer s3cret"}
    last = receiver.bodies[-1]["body"]["changes"][0]["warning"]
    assert (last["status"], last["resolved_by"], last["resolution"]) == (
        "resolved",
        "alice",
        "fixed",
    )
    pipeline.close()


def test_unreachable_receiver_is_counted_not_fatal(tmp_path: Path) -> None:
    from conftest import free_port

    sink = Alertmanager(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1"):
        sink.send([Change("opened", _warning(), True)], utcnow())
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), sinks=[sink])
    changes = pipeline.submit([now_event(pair="c2", node="c2", level="county", state="failover")])
    assert changes and pipeline.delivery_errors["alertmanager"] == 1
    assert pipeline.store.get_warning(changes[0].warning.id) is not None
    pipeline.close()


def _warning():  # type: ignore[no-untyped-def]
    from security.engine import WarningBook
    from security.rulebook import load_rules

    return (
        WarningBook(load_rules())
        .observe(make_event(0, pair="x", node="x", level="village", state="failover"))[0]
        .warning
    )


def test_resolved_alert_carries_ends_at() -> None:
    w = _warning().resolve("auto", datetime(2026, 11, 1, 9, tzinfo=UTC), "cleared")
    body = alert(w, datetime(2026, 11, 1, 10, tzinfo=UTC))
    assert body["endsAt"].startswith("2026-11-01T09:00")
    assert body["labels"]["severity"] == "warning" and body["labels"]["warning_level"] == "yellow"
