"""Both drills end to end on real PostgreSQL 15 and restic in lab hosts.

The system's host in the city cloud is the primary; a township host stands
in for the DR centre (standby and restic repository), another is the
scratch host a restore lands on.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dr.backup import ResticLine, restore_drill
from dr.checks import replica_check
from dr.failover import failover_drill
from dr.pair import RESTIC_REF, DrPair, psql, resolve, secrets, ssh
from dr.record import DrillRecord
from estate.model import DrClass, System
from lab.lab import load_estate
from security.engine import WarningBook
from security.rulebook import load_rules
from security.store import open_store
from tests.dr.conftest import DR_TEST_SECRETS, SMALL

pytestmark = pytest.mark.lab


def _system(lab: Any) -> tuple[System, DrClass]:
    tenant, code = str(lab.hosts[0].system).split("/")
    estate = load_estate(SMALL)
    system = next(s for s in estate.systems(tenant) if s.code == code)
    return system, estate.dr.classes[str(system.dr_class)]


@pytest.fixture(scope="module")
def pair(lab: Any) -> Iterator[DrPair]:
    dr_pair = DrPair(
        lab, lab.hosts[0].name, lab.hosts[1].name, secrets(DR_TEST_SECRETS), sync=False
    )
    dr_pair.setup()
    yield dr_pair
    for host in (dr_pair.primary, dr_pair.standby):
        ssh(lab, host, "pg_ctlcluster 15 main stop -m immediate || true")
    dr_pair.close()


def _record(lab: Any, kind: str) -> DrillRecord:
    system, dr = _system(lab)
    return DrillRecord.begin(system, dr, kind, "pytest", datetime.now(UTC))  # type: ignore[arg-type]


def test_replication_is_tls_only_and_limited_to_the_peer(lab: Any, pair: DrPair) -> None:
    ssl = psql(
        lab, pair.primary, "SELECT ssl FROM pg_stat_ssl JOIN pg_stat_replication USING (pid)"
    )
    assert ssl == "t"
    hba = ssh(lab, pair.primary, "cat /etc/postgresql/15/main/pg_hba.conf")
    assert f"replication     replicator   {pair.address(pair.standby)}/32" in hba
    # A host that is not the peer is refused before any password is asked.
    other = lab.hosts[2].name
    refused = ssh(
        lab,
        other,
        f"psql 'host={pair.address(pair.primary)} user=replicator dbname=replication "
        f"sslmode=require connect_timeout=3' -c 'SELECT 1' 2>&1 || true",
    )
    assert "no pg_hba.conf entry" in refused


def test_failover_drill_twice_within_class(lab: Any, pair: DrPair) -> None:
    first_primary = pair.primary
    for direction in ("there", "back"):
        record = failover_drill(pair, _record(lab, "failover"), rate=100)
        assert record.passed, f"{direction}: {record.reason}"
        assert record.achieved_rto_s is not None and record.achieved_rto_s < 30
        assert record.achieved_rpo_s is not None and record.achieved_rpo_s < 1.0
        assert int(record.facts["rows_acked"]) > 150  # ~2 s at 100/s before the cut
        assert pair.in_recovery(pair.standby) and not pair.in_recovery(pair.primary)
        event = record.to_event()
        assert event.outcome == "success" and event.action == "drill-finished"
    assert pair.primary == first_primary  # two drills: there and back


def test_a_stopped_standby_raises_dr_001_from_its_lag(lab: Any, pair: DrPair) -> None:
    system, dr = _system(lab)
    now = datetime.now(UTC)
    healthy = replica_check(lab, pair.standby, system, dr, now)
    assert healthy.action == "replica-checked", healthy.message
    assert float(dict(healthy.labels)["lag_s"]) <= dr.rpo_s
    pair.stop(pair.standby)
    try:
        broken = replica_check(lab, pair.standby, system, dr, now)
    finally:
        pair.start(pair.standby)
    assert broken.action == "rpo-exceeded" and broken.outcome == "failure"
    assert dict(broken.labels)["lag_s"] == "unknown"
    changes = WarningBook(load_rules()).observe(broken)
    assert [c.warning.rule_id for c in changes] == ["YW-DR-001"]
    assert changes[0].warning.level == "orange"  # an MLPS level-3 system
    pair.wait_streaming()


def test_restore_drill_verifies_and_a_corrupted_repository_fails(lab: Any, pair: DrPair) -> None:
    system, _ = _system(lab)
    line = ResticLine(
        lab, pair.standby, f"{system.tenant}/{system.code}", resolve(RESTIC_REF, DR_TEST_SECRETS)
    )
    psql(
        lab,
        pair.primary,
        "INSERT INTO drill_rows SELECT g, extract(epoch FROM now()) "
        "FROM generate_series(1000001, 1000500) g ON CONFLICT DO NOTHING",
    )
    facts = line.backup(pair.primary, ("/etc/postgresql",))
    assert int(facts["rows"]) >= 500
    scratch = lab.hosts[2].name
    good = restore_drill(line, scratch, _record(lab, "restore"))
    assert good.passed, good.reason
    assert good.achieved_rpo_s is not None and 0 <= good.achieved_rpo_s < 120
    assert good.achieved_rto_s is not None and not math.isinf(good.achieved_rto_s)

    # Flip bytes inside every data pack: restic's blob hashes must catch it.
    ssh(
        lab,
        pair.standby,
        f"for f in $(find {line.path}/data -type f); do "
        "printf 'yunwang-corruption' | dd of=$f bs=1 seek=200 conv=notrunc status=none; done",
    )
    bad = restore_drill(line, scratch, _record(lab, "restore"))
    assert not bad.passed
    assert "restic restore" in bad.reason and "error" in bad.reason.lower()
    assert bad.to_event().outcome == "failure"


def test_the_restore_drill_verb_records_to_store_and_audit(
    lab: Any, pair: DrPair, tmp_path: Path
) -> None:
    system, _ = _system(lab)
    # The test before corrupted this system's repository on purpose: start a new one.
    ssh(lab, pair.standby, "rm -rf /srv/restic/gaj-jwzh")
    url = f"sqlite:///{tmp_path / 'events.db'}"
    env = {
        **os.environ,
        **DR_TEST_SECRETS,
        "YUNWANG_HOME": str(tmp_path),
        "YUNWANG_ACTOR": "drill-lead",
    }
    done = subprocess.run(
        [
            sys.executable, "-m", "yunwang", "dr", "drill", str(SMALL), "gaj/jwzh",
            "--kind", "restore", "--lab-dir", str(lab.directory), "--primary", pair.primary,
            "--standby", pair.standby, "--scratch", lab.hosts[2].name,
            "--path", "/etc/postgresql", "--store", url, "--json",
        ],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["passed"] and body["actor"] == "drill-lead" and body["kind"] == "restore"
    store = open_store(url)
    actions = sorted(e.action for e in store.search(dataset="yunwang.dr"))
    store.close()
    assert actions == ["backup-finished", "drill-finished"]
    trail = (tmp_path / "audit.jsonl").read_text()
    assert '"dr.drill.restore"' in trail and system.code in trail
