"""Dual-link rollout: level by level from the city down, in batches, verified.

Each batch runs the `dual_links` role (through playbooks/runner.py) on its
routers, then reads the routers' own state until every uplink is healthy or
`settle_s` has passed (OSPF needs a few hellos, BFD starts after it). The
first batch that fails stops the rollout: routers after it are not touched.
A `--check` run renders and diffs only; nothing is applied or verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from playbooks.dual_links import RouterTarget, inventory
from playbooks.routing_check import Finding, check_router, observed
from playbooks.runner import RunnerEvent, run_playbook
from security.events import (
    SEVERITY_HIGH,
    SEVERITY_INFO,
    Context,
    Endpoint,
    Event,
    utcnow,
)

DATASET = "yunwang.rollout"
ACTIONS = {"router": "router-rolled-out", "finished": "rollout-finished"}
_APPLY_TASK = "The difference is applied"
_DIFF_TASK = "The difference from the running configuration"
_VERIFY_TASK = "The verification starts"
_OBSERVE_TASK = "Routing state"


@dataclass
class RouterOutcome:
    node: str
    level: str
    changed: int = 0
    reloaded: bool = False
    pending: list[str] = field(default_factory=list)  # what --check would change
    error: str = ""


@dataclass
class BatchResult:
    level: str
    index: int  # 1-based, over the whole rollout
    routers: dict[str, RouterOutcome]
    apply_s: float = 0.0
    verify_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings and not any(o.error for o in self.routers.values())

    def failure(self) -> str:
        errors = [f"{o.node}: {o.error}" for o in self.routers.values() if o.error]
        return "; ".join(errors + [str(f) for f in self.findings])


@dataclass
class RolloutReport:
    mode: str  # apply | check
    batches: list[BatchResult]
    planned: int  # batches planned; fewer ran when one failed
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.batches) and len(self.batches) == self.planned

    def failed(self) -> BatchResult | None:
        return next((b for b in self.batches if not b.ok), None)


Progress = Callable[[str, BatchResult | None], None]


def rollout(
    targets: list[RouterTarget],
    plan: list[list[RouterTarget]],
    *,
    check: bool = False,
    settle_s: float = 45.0,
    progress: Progress | None = None,
) -> RolloutReport:
    """Apply `plan` (batches of `targets`) in order; stop at the first failing batch."""
    started = time.monotonic()
    report = RolloutReport("check" if check else "apply", [], len(plan))
    inv = inventory(targets)
    say = progress or (lambda _text, _batch: None)
    for index, batch in enumerate(plan, start=1):
        nodes = [t.node for t in batch]
        result = BatchResult(
            batch[0].level, index, {t.node: RouterOutcome(t.node, t.level) for t in batch}
        )
        say(f"batch {index}/{len(plan)} ({result.level}): applying to {', '.join(nodes)}", None)
        verifying = partial(say, f"batch {index}/{len(plan)}: verifying from the routers", None)
        run = _BatchRun(result, inv, verifying)
        run_playbook(
            "dual_links.yml",
            inv,
            limit=nodes,
            check=check,
            extravars={"dual_links_settle_s": settle_s},
            on_event=run.on_event,
        )
        run.finish()
        if not check and not any(o.error for o in result.routers.values()):
            result.findings = [f for t in batch for f in check_router(t, run.seen.get(t.node, {}))]
        report.batches.append(result)
        say(f"batch {index}/{len(plan)}: {'ok' if result.ok else 'FAILED'}", result)
        if not result.ok:
            break
    report.duration_s = time.monotonic() - started
    return report


class _BatchRun:
    """One batch's ansible-playbook run, read from its events as they come:
    each router's outcome, when verification started, the last state read."""

    def __init__(
        self, result: BatchResult, inv: dict[str, Any], verifying: Callable[[], None]
    ) -> None:
        self.result = result
        self.commands = {n: h["dual_links_observe"] for n, h in inv["all"]["hosts"].items()}
        self.verifying = verifying
        self.started = time.monotonic()
        self.verify_started: float | None = None
        self.seen: dict[str, dict[str, str]] = {}  # node -> command -> JSON text

    def finish(self) -> None:
        ended = time.monotonic()
        verify_started = self.verify_started or ended
        self.result.apply_s = verify_started - self.started
        self.result.verify_s = ended - verify_started

    def on_event(self, event: RunnerEvent) -> None:
        data = event.get("event_data") or {}
        task = str(data.get("task", ""))
        if event.get("event") == "playbook_on_task_start" and task.startswith(_VERIFY_TASK):
            if self.verify_started is None:
                self.verify_started = time.monotonic()
                self.verifying()
            return
        outcome = self.result.routers.get(str(data.get("host", "")))
        if outcome is None:
            return
        res = data.get("res") or {}
        kind = event.get("event")
        if kind == "runner_on_ok":
            if res.get("changed"):
                outcome.changed += 1
                outcome.reloaded |= task.startswith(_APPLY_TASK)
            if task.startswith(_DIFF_TASK):
                outcome.pending = _pending(str(res.get("stdout", "")))
            if task.startswith(_OBSERVE_TASK):
                self.seen[outcome.node] = observed(
                    self.commands[outcome.node], str(res.get("stdout", ""))
                )
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get(
            "ignore_errors"
        ):
            detail = str(res.get("stderr") or res.get("msg") or res.get("stdout") or "failed")
            outcome.error = (
                f"{task}: {detail.strip().splitlines()[-1][:300] if detail.strip() else 'failed'}"
            )


