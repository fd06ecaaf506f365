"""Drill records, status folding and the YW-DR-001 producers, without a lab."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dr.backup import forget_args
from dr.checks import BACKUP_FINISHED, fold, overdue
from dr.lag import LagWatch, watched_from
from dr.pair import DrError
from dr.record import DrillRecord
from estate.model import DrClass, Estate, System
from lab.errors import LabError
from lab.lab import load_estate
from security.engine import WarningBook
from security.events import Context, Event
from security.posture import PostureInputs, score
from security.rulebook import load_rules
from tests.dr.conftest import SMALL

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _gold(estate: Estate) -> tuple[System, DrClass]:
    system = next(s for s in estate.replicated_systems() if s.dr_class == "gold")
    return system, estate.dr.classes["gold"]


def test_a_drill_within_class_passes_and_a_miss_says_which_objective() -> None:
    system, gold = _gold(load_estate(SMALL))
    good = DrillRecord.begin(system, gold, "failover", "ops", NOW)
    good.achieved_rpo_s, good.achieved_rto_s = 0.2, 4.1
    good.judge()
    assert good.passed and good.reason == "within class"
    slow = DrillRecord.begin(system, gold, "failover", "ops", NOW)
    slow.achieved_rpo_s, slow.achieved_rto_s = 0.2, gold.rto_s + 1
    slow.judge()
    assert not slow.passed and slow.reason.startswith("RTO ")
    event = slow.to_event()
    assert (event.dataset, event.action, event.outcome) == (
        "yunwang.dr",
        "drill-finished",
        "failure",
    )
    assert dict(event.labels)["achieved_rto_s"] == f"{gold.rto_s + 1:.3f}"


def test_a_failed_step_fails_the_drill_with_its_reason() -> None:
    system, gold = _gold(load_estate(SMALL))
    record = DrillRecord.begin(system, gold, "restore", "ops", NOW)
    record.reason = "restic: ciphertext verification failed"
    record.judge()
    assert not record.passed and "ciphertext" in record.to_event().message


def test_overdue_drill_and_backup_raise_dr_001_and_fresh_ones_do_not() -> None:
    estate = load_estate(SMALL)
    system, gold = _gold(estate)
    drill = DrillRecord.begin(system, gold, "failover", "ops", NOW - timedelta(days=1))
    drill.achieved_rpo_s, drill.achieved_rto_s = 0.0, 3.0
    drill.judge()
    backup = Event(
        timestamp=NOW - timedelta(seconds=60),
        dataset="yunwang.dr",
        action=BACKUP_FINISHED,
        message="backup",
        outcome="success",
        context=Context(tenant=system.tenant, system=system.code),
    )
    statuses = fold(estate, [drill.to_event(), backup])
    fresh = [e for e in overdue(estate, statuses, NOW) if e.context.system == system.code]
    assert fresh == []
    later = NOW + timedelta(seconds=gold.rpo_s + 1)
    stale = [e for e in overdue(estate, statuses, later) if e.context.system == system.code]
    assert [e.message.split(": ", 1)[1][:13] for e in stale] == ["latest backup"]
    never = [e for e in overdue(estate, fold(estate, []), NOW) if e.context.system == system.code]
    assert len(never) == 2  # no drill, no backup
    book = WarningBook(load_rules())
    raised = [c.warning for e in stale for c in book.observe(e)]
    assert [w.rule_id for w in raised] == ["YW-DR-001"]


def test_status_row_shows_class_backup_age_and_last_drill() -> None:
    estate = load_estate(SMALL)
    system, gold = _gold(estate)
    drill = DrillRecord.begin(system, gold, "restore", "ops", NOW)
    drill.achieved_rpo_s, drill.achieved_rto_s = 10.0, 2.0
    drill.judge()
    row = next(s.row(NOW) for s in fold(estate, [drill.to_event()]) if s.system.code == system.code)
    assert row["class"] == "gold" and row["last_backup_age_s"] is None
    assert row["last_drill"]["passed"] is True and row["last_drill"]["kind"] == "restore"


def test_posture_dr_component_comes_from_the_last_drill() -> None:
    system, gold = _gold(load_estate(SMALL))
    drill = DrillRecord.begin(system, gold, "failover", "ops", NOW)
    drill.achieved_rpo_s, drill.achieved_rto_s = 0.0, 3.0
    drill.judge()
    inputs = PostureInputs().observe_all([drill.to_event()])
    assert score(inputs, [], "tenant", system.tenant, NOW).components["dr"] == 100.0
    much_later = NOW + timedelta(seconds=gold.rpo_s * 10)
    assert score(inputs, [], "tenant", system.tenant, much_later).components["dr"] == 0.0


class _Unreachable:
    """Hosts whose ssh goes to a closed port on loopback: a standby that cannot be asked."""

    def __init__(self, port: int) -> None:
        self.port = port

    def ssh_argv(self, host: str, *, user: str = "root", family: int = 4) -> list[str]:
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-p", str(self.port),
                f"{user}@127.0.0.1"]  # fmt: skip

    def ansible_inventory(self, *, family: int = 4, user: str = "yunwang") -> dict[str, Any]:
        return {"all": {"hosts": {}}}


def test_lag_of_a_standby_that_cannot_be_asked_is_infinite_and_exceeds() -> None:
    estate = load_estate(SMALL)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sunk: list[Event] = []
    watch = LagWatch(_Unreachable(port), watched_from(estate, ["gaj/jwzh=dr-h1"]), sunk.append)
    [event] = watch.check()
    assert (event.action, event.outcome) == ("rpo-exceeded", "failure") and sunk == [event]
    assert dict(event.labels)["lag_s"] == "unknown" and "standby not answering" in event.message
    registry = CollectorRegistry()
    registry.register(watch)
    text = generate_latest(registry).decode()
    labels = 'dr_class="gold",standby="dr-h1",system="jwzh",tenant="gaj"'
    assert f"yunwang_dr_replication_lag_seconds{{{labels}}} +Inf" in text
    assert f"yunwang_dr_rpo_exceeded{{{labels}}} 1.0" in text
    assert [c.warning.rule_id for c in WarningBook(load_rules()).observe(event)] == ["YW-DR-001"]


def test_dr_standby_items_are_checked_in_one_line() -> None:
    estate = load_estate(SMALL)
    [watched] = watched_from(estate, ["rsj/sbjb=dr-h2"])
    assert (watched.system.code, watched.dr.name, watched.standby) == ("sbjb", "gold", "dr-h2")
    for item, expected in (
        ("gaj/jwzh", "expected TENANT/SYSTEM=HOST"),
        ("gaj/jwzh=", "expected TENANT/SYSTEM=HOST"),
        ("gaj/nope=h", "no replicated system 'gaj/nope'"),
    ):
        with pytest.raises(DrError, match=expected):
            watched_from(estate, [item])


def test_retention_comes_from_the_estate_as_restic_keep_options(tmp_path: Path) -> None:
    gold = load_estate(SMALL).dr.classes["gold"]
    assert forget_args(gold.retention) == "--keep-daily 7 --keep-weekly 4 --keep-monthly 6"
    assert forget_args(load_estate(SMALL).dr.classes["silver"].retention) == ""  # all kept
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text().replace("retention: {daily: 7", "retention: {daily: -7"))
    with pytest.raises(LabError, match=r"dr\.classes\.gold\.retention\.daily"):
        load_estate(bad)
