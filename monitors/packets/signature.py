"""What every detection shares: its signatures, thresholds and how it emits events.

A detection is a small class that consumes decoded packets through hooks the
sensor calls (`on_arp`, `on_flow`, `on_answer`, `on_router_advert`,
`on_neighbor_advert`, `on_dhcp`) and emits `security.events.Event`s. Its
thresholds are a frozen dataclass with named defaults; a sensor policy
overrides them by name (`scan.port_scan_threshold: 30`), and an unknown name
is an input error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from security.events import Endpoint, Event

from .decode import ArpInfo, Packet
from .policy import SensorPolicy

DATASET = "yunwang.packets"
# The last second a `datetime` holds (9999-12-31T23:59:59Z). A pcapng
# timestamp is 64 bits in units the file chooses, so a hostile or corrupt
# file can date a frame far past it.
_LAST_SECOND = 253_402_300_799.0

Emit = Callable[[Event], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Signature:
    """A stable identity for one kind of finding (`rule.id` in every event).

    Not a warning rule: security/rules/YW-*.yaml grade these events."""

    id: str
    name: str
    action: str
    severity: int
    category: tuple[str, ...] = ("network", "intrusion_detection")
    type: tuple[str, ...] = ("info",)


class ThresholdError(ValueError):
    """An override names a threshold that does not exist or has the wrong type."""


def override(defaults: T, values: Mapping[str, Any], where: str) -> T:
    """`defaults` with `values` applied by name; one-line errors for bad names."""
    known = {f.name: f for f in dataclasses.fields(defaults)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise ThresholdError(
                f"{where}.{name}: unknown threshold (expected one of {', '.join(sorted(known))})"
            )
        current = getattr(defaults, name)
        if (
            isinstance(current, bool)
            or isinstance(value, bool)
            or not isinstance(value, int | float)
        ):
            raise ThresholdError(f"{where}.{name}: expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):  # .inf/.nan: nothing is endless
            raise ThresholdError(
                f"{where}.{name}: expected a finite positive number, got {value!r}"
            )
        if value <= 0:
            raise ThresholdError(f"{where}.{name}: expected a positive number, got {value!r}")
        changes[name] = type(current)(value)
    return dataclasses.replace(defaults, **changes)  # type: ignore[type-var]


class Detection:
    """Base of every detection; subclasses override the hooks they need.

    `key` names the detection in policy overrides and docs; `signatures`
    lists what it can emit (each a `ywpkt-*` rule id in ECS terms). The
    sensor only calls hooks a subclass overrides, so an unused hook costs
    nothing per packet.
    """

    key: ClassVar[str]
    signatures: ClassVar[tuple[Signature, ...]]

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        self._emit = emit
        self._observer = Endpoint(name=observer)
        self._locate = policy.locate

    def event(
        self,
        signature: Signature,
        ts: float,
        message: str,
        *,
        source: Endpoint | None = None,
        destination: Endpoint | None = None,
        transport: str | None = None,
        network_type: str | None = None,
        at: bytes | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Emit an event of `signature`; `at` is the address whose place in the
        estate (node, county, tenant, zone) the event is filed under."""
        self._emit(
            Event(
                timestamp=event_time(ts),
                dataset=DATASET,
                action=signature.action,
                message=message,
                kind="alert",
                category=signature.category,
                type=signature.type,
                severity=signature.severity,
                rule_id=signature.id,
                rule_name=signature.name,
                observer=self._observer,
                source=source,
                destination=destination,
                transport=transport,
                network_type=network_type,
                context=self._locate(at),
                labels=tuple(sorted((labels or {}).items())),
            )
        )

    # Hooks (the sensor calls only the ones a subclass overrides).
    def on_arp(self, packet: Packet, arp: ArpInfo) -> None:
        raise NotImplementedError

    def on_flow(self, packet: Packet, flow: Any) -> None:
        raise NotImplementedError

    def on_answer(self, packet: Packet, flow: Any) -> None:
        raise NotImplementedError

    def on_router_advert(self, packet: Packet) -> None:
        raise NotImplementedError

    def on_neighbor_advert(self, packet: Packet) -> None:
        raise NotImplementedError

    def on_sweep(self, now: float) -> None:
        """Periodically with capture time, and with +inf at the end of a capture."""
        raise NotImplementedError

    def on_dhcp(self, packet: Packet) -> None:
        raise NotImplementedError


K = TypeVar("K")
# What a detection remembers per address is bounded: a flood of forged
# sources (random RA or DHCP senders) must not grow memory without limit.
MAX_REMEMBERED = 100_000


def remember(table: dict[K, float], key: K, ts: float) -> None:
    """`table[key] = ts`, forgetting everything first when the table is full."""
    if len(table) >= MAX_REMEMBERED and key not in table:
        table.clear()
    table[key] = ts


def event_time(ts: float) -> datetime:
    """The event time of a frame stamped `ts`, held to what a `datetime` can
    hold: an impossible timestamp costs its event the right time, never the
    event itself or the events of a window it falls in."""
    return datetime.fromtimestamp(min(max(ts, 0.0), _LAST_SECOND), UTC)
