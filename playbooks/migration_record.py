"""Where an IPv6 migration stands, and what it tells the event store.

The record lives in $YUNWANG_HOME/migrations/ (one JSON file per estate, and
one per lab rehearsal of it): which routers and hosts are migrated, in which stage, when
and by whom, and which pieces the migration added to each (what a rollback
takes back). `status` reads it; a resumed `run` re-applies the plan and the
role changes nothing on the routers and hosts already migrated.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from estate.home import yunwang_home
from playbooks.migration import STAGES, MigrationError
from playbooks.migration_report import BatchResult, MigrationReport, host_findings
from security.events import SEVERITY_HIGH, SEVERITY_INFO, Context, Endpoint, Event, utcnow

DATASET = "yunwang.migration"
ACTIONS = {
    "host": "host-migrated",
    "router": "router-migrated",
    "rolled_back": "batch-rolled-back",
    "finished": "migration-finished",
    "rollback": "stage-rolled-back",
}
_MAX_BYTES = 16 * 1024 * 1024


def record_path(estate_file: str | Path, lab: bool) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(estate_file).stem)[:100] or "estate"
    return yunwang_home() / "migrations" / f"ipv6-{stem}{'-lab' if lab else ''}.json"


def load(path: Path) -> dict[str, dict[str, Any]]:
    """name -> {kind, stage, router, migrated_at, by, added}; {} before the first run."""
    if not path.exists():
        return {}
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise MigrationError(f"{path}: larger than {_MAX_BYTES} bytes: not a migration record")
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MigrationError(f"{path}: not a migration record ({exc})") from None
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(hosts, dict):
        raise MigrationError(f"{path}: hosts: expected a mapping of host to its migration")
    return hosts


def save(path: Path, hosts: dict[str, dict[str, Any]]) -> None:
    """Written whole and renamed into place: a crash never leaves half a record."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ipv6-")
    with os.fdopen(fd, "w") as fh:
        json.dump({"version": 1, "hosts": hosts}, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def note_batch(
    hosts: dict[str, dict[str, Any]], batch: BatchResult, routers: dict[str, str], who: str
) -> None:
    """A green batch's routers and hosts are migrated (one already migrated
    keeps its record); `routers` maps each to its router (a router to itself)."""
    if not batch.ok:
        return
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, outcome in batch.targets.items():
        if name in hosts:
            continue
        hosts[name] = {
            "kind": batch.kind[:-1],  # router | host
            "stage": outcome.stage,
            "router": routers.get(name, ""),
            "migrated_at": now,
            "by": who,
            "added": outcome.added,
        }


def forget(hosts: dict[str, dict[str, Any]], rolled_back: list[str], findings: list[str]) -> None:
    """Hosts a rollback left clean (no finding names them) are IPv4-only again."""
    for name in rolled_back:
        if not host_findings(findings, name):
            hosts.pop(name, None)


def check_rollback_order(migrated: dict[str, dict[str, Any]], stage: str | None) -> None:
    """A stage is rolled back only once every stage below it is IPv4-only again:
    a county router without IPv6 cuts its still-migrated townships off from
    IPv6 (they reach the city through it). All stages at once are in order."""
    if stage is None or stage not in STAGES:
        return
    below = STAGES[STAGES.index(stage) + 1 :]
    still = sorted(n for n, entry in migrated.items() if entry.get("stage") in below)
    if still:
        stages = sorted({str(migrated[n]["stage"]) for n in still}, key=STAGES.index)
        shown = ", ".join(still[:5]) + (f" and {len(still) - 5} more" if len(still) > 5 else "")
        raise MigrationError(
            f"--stage {stage}: the {'/'.join(stages)} stage is still migrated ({shown}); "
            f"roll back {stages[-1]} first, or every stage at once without --stage"
        )


def to_events(report: MigrationReport, estate_file: str, routers: dict[str, str]) -> list[Event]:
    """One event per router or host per batch, one per rolled-back batch, one for the run."""
    now = utcnow()
    events = []
    for batch in report.batches:
        for name, outcome in batch.targets.items():
            mine = batch.findings_of(name)
            failed = bool(outcome.error or mine)
            seen = outcome.error or "; ".join(mine)
            events.append(
                Event(
                    timestamp=now,
                    dataset=DATASET,
                    action=ACTIONS["router" if batch.kind == "routers" else "host"],
                    message=(
                        f"{name}: IPv6 migration failed its gate: {seen}"
                        if failed
                        else f"{name}: dual-stack ({', '.join(outcome.added) or 'unchanged'})"
                    )[:1000],
                    kind="event",
                    category=("configuration", "network"),
                    type=("change",) if outcome.added else ("info",),
                    severity=SEVERITY_HIGH if failed else SEVERITY_INFO,
                    outcome="failure" if failed else "success",
                    observer=Endpoint(name=name),
                    context=Context(node=routers.get(name), level=outcome.stage),
                    labels=(
                        ("added", ",".join(outcome.added)),
                        ("batch", str(batch.index)),
                        ("canary", str(batch.canary).lower()),
                    ),
                )
            )
        if batch.rolled_back:
            events.append(_summary(now, ACTIONS["rolled_back"], batch.failure(), False, batch))
    stopped = report.failed()
    message = f"IPv6 migration of {estate_file}: " + (
        f"{len(report.batches)} batches migrated"
        if report.ok
        else f"stopped at batch {stopped.index if stopped else len(report.batches)}, rolled back"
    )
    events.append(_summary(now, ACTIONS["finished"], message, report.ok, None, report.duration_s))
    return events


def rollback_event(stage: str | None, hosts: list[str], findings: list[str]) -> Event:
    message = f"IPv6 rollback of stage {stage or 'all'}: {len(hosts)} routers and hosts IPv4-only"
    if findings:
        message = f"IPv6 rollback of stage {stage or 'all'} incomplete: {'; '.join(findings)}"
    return _summary(utcnow(), ACTIONS["rollback"], message[:1000], not findings, None, stage=stage)


def _summary(
    now: datetime,
    action: str,
    message: str,
    ok: bool,
    batch: BatchResult | None,
    duration_s: float = 0.0,
    stage: str | None = None,
) -> Event:
    labels = [("duration_s", f"{duration_s:.1f}")]
    if batch is not None:
        labels.append(("batch", str(batch.index)))
    return Event(
        timestamp=now,
        dataset=DATASET,
        action=action,
        message=message[:1000],
        kind="event",
        category=("configuration", "network"),
        type=("change",),
        severity=SEVERITY_INFO if ok else SEVERITY_HIGH,
        outcome="success" if ok else "failure",
        context=Context(level=batch.stage if batch else stage),
        labels=tuple(labels),
    )
