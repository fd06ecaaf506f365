"""What the batch-by-batch verbs (`rollout dual-links`, `migrate ipv6`) print
the same way: a report of batches as JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


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
