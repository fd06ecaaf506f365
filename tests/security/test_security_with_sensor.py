"""The packet sensor's real output, from attack frames, graded by the rules.

The frames are the packet area's own attack scenarios (tests/packets); the
sensor turns them into events exactly as it does from a live capture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from estate import load
from monitors.packets import Sensor
from monitors.packets.estate_policy import policy_from_estate
from security.context import EstateContext
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.packets import scenarios  # noqa: E402 - after making the repo importable


@pytest.fixture
def sensor_events(tmp_path: Path) -> list:  # type: ignore[type-arg]
    estate = load(scenarios.ESTATE)
    policy = policy_from_estate(estate)
    overlay = tmp_path / "policy.yaml"
    overlay.write_text(scenarios.POLICY)
    policy.apply_overlay(overlay)
    sensor = Sensor(policy, observer="test")
    for index, frame in enumerate(scenarios.all_frames()):
        raw = bytes(frame)
        sensor.feed(1_000.0 + index * 0.01, raw, len(raw))
    return list(sensor.events)


def test_every_detection_becomes_a_graded_warning(tmp_path: Path, sensor_events: list) -> None:  # type: ignore[type-arg]
    estate = load(scenarios.ESTATE)
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), enrich=EstateContext(estate).enrich)
    pipeline.submit(sensor_events)
    warnings = pipeline.active_warnings()
    by_rule = {}
    for w in warnings:
        by_rule.setdefault(w.rule_id, []).append(w)
    assert set(by_rule) == {"YW-NET-001", "YW-NET-002", "YW-NET-004", "YW-NET-005", "YW-NET-006"}
    # RA from an undeclared router and its foreign prefix: one warning, seen twice
    [ra] = by_rule["YW-NET-002"]
    assert ra.count == 2
    # IPv4 and IPv6 gateway claims, DHCPv4 and DHCPv6 servers, v4 and v6 flows
    assert len(by_rule["YW-NET-005"]) == 2 and len(by_rule["YW-NET-006"]) == 2
    assert len(by_rule["YW-NET-001"]) == 2
    assert {w.context.get("destination_zone") for w in by_rule["YW-NET-001"]} == {"exchange"}
    assert {w.level for w in by_rule["YW-NET-001"]} == {"yellow"}  # into exchange
    assert all(w.level == "orange" for w in by_rule["YW-NET-005"] + by_rule["YW-NET-006"])
    assert pipeline.store.count_events() == len(sensor_events)
    pipeline.close()
