"""Events crossing a process boundary (a sensor worker's pipe) arrive whole."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from security.events import Context, Endpoint, Event


def _every_field_set() -> Event:
    return Event(
        timestamp=datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
        dataset="yunwang.packets",
        action="forbidden-cross-zone-flow",
        message="10.40.1.9 (gov-extranet) -> 10.32.1.12 (exchange) tcp/22",
        kind="alert",
        category=("network",),
        type=("connection", "denied"),
        severity=70,
        outcome="failure",
        rule_id="ywpkt-zone-forbidden-flow",
        rule_name="Flow between zones the isolation matrix forbids",
        observer=Endpoint(name="sensor-1"),
        source=Endpoint(ip="10.40.1.9", port=40000, mac="02:00:00:00:00:01"),
        destination=Endpoint(ip="10.32.1.12", port=22, name="exchange-gw"),
        transport="tcp",
        network_type="ipv4",
        context=Context(**{name: f"v-{name}" for name in Context.__dataclass_fields__}),
        labels=(("count", "3"), ("source_zone", "gov-extranet")),
    )


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_an_event_pickles_with_every_field_and_the_same_id(protocol: int) -> None:
    event = _every_field_set()
    before = event.id  # the cached id and document stay behind; rebuilt alike
    restored = pickle.loads(pickle.dumps(event, protocol=protocol))
    assert restored == event
    assert restored.source == event.source and restored.context == event.context
    assert restored.id == before
    assert restored.to_ecs() == event.to_ecs()
    plain = Event(datetime(2026, 1, 1, tzinfo=UTC), "yunwang.links", "pair-state-changed", "up")
    assert pickle.loads(pickle.dumps(plain, protocol=protocol)) == plain
