"""What an IPv6 migration run reports: each target's outcome, each batch's, the run's."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TargetOutcome:
    name: str  # a host or a router
    stage: str
    added: list[str] = field(default_factory=list)  # pieces this run added
    error: str = ""


@dataclass
class BatchResult:
    stage: str
    index: int  # 1-based over the whole run
    canary: bool
    targets: dict[str, TargetOutcome]
    findings: list[str] = field(default_factory=list)
    apply_s: float = 0.0
    gate_s: float = 0.0
    rollback_s: float = 0.0
    rolled_back: bool = False
    kind: str = "hosts"  # or routers
    adoption: dict[str, dict[str, int]] = field(default_factory=dict)  # segment -> flows
    ra: dict[str, dict[str, str]] = field(default_factory=dict)  # router -> segment -> RA heard

    @property
    def ok(self) -> bool:
        return not self.findings and not any(o.error for o in self.targets.values())

    def failure(self) -> str:
        errors = [f"{o.name}: {o.error}" for o in self.targets.values() if o.error]
        return "; ".join(errors + self.findings)

    def findings_of(self, host: str) -> list[str]:
        """The gate's findings about `host` (each finding starts with its host)."""
        return host_findings(self.findings, host)


def host_findings(findings: list[str], host: str) -> list[str]:
    return [f for f in findings if f.startswith(f"{host}: ")]


@dataclass
class MigrationReport:
    batches: list[BatchResult]
    planned: int
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return len(self.batches) == self.planned and all(b.ok for b in self.batches)

    def failed(self) -> BatchResult | None:
        return next((b for b in self.batches if not b.ok), None)
