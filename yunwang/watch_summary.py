"""What `yunwang watch` shows after each cycle: the live view, `--json`, the web page.

Built from the parts the loop keeps (the last snapshot, the pipeline, the
sensors' counters); it reads them, it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.packets.sensor import SensorStats
from monitors.snmp.collection import Snapshot
from security.audit_anchor import Anchor
from security.pipeline import Pipeline


@dataclass
class Summary:
    """What the live view and `--json` show after each cycle."""

    estate: str
    mode: str
    cycles: int
    devices: dict[str, int]
    pairs: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    posture: list[dict[str, Any]]
    events: dict[str, int]
    metrics_url: str | None
    sensor: dict[str, int] = field(default_factory=dict)
    loop: dict[str, float] = field(default_factory=dict)
    silent: list[str] = field(default_factory=list)  # producers the centre no longer hears
    audit: dict[str, Any] | None = None  # the audit trail's anchored head: file, seq, mac

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def device_states(snap: Snapshot | None) -> dict[str, int]:
    states: dict[str, int] = {}
    if snap is not None:
        for poll in snap.polls.values():
            states[poll.state] = states.get(poll.state, 0) + 1
    return states


def warnings_view(pipeline: Pipeline, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": w.id,
            "level": w.level,
            "rule": w.rule_id,
            "summary": w.summary,
            "status": w.status,
            "count": w.count,
            "age_s": round(w.age_seconds(now)),
        }
        for w in pipeline.active_warnings()
    ]


def posture_view(pipeline: Pipeline, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.kind,
            "name": s.name,
            "score": round(s.score, 1),
            "components": {
                k: (None if v is None else round(v, 3)) for k, v in s.components.items()
            },
        }
        for s in pipeline.scores(now)
    ]


def sensor_totals(sensors: list[SensorStats]) -> dict[str, int]:
    """Every sensor of this process (the replay's and the live ones) added up."""
    if not sensors:
        return {}
    return {
        "seen": sum(s.seen for s in sensors),
        "parsed": sum(s.parsed for s in sensors),
        "events": sum(sum(s.events.values()) for s in sensors),
    }


def audit_view(anchor: Anchor | None) -> dict[str, Any] | None:
    if anchor is None:
        return None
    return {"file": anchor.file, "seq": anchor.seq, "mac": anchor.hash}
