"""What YW-DR-001 watches between drills, and the table `dr status` shows.

- replication lag, read from the standby (`replica_check`): 0 while it
  streams and has replayed all it received, else the seconds since it last
  applied a transaction; a standby that cannot be asked has unknown lag,
  which counts as exceeded.
- the age of the newest backup and of the newest successful drill, folded
  from the `yunwang.dr` events in the store (`overdue`).
Each miss is a `rpo-exceeded` event with outcome failure; a good replica
check is `replica-checked` with outcome success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dr.pair import DrError, Hosts, psql
from estate.model import DrClass, Estate, System
from security.events import Context, Event

DATASET = "yunwang.dr"
RPO_EXCEEDED = "rpo-exceeded"
REPLICA_CHECKED = "replica-checked"
BACKUP_FINISHED = "backup-finished"
DRILL_FINISHED = "drill-finished"

LAG_SQL = (
    "SELECT CASE WHEN (SELECT status FROM pg_stat_wal_receiver) = 'streaming' "
    "AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity') END"
)


def read_lag(hosts: Hosts, standby: str) -> tuple[float, str]:
    """The standby's lag in seconds (inf when unknown) and why."""
    try:
        return float(psql(hosts, standby, LAG_SQL)), "read from the standby"
    except DrError as exc:
        return math.inf, f"standby not answering: {exc}"


def dr_event(
    system: System,
    dr: DrClass,
    now: datetime,
    action: str,
    message: str,
    *,
    ok: bool,
    **labels: str,
) -> Event:
    """Every `yunwang.dr` check event: the system's context and class labels,
    outcome success or failure (what YW-DR-001 and posture read)."""
    base = {"dr_class": dr.name, "rpo_s": f"{dr.rpo_s:g}", "mlps_level": str(system.mlps_level)}
    return Event(
        timestamp=now,
        dataset=DATASET,
        action=action,
        message=message,
        outcome="success" if ok else "failure",
        context=Context(tenant=system.tenant, system=system.code),
        labels=tuple(sorted({**base, **labels}.items())),
    )


def lag_event(
    system: System, dr: DrClass, standby: str, lag: float, why: str, now: datetime
) -> Event:
    shown = "unknown" if math.isinf(lag) else f"{lag:.3f}"
    ok = lag <= dr.rpo_s
    verdict = "within" if ok else "exceeds"
    return dr_event(
        system,
        dr,
        now,
        REPLICA_CHECKED if ok else RPO_EXCEEDED,
        f"replication lag {shown} s {verdict} RPO {dr.rpo_s:g} s ({why})",
        ok=ok,
        lag_s=shown,
        standby=standby,
    )


def replica_check(hosts: Hosts, standby: str, system: System, dr: DrClass, now: datetime) -> Event:
    lag, why = read_lag(hosts, standby)
    return lag_event(system, dr, standby, lag, why, now)


def backup_finished(system: System, dr: DrClass, now: datetime, facts: dict[str, str]) -> Event:
    snapshot = facts.get("snapshot", "?")
    message = f"backup of {system.ref}: snapshot {snapshot}"
    return dr_event(system, dr, now, BACKUP_FINISHED, message, ok=True, **facts)


@dataclass
class SystemStatus:
    system: System
    dr: DrClass
    lag_s: str | None = None
    last_backup: datetime | None = None
    last_drill: Event | None = None
    last_good_drill: datetime | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        drill = self.last_drill
        return {
            "system": self.system.ref,
            "class": self.dr.name,
            "method": self.dr.method,
            "rpo_s": self.dr.rpo_s,
            "rto_s": self.dr.rto_s,
            "replication_lag_s": self.lag_s,
            "last_backup_age_s": _age(self.last_backup, now),
            "last_drill": None
            if drill is None
            else {
                "at": drill.timestamp.isoformat(),
                "kind": dict(drill.labels).get("kind"),
                "passed": drill.outcome == "success",
                "message": drill.message,
            },
        }


def _age(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds(), 3)


def fold(estate: Estate, events: list[Event]) -> list[SystemStatus]:
    """Each replicated system's latest DR facts from `events` (oldest first)."""
    found: dict[tuple[str, str], SystemStatus] = {}
    for system in estate.replicated_systems():
        dr = estate.dr.classes[str(system.dr_class)]
        found[(system.tenant, system.code)] = SystemStatus(system, dr)
    for event in events:
        status = found.get((event.context.tenant or "", event.context.system or ""))
        if status is None or event.dataset != DATASET:
            continue
        if event.action in (REPLICA_CHECKED, RPO_EXCEEDED) and "lag_s" in dict(event.labels):
            status.lag_s = dict(event.labels)["lag_s"]
        elif event.action == BACKUP_FINISHED and event.outcome == "success":
            status.last_backup = event.timestamp
        elif event.action == DRILL_FINISHED:
            status.last_drill = event
            if event.outcome == "success":
                status.last_good_drill = event.timestamp
    return list(found.values())


def overdue(estate: Estate, statuses: list[SystemStatus], now: datetime) -> list[Event]:
    """`rpo-exceeded` for every system whose newest successful drill is older
    than the estate's drill_interval, or whose newest backup is older than its RPO."""
    interval = estate.dr.drill_interval_s
    found = []
    for s in statuses:
        problems = []
        drill_age = _age(s.last_good_drill, now)
        if drill_age is None or drill_age > interval:
            problems.append(f"no successful drill in the last {interval:g} s")
        backup_age = _age(s.last_backup, now)
        if backup_age is None or backup_age > s.dr.rpo_s:
            shown = "none" if backup_age is None else f"{backup_age:.0f} s old"
            problems.append(f"latest backup {shown}, RPO {s.dr.rpo_s:g} s")
        name = s.system.ref
        found += [
            dr_event(s.system, s.dr, now, RPO_EXCEEDED, f"{name}: {problem}", ok=False)
            for problem in problems
        ]
    return found