def _pending(diff: str) -> list[str]:
    """frr-reload.py --test's changed lines, as the role judges them."""
    return [
        line
        for line in diff.splitlines()
        if line.strip()
        and not line.startswith(("Lines To", "="))
        and not line.strip().removeprefix("no ").startswith("hostname ")
    ]


def to_events(report: RolloutReport, estate_file: str, now: datetime | None = None) -> list[Event]:
    """One event per router per batch, and one for the rollout."""
    now = now or utcnow()
    events = []
    for batch in report.batches:
        for outcome in batch.routers.values():
            mine = [f for f in batch.findings if f.node == outcome.node]
            failed = bool(outcome.error or mine)
            labels = {
                "mode": report.mode,
                "batch": str(batch.index),
                "changed": str(outcome.changed),
                "reloaded": str(outcome.reloaded).lower(),
                "pending_lines": str(len(outcome.pending)),
            }
            if failed:
                labels["seen"] = (outcome.error or "; ".join(f.seen for f in mine))[:500]
            events.append(
                Event(
                    timestamp=now,
                    dataset=DATASET,
                    action=ACTIONS["router"],
                    message=_router_message(report.mode, outcome, mine)[:1000],
                    kind="event",
                    category=("configuration", "network"),
                    type=("change",) if outcome.changed else ("info",),
                    severity=SEVERITY_HIGH if failed else SEVERITY_INFO,
                    outcome="failure" if failed else "success",
                    observer=Endpoint(name=outcome.node),
                    context=Context(
                        node=outcome.node,
                        level=outcome.level,
                        link=mine[0].link if mine else None,
                    ),
                    labels=tuple(sorted(labels.items())),
                )
            )
    stopped = report.failed()
    events.append(
        Event(
            timestamp=now,
            dataset=DATASET,
            action=ACTIONS["finished"],
            message=(
                f"dual-link rollout ({report.mode}) of {estate_file}: "
                + (
                    f"{len(report.batches)} batches ok"
                    if report.ok
                    else f"stopped at batch {stopped.index if stopped else len(report.batches)}"
                )
            ),
            kind="event",
            category=("configuration", "network"),
            type=("info",),
            severity=SEVERITY_INFO if report.ok else SEVERITY_HIGH,
            outcome="success" if report.ok else "failure",
            labels=(
                ("batches", str(len(report.batches))),
                ("duration_s", f"{report.duration_s:.1f}"),
                ("mode", report.mode),
            ),
        )
    )
    return events


def _router_message(mode: str, outcome: RouterOutcome, findings: Iterable[Finding]) -> str:
    found = "; ".join(str(f) for f in findings)
    if outcome.error:
        return f"{outcome.node}: rollout failed: {outcome.error}"
    if found:
        return f"{outcome.node}: dual links not healthy after rollout: {found}"
    if mode == "check":
        return f"{outcome.node}: {len(outcome.pending)} configuration lines would change"
    return f"{outcome.node}: dual-link routing {'reloaded' if outcome.reloaded else 'unchanged'}"
