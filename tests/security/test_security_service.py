"""The service `yunwang watch` starts: metrics on 127.0.0.1, ticking, audit, estate context."""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from pathlib import Path

from conftest import Receiver
from prometheus_client import CollectorRegistry
from sec_helpers import make_event

from estate import load
from security.audit import AuditTrail
from security.events import utcnow
from security.service import SecurityService, WatchConfig
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_service_serves_metrics_ticks_and_delivers(tmp_path: Path, receiver: Receiver) -> None:
    config = WatchConfig(
        store=f"sqlite:///{tmp_path / 'e.db'}",
        webhook=receiver.url,
        metrics_port=0,
        tick_seconds=0.1,
    )
    service = SecurityService(
        config, estate=load(ROOT / "examples" / "small.yaml"), registry=CollectorRegistry()
    )
    service.start()
    try:
        event = make_event(
            0,
            dataset="yunwang.snmp",
            action="device-state-changed",
            device="hl-agg-1",
            state="unreachable",
        )
        service.pipeline.submit([replace(event, timestamp=utcnow())])
        assert service.metrics_url is not None and service.metrics_url.startswith(
            "http://127.0.0.1:"
        )
        body = urllib.request.urlopen(service.metrics_url, timeout=5).read().decode()
        assert 'yunwang_warnings{status="open",warning_level="orange"} 1.0' in body
        assert 'yunwang_posture_score{name="hl",scope="county"}' in body
        store = service.pipeline.store
        wait_until(lambda: store.count_events() == 1, 10, "the ticker flushing the event")
        wait_until(lambda: receiver.bodies, 10, "the webhook delivery")
        assert receiver.bodies[0]["body"]["changes"][0]["warning"]["context"]["county"] == "hl"
    finally:
        service.stop()
    actions = [r.action for r in AuditTrail().records()]
    assert actions == ["security.start", "security.stop"]
