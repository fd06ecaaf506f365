"""What the batch-by-batch verbs (`rollout dual-links`, `migrate ipv6`) report
the same way: progress lines, the run's audit summary, the JSON report and
the batches a stop left unrun."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from yunwang.console import out


class _Failed(Protocol):
    def failure(self) -> object: ...


class BatchReport(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def batches(self) -> Sequence[Any]: ...
    @property
    def planned(self) -> Any: ...
    def failed(self) -> _Failed | None: ...


def report_json(
    report: BatchReport, batch_detail: Callable[[Any], dict[str, object]], **first: object
) -> dict[str, object]:
    """`first` (the rollout's mode) leads; then the outcome, each batch, the plan
    and the first failure."""
    failed = report.failed()
    return {
        **first,
        "ok": report.ok,
        "duration_s": round(report.duration_s, 1),
        "batches": [batch_detail(b) | {"ok": b.ok} for b in report.batches],
        "planned": report.planned,
        "failed": failed.failure() if failed else None,
    }


def run_summary(report: BatchReport, events: int) -> dict[str, object]:
    """The audit trail's detail for a finished run: how far it went, and the
    events it stored."""
    failed = report.failed()
    return {
        "ran": len(report.batches),
        "duration_s": round(report.duration_s, 1),
        "failed": failed.failure() if failed else None,
        "events": events,
    }


def say(text: str) -> None:
    """A timestamped progress line on stderr: stdout stays the table or the JSON."""
    sys.stderr.write(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} {text}\n")
    sys.stderr.flush()


def print_not_run(report: BatchReport, what: str) -> None:
    skipped = report.planned - len(report.batches)
    if skipped:
        out.print(f"{skipped} batches not run (the {what} stopped)")
