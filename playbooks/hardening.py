"""A hardening run: the mlps role through the runner, results per host and
control, and the ECS events that carry them to the store, the posture score
and rule YW-HOST-001.

    targets = lab_targets(estate, Lab(), load_policy(None))
    report = harden(targets, mode="check")
    events = to_events(report, targets, previous=latest_outcomes(store))
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from playbooks.controls import catalogue
from playbooks.inventory import Targets
from playbooks.runner import RunnerEvent, run_playbook
from security.events import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    Context,
    Endpoint,
    Event,
    Outcome,
    utcnow,
)

Mode = Literal["check", "fix"]
Status = Literal["pass", "fail", "na"]
DATASET = "yunwang.hardening"
PLAYBOOK = "harden.yml"
_TASK_CONTROL = re.compile(r"(YW-C-[A-Z]{2}-\d{3}) \| ")
_OUTCOME: dict[Status, Outcome] = {"pass": "success", "fail": "failure", "na": "unknown"}
_SEVERITY = {
    "low": SEVERITY_LOW,
    "medium": SEVERITY_MEDIUM,
    "high": SEVERITY_HIGH,
    "critical": SEVERITY_CRITICAL,
}


@dataclass(frozen=True)
class ControlResult:
    host: str
    control: str
    status: Status
    evidence: str
    changed: int = 0  # its fix tasks that changed the host (batched: each line or entry)


@dataclass
class HostOutcome:
    state: Literal["done", "failed", "unreachable", "refused"] = "done"
    message: str = ""
    tasks: int = 0
    changed: int = 0


@dataclass
class Report:
    mode: Mode
    results: list[ControlResult] = field(default_factory=list)
    hosts: dict[str, HostOutcome] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(h.state == "done" for h in self.hosts.values()) and all(
            r.status != "fail" for r in self.results
        )

    def failing(self) -> list[ControlResult]:
        return [r for r in self.results if r.status == "fail"]

    def changed_total(self) -> int:
        return sum(h.changed for h in self.hosts.values())


class _Collector:
    """Folds ansible-runner's event stream into a Report, calling `progress`."""

    def __init__(self, report: Report, progress: Callable[[str, HostOutcome], None] | None) -> None:
        self.report = report
        self.progress = progress
        self.changed: dict[tuple[str, str], int] = {}
        self.checks: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: RunnerEvent) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if not host or kind not in (
            "runner_on_ok",
            "runner_on_failed",
            "runner_on_unreachable",
            "runner_on_skipped",
        ):
            return
        outcome = self.report.hosts.setdefault(host, HostOutcome())
        outcome.tasks += 1
        res = data.get("res") or {}
        task = str(data.get("task") or "")
        action = data.get("task_action")
        if action in ("mlps_lines", "mlps_files"):
            # One task sets many controls' lines (files): each line (file or
            # copy task) that changed counts for its control, as its own
            # lineinfile (file, copy) task did; also when a later entry
            # failed the task, since what the entries before it changed
            # stays changed on the host.
            self._count_entries(host, outcome, res)
        elif kind == "runner_on_ok" and res.get("changed"):
            outcome.changed += 1
            match = _TASK_CONTROL.match(task)
            if match:
                key = (host, match.group(1))
                self.changed[key] = self.changed.get(key, 0) + 1
        if kind == "runner_on_ok" and action == "mlps_check":
            self.checks += [(host, r) for r in res.get("results", [])]
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            refused = "refused:" in str(res.get("msg", ""))
            outcome.state = "refused" if refused else "failed"
            outcome.message = f"{task}: {str(res.get('msg', ''))[:300]}"
        elif kind == "runner_on_unreachable":
            outcome.state = "unreachable"
            outcome.message = str(res.get("msg", ""))[:300]
        if self.progress is not None:
            self.progress(host, outcome)

    def _count_entries(self, host: str, outcome: HostOutcome, res: Mapping[str, Any]) -> None:
        controls = res.get("controls")
        if not isinstance(controls, Mapping):
            return
        for control, count in controls.items():
            key = (host, str(control))
            self.changed[key] = self.changed.get(key, 0) + int(count)
            outcome.changed += int(count)

    def results(self) -> list[ControlResult]:
        return [
            ControlResult(
                host,
                str(r["id"]),
                r["status"] if r.get("status") in ("pass", "fail", "na") else "fail",
                str(r.get("evidence", ""))[:400],
                self.changed.get((host, str(r["id"])), 0),
            )
            for host, r in self.checks
        ]


