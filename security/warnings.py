"""Early warnings and their lifecycle: open -> acknowledged -> resolved.

A warning is the standing conclusion a rule draws from one or more events
sharing its dedupe key; repeats update it (count, last seen, level) rather
than making new ones. Acknowledging records who, when and why; resolving
happens automatically when the condition clears, or by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

from security.levels import WarningLevel

Status = Literal["open", "acknowledged", "resolved"]
ACTIVE: frozenset[Status] = frozenset({"open", "acknowledged"})
# Context fields copied from the triggering event so warnings can be filtered
# and scored by county, tenant, zone... without re-reading events.
CONTEXT_FIELDS = (
    "county",
    "township",
    "node",
    "device",
    "link",
    "pair",
    "zone",
    "tenant",
    "system",
    "host",
    "level",
)


class WarningError(Exception):
    """An operation a warning's state does not allow (one line)."""


def warning_id(rule_id: str, key: str, first_seen: datetime) -> str:
    digest = hashlib.sha256(f"{rule_id}|{key}|{first_seen.isoformat()}".encode()).hexdigest()
    return f"W{digest[:10]}"


@dataclass(frozen=True, slots=True)
class Warning:
    id: str
    rule_id: str
    rule_name: str
    key: str
    level: WarningLevel
    base_level: WarningLevel
    status: Status
    summary: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    context: dict[str, str] = field(default_factory=dict)
    last_event_id: str | None = None
    escalations: int = 0
    notified_at: datetime | None = None
    ack_by: str | None = None
    ack_at: datetime | None = None
    ack_comment: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.first_seen).total_seconds())

    def acknowledge(self, who: str, when: datetime, comment: str) -> Warning:
        if self.status != "open":
            raise WarningError(
                f"warning {self.id} is {self.status}; only open warnings can be acknowledged"
            )
        return replace(self, status="acknowledged", ack_by=who, ack_at=when, ack_comment=comment)

    def resolve(self, who: str, when: datetime, reason: str) -> Warning:
        if self.status == "resolved":
            raise WarningError(f"warning {self.id} is already resolved")
        return replace(
            self, status="resolved", resolved_at=when, resolved_by=who, resolution=reason
        )

    def description(self) -> str:
        parts = [
            f"{self.rule_id} {self.rule_name}",
            f"seen {self.count}x since {self.first_seen:%Y-%m-%d %H:%M:%S}Z",
        ]
        if self.escalations:
            parts.append(f"escalated {self.escalations}x from {self.base_level}")
        parts += [f"{k}={v}" for k, v in sorted(self.context.items())]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not `asdict` (a deep copy of every value): the
        # pipeline saves every changed warning, a busy sensor's by the
        # thousand (bench/RESULTS.md, issue 12).
        doc = {name: getattr(self, name) for name in _FIELDS}
        doc["context"] = dict(self.context)
        for name in _TIMES:
            value = doc[name]
            doc[name] = value.isoformat() if value is not None else None
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Warning:
        values = dict(doc)
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        values["context"] = dict(values.get("context") or {})
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(Warning))
_TIMES = ("first_seen", "last_seen", "notified_at", "ack_at", "resolved_at")
