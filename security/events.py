"""One ECS-shaped event type for every producer.

Collectors, packet sensors, playbook audits and DR drills all emit `Event`s;
rules, stores and exporters read only this type. Field names follow the
Elastic Common Schema (https://www.elastic.co/guide/en/ecs/current/) so the
Elasticsearch store can index `to_ecs()` as is; estate context lives under
`yunwang.*`.

The id is derived from the event's content, so storing the same event twice
(a replayed spool, a re-read pcap) is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

EventKind = Literal["alert", "event", "metric", "state", "pipeline_error", "signal"]
Outcome = Literal["success", "failure", "unknown"]

# ECS event.severity is numeric; these are the values our producers use so a
# rule can say "severity >= 70" without knowing the producer.
SEVERITY_INFO = 10
SEVERITY_LOW = 30
SEVERITY_MEDIUM = 50
SEVERITY_HIGH = 70
SEVERITY_CRITICAL = 90


@dataclass(frozen=True, slots=True)
class Endpoint:
    """ECS `source.*` / `destination.*` / `observer.*` subset."""

    ip: str | None = None
    port: int | None = None
    mac: str | None = None
    name: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpickled(self, _ENDPOINT_FIELDS)

    def to_ecs(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("ip", self.ip),
                ("port", self.port),
                ("mac", self.mac),
                ("name", self.name),
            )
            if v is not None
        }


@dataclass(frozen=True, slots=True)
class Context:
    """Where in the estate an event happened (`yunwang.*`)."""

    node: str | None = None
    device: str | None = None
    link: str | None = None
    pair: str | None = None
    zone: str | None = None
    tenant: str | None = None
    system: str | None = None
    host: str | None = None  # the estate host the event is about (hardening, a scan's target)
    county: str | None = None
    township: str | None = None
    level: str | None = None
    state: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpickled(self, _CONTEXT_FIELDS)

    def to_ecs(self) -> dict[str, Any]:
        return {
            name: value for name in _CONTEXT_FIELDS if (value := getattr(self, name)) is not None
        }


_CONTEXT_FIELDS = tuple(f.name for f in fields(Context))
_ENDPOINT_FIELDS = tuple(f.name for f in fields(Endpoint))


def _unpickled(obj: Any, names: tuple[str, ...]) -> tuple[Any, tuple[Any, ...]]:
    """How `obj` is pickled: its class and init fields, in order. The default
    for a frozen dataclass with slots calls `fields()` for every object it
    restores, ~35 µs an event; the parent of N sensor processes unpickles
    every event of a capture (`monitors.packets.parallel`)."""
    return type(obj), tuple(getattr(obj, name) for name in names)


@dataclass(frozen=True, slots=True)
class Event:
    """A thing that happened, in ECS terms.

    `dataset` names the producer (`yunwang.links`, `yunwang.packets`,
    `yunwang.hardening`, `yunwang.dr`); `action` says what happened
    (`pair-state-changed`, `arp-flip-flop`...). `rule_id` is set by detections
    that have a stable rule (packet sensors, hardening controls).
    """

    timestamp: datetime
    dataset: str
    action: str
    message: str
    kind: EventKind = "event"
    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ("info",)
    severity: int = SEVERITY_INFO
    outcome: Outcome | None = None
    rule_id: str | None = None
    rule_name: str | None = None
    observer: Endpoint | None = None
    source: Endpoint | None = None
    destination: Endpoint | None = None
    transport: str | None = None
    network_type: str | None = None
    context: Context = field(default_factory=Context)
    labels: tuple[tuple[str, str], ...] = ()
    # Hashing the whole document is most of an event's cost in the stores, and
    # every store, rule and spool asks for the id: compute it once, lazily.
    _id: str = field(default="", init=False, compare=False, repr=False)
    # The ECS document, built once and shared by the rules and the store (document()).
    _doc: dict[str, Any] | None = field(default=None, init=False, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpickled(self, _EVENT_FIELDS)

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError("event timestamps must be timezone-aware (UTC)")

    @property
    def id(self) -> str:
        """Deterministic id: the same content always gets the same id."""
        if not self._id:
            self.document()
        return self._id

    def document(self) -> dict[str, Any]:
        """The ECS document with its id, built once: the rules and the store share it.

        Shared, so read-only: a caller that adds a field copies what it changes
        (the Elasticsearch bulk stamps `event.ingested` on a copy).
        """
        if self._doc is not None:
            return self._doc
        doc = self.to_ecs(include_id=False)
        if not self._id:
            body = json.dumps(doc, sort_keys=True, ensure_ascii=False)
            object.__setattr__(self, "_id", hashlib.sha256(body.encode()).hexdigest()[:32])
        doc["event"]["id"] = self._id
        object.__setattr__(self, "_doc", doc)
        return doc

    def with_context(self, **changes: str | None) -> Event:
        return replace(self, context=replace(self.context, **changes))

    def to_ecs(self, include_id: bool = True) -> dict[str, Any]:
        """Nested ECS document, as Elasticsearch and the SQLite store keep it."""
        event: dict[str, Any] = {
            "kind": self.kind,
            "dataset": self.dataset,
            "action": self.action,
            "severity": self.severity,
            "category": list(self.category),
            "type": list(self.type),
        }
        if self.outcome is not None:
            event["outcome"] = self.outcome
        doc: dict[str, Any] = {
            "@timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
            "message": self.message,
            "event": event,
            "ecs": {"version": "8.11.0"},
        }
        if include_id:
            event["id"] = self.id
        if self.rule_id is not None:
            doc["rule"] = {"id": self.rule_id, "name": self.rule_name or self.rule_id}
        for key, endpoint in (
            ("observer", self.observer),
            ("source", self.source),
            ("destination", self.destination),
        ):
            if endpoint is not None:
                doc[key] = endpoint.to_ecs()
        network = {
            k: v for k, v in (("transport", self.transport), ("type", self.network_type)) if v
        }
        if network:
            doc["network"] = network
        context = self.context.to_ecs()
        if context:
            doc["yunwang"] = context
        if self.labels:
            doc["labels"] = dict(self.labels)
        return doc

    @classmethod
    def from_ecs(cls, doc: dict[str, Any]) -> Event:
        """Inverse of `to_ecs` (the stores read events back with it)."""
        event = doc["event"]
        rule = doc.get("rule", {})
        network = doc.get("network", {})

        def endpoint(key: str) -> Endpoint | None:
            value = doc.get(key)
            return Endpoint(**value) if value else None

        return cls(
            timestamp=datetime.fromisoformat(doc["@timestamp"]),
            dataset=event["dataset"],
            action=event["action"],
            message=doc["message"],
            kind=event.get("kind", "event"),
            category=tuple(event.get("category", ())),
            type=tuple(event.get("type", ("info",))),
            severity=int(event.get("severity", SEVERITY_INFO)),
            outcome=event.get("outcome"),
            rule_id=rule.get("id"),
            rule_name=rule.get("name"),
            observer=endpoint("observer"),
            source=endpoint("source"),
            destination=endpoint("destination"),
            transport=network.get("transport"),
            network_type=network.get("type"),
            context=Context(**doc.get("yunwang", {})),
            labels=tuple(sorted(doc.get("labels", {}).items())),
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


# The cached id and document are left out: rebuilt when asked for.
_EVENT_FIELDS = tuple(f.name for f in fields(Event) if f.init)