def harden(
    targets: Targets,
    *,
    mode: Mode = "check",
    controls: Sequence[str] = (),
    limit: Sequence[str] = (),
    progress: Callable[[str, HostOutcome], None] | None = None,
) -> Report:
    """Check (or fix, then check) the selected hosts and controls."""
    hosts = list(limit) or list(targets.hosts)
    report = Report(mode, hosts={h: HostOutcome() for h in hosts})
    collector = _Collector(report, progress)
    started = time.monotonic()
    run_playbook(
        PLAYBOOK,
        targets.inventory(),
        extravars={"mlps_mode": mode},
        tags=list(controls),
        limit=hosts,
        on_event=collector,
    )
    report.duration_s = time.monotonic() - started
    report.results = collector.results()
    return report


Previous = Mapping[tuple[str, str], str]


def latest_outcomes(events: Iterable[Event]) -> dict[tuple[str, str], str]:
    """(host, control) -> the outcome last recorded (events in any order)."""
    latest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for event in events:
        if event.dataset != DATASET or not event.rule_id or event.observer is None:
            continue
        key = (event.observer.name or "", event.rule_id)
        if key not in latest or latest[key][0] <= event.timestamp:
            latest[key] = (event.timestamp, event.outcome or "unknown")
    return {key: outcome for key, (_, outcome) in latest.items()}


def history_window() -> timedelta:
    """How far back drift looks for a control's last result."""
    return timedelta(days=180)


def to_events(
    report: Report, targets: Targets, previous: Previous | None = None, now: datetime | None = None
) -> list[Event]:
    """One ECS event per host and control. A control that passed last time
    and fails now is drift (`labels.drift`), which the warning names."""
    now = now or utcnow()
    known = catalogue()
    previous = previous or {}
    events = []
    for result in report.results:
        control = known.get(result.control)
        target = targets.hosts.get(result.host)
        if control is None or target is None:
            continue
        outcome = _OUTCOME[result.status]
        drift = outcome == "failure" and previous.get((result.host, result.control)) == "success"
        verb = {"pass": "passes", "fail": "fails", "na": "does not apply"}[result.status]
        message = (
            f"{'drift: ' if drift else ''}{result.host}: {result.control} ({control.clause}) "
            f"{verb}: {control.title}. {result.evidence}"
        ).strip()
        labels = {
            "clause": control.clause,
            "area": control.area,
            "mlps_level": str(target.level),
            "mode": report.mode,
            "evidence": result.evidence,
            "changed": str(result.changed),
        }
        if drift:
            labels["drift"] = "true"
        events.append(
            Event(
                timestamp=now,
                dataset=DATASET,
                action="control-checked",
                message=message[:1000],
                kind="state",
                category=("configuration", "host"),
                type=("info",) if outcome != "failure" else ("info", "change"),
                severity=_SEVERITY[control.severity] if outcome == "failure" else SEVERITY_LOW,
                outcome=outcome,
                rule_id=control.id,
                rule_name=control.title,
                observer=Endpoint(name=result.host, ip=target.address),
                context=Context(
                    host=result.host,
                    node=target.node,
                    zone=target.zone,
                    tenant=target.tenant,
                    system=target.system,
                ),
                labels=tuple(sorted(labels.items())),
            )
        )
    return events
