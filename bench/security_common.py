"""Shared pieces of the security benchmarks: event mixes and timing helpers."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from security.events import Context, Endpoint, Event

T0 = datetime(2026, 11, 1, tzinfo=UTC)
COUNTIES = [f"c{i}" for i in range(6)]


def event_mix(n: int, offset: int = 0) -> list[Event]:
    """A watch-like mix: link state, packet detections and polls across 6 counties, 3,000 villages."""
    events = []
    for i in range(offset, offset + n):
        county = COUNTIES[i % 6]
        village = f"{county}-t{i % 15}-v{i % 500}"
        kind = i % 10
        if kind < 6:
            events.append(
                Event(
                    timestamp=T0 + timedelta(milliseconds=i),
                    dataset="yunwang.snmp",
                    action="poll",
                    message=f"polled {village}-r1 interfaces ok",
                    context=Context(device=f"{village}-r1", county=county, level="village"),
                )
            )
        elif kind < 9:
            events.append(
                Event(
                    timestamp=T0 + timedelta(milliseconds=i),
                    dataset="yunwang.links",
                    action="link-state-changed",
                    message=f"link {village}/primary up",
                    context=Context(
                        link=f"{village}/primary", county=county, level="village", state="up"
                    ),
                )
            )
        else:
            events.append(
                Event(
                    timestamp=T0 + timedelta(milliseconds=i),
                    dataset="yunwang.packets",
                    action="port-scan",
                    message=f"port scan from 198.18.{i % 250}.{i % 200} against cloud",
                    source=Endpoint(ip=f"198.18.{i % 250}.{i % 200}"),
                    context=Context(zone="cloud", county=county),
                    severity=50,
                )
            )
    return events


def median(values: list[float]) -> float:
    return statistics.median(values)
