"""One drill, as a record: declared vs achieved, pass or fail, step timings.

Each record becomes one `yunwang.dr` event (`drill-finished`), which posture's
DR component and rule YW-DR-001 read, and one audit-trail entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from estate.model import DrClass, System
from security.events import Context, Event

DATASET = "yunwang.dr"
DRILL_FINISHED = "drill-finished"
Kind = Literal["failover", "restore"]


@dataclass
class DrillRecord:
    system: str  # tenant/code
    kind: Kind
    dr_class: str
    declared_rpo_s: float
    declared_rto_s: float
    mlps_level: int
    actor: str
    started: datetime
    achieved_rpo_s: float | None = None
    achieved_rto_s: float | None = None
    passed: bool = False
    reason: str = ""
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    facts: dict[str, str] = field(default_factory=dict)  # rows lost, snapshot id...

    @classmethod
    def begin(
        cls, system: System, dr: DrClass, kind: Kind, actor: str, started: datetime
    ) -> DrillRecord:
        return cls(
            system.ref,
            kind,
            dr.name,
            dr.rpo_s,
            dr.rto_s,
            system.mlps_level,
            actor,
            started,
        )

    def judge(self) -> None:
        """Pass when every measured objective is within the class; the first
        miss (or the failure already recorded) is the reason."""
        if self.reason:
            self.passed = False
            return
        misses = []
        if self.achieved_rpo_s is not None and self.achieved_rpo_s > self.declared_rpo_s:
            misses.append(f"RPO {self.achieved_rpo_s:.3f} s > class {self.declared_rpo_s:g} s")
        if self.achieved_rto_s is not None and self.achieved_rto_s > self.declared_rto_s:
            misses.append(f"RTO {self.achieved_rto_s:.3f} s > class {self.declared_rto_s:g} s")
        self.passed = not misses
        self.reason = "; ".join(misses) or "within class"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["started"] = self.started.isoformat()
        return body

    def to_event(self) -> Event:
        tenant, code = self.system.split("/", 1)
        labels = {
            "kind": self.kind,
            "dr_class": self.dr_class,
            "rpo_s": f"{self.declared_rpo_s:g}",
            "rto_s": f"{self.declared_rto_s:g}",
            "mlps_level": str(self.mlps_level),
            "actor": self.actor,
            **{f"step_{k}_s": f"{v:.3f}" for k, v in self.steps.items()},
            **self.facts,
        }
        if self.achieved_rpo_s is not None:
            labels["achieved_rpo_s"] = f"{self.achieved_rpo_s:.3f}"
        if self.achieved_rto_s is not None:
            labels["achieved_rto_s"] = f"{self.achieved_rto_s:.3f}"
        verdict = "passed" if self.passed else "failed"
        return Event(
            timestamp=self.started,
            dataset=DATASET,
            action=DRILL_FINISHED,
            message=f"{self.kind} drill of {self.system} {verdict}: {self.reason}",
            category=("configuration",),
            type=("info",),
            outcome="success" if self.passed else "failure",
            context=Context(tenant=tenant, system=code),
            labels=tuple(sorted(labels.items())),
        )
