"""Both drills end to end on real PostgreSQL 15 and restic in lab hosts.

The system's host in the city cloud is the primary; the standby and the
restic repository are in the lab's DR centre, across the `dr/replication`
line, and restores land on another DR-centre host (tests/dr/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dr.backup import ResticLine, restore_drill
from dr.checks import replica_check
from dr.failover import failover_drill
from dr.lag import LagWatch, Watched
from dr.pair import RESTIC_REF, DrPair, psql, resolve, secrets, ssh
from dr.record import DrillRecord
from estate.model import DrClass, System
from lab.drsite import LINK
from lab.lab import load_estate
from lab.testing import TEST_SECRETS
from security.engine import WarningBook
from security.rulebook import load_rules
from security.store import open_store
from tests.dr.conftest import DR_TEST_SECRETS, SCRATCH, SMALL, STANDBY
from tests.snmp.agents import free_udp_port

pytestmark = pytest.mark.lab


def _system(lab: Any) -> tuple[System, DrClass]:
    tenant, code = str(lab.hosts[0].system).split("/")
    estate = load_estate(SMALL)
    system = next(s for s in estate.systems(tenant) if s.code == code)
    return system, estate.dr.classes[str(system.dr_class)]


@pytest.fixture(scope="module")
def pair(lab: Any) -> Iterator[DrPair]:
    dr_pair = DrPair(lab, lab.hosts[0].name, STANDBY, secrets(DR_TEST_SECRETS), sync=False)
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
    other = lab.hosts[1].name  # a township host
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


def test_retention_from_the_estate_forgets_and_prunes(lab: Any, pair: DrPair) -> None:
    _, gold = _system(lab)
    assert dict(gold.retention) == {"daily": 7, "weekly": 4, "monthly": 6}  # examples/small.yaml
    line = ResticLine(lab, STANDBY, "retention/test", resolve(RESTIC_REF, DR_TEST_SECRETS))
    ssh(lab, STANDBY, f"rm -rf {line.path}")
    snapshots = [line.backup(pair.primary)["snapshot"] for _ in range(2)]
    assert line.forget(pair.primary, ()) == {"kept": 2, "removed": 0}  # none declared: all kept
    # Two snapshots of one day: keep-daily keeps that day's newest only.
    assert line.forget(pair.primary, gold.retention) == {"kept": 1, "removed": 1}
    left = json.loads(line.restic(pair.primary, "snapshots --json"))
    assert [s["short_id"] for s in left] == snapshots[-1:]
    line.restic(pair.primary, "check")  # the pruned repository is whole
    ssh(lab, STANDBY, f"rm -rf {line.path}")


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
    good = restore_drill(line, SCRATCH, _record(lab, "restore"))
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
    bad = restore_drill(line, SCRATCH, _record(lab, "restore"))
    assert not bad.passed
    assert "restic restore" in bad.reason and "error" in bad.reason.lower()
    assert bad.to_event().outcome == "failure"


def test_the_backup_and_restore_drill_verbs_record_to_store_and_audit(
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
    # No --standby, no --path: the estate declares both for gaj/jwzh
    # (examples/small.yaml: dr: {standby: dr-h1, backup_paths: [/etc/postgresql]}).
    assert pair.standby == system.dr.standby == STANDBY
    where = ["--lab-dir", str(lab.directory), "--primary", pair.primary]
    done = subprocess.run(
        [sys.executable, "-m", "yunwang", "dr", "backup", str(SMALL), "gaj/jwzh", *where,
         "--store", url, "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["labels"]["snapshots_kept"] == "1"
    done = subprocess.run(
        [sys.executable, "-m", "yunwang", "dr", "drill", str(SMALL), "gaj/jwzh", "--kind", "restore",
         *where, "--scratch", SCRATCH, "--store", url, "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["passed"] and body["actor"] == "drill-lead" and body["kind"] == "restore"
    store = open_store(url)
    store_events = list(store.search(dataset="yunwang.dr"))
    store.close()
    actions = sorted(e.action for e in store_events)
    assert actions == ["backup-finished", "backup-finished", "drill-finished"]
    drilled = next(e for e in store_events if e.action == "drill-finished")
    assert dict(drilled.labels)["repository"] == f"{STANDBY}:/srv/restic/gaj-jwzh"
    # Both snapshots are of today and of the same paths (restic groups by host
    # and paths): the class's keep-daily left the newest only.
    backups = [dict(e.labels) for e in store_events if e.action == "backup-finished"]
    assert sorted((b["snapshots_kept"], b["snapshots_removed"]) for b in backups) == [
        ("1", "0"),
        ("1", "1"),
    ]
    trail = (tmp_path / "audit.jsonl").read_text()
    assert '"dr.backup"' in trail and '"dr.drill.restore"' in trail and system.code in trail


def test_collect_exports_the_lag_to_metrics_and_the_store_dr_status_reads(
    lab: Any, pair: DrPair, tmp_path: Path
) -> None:
    """`yunwang collect --lab --store` as an operator runs it, in the NMS: the
    standby to read is the estate's (no --dr-standby), the readings reach the
    store and `yunwang dr status` shows the lag from there."""
    home = tmp_path / "home"
    store = f"sqlite:///{tmp_path / 'events.db'}"
    env = {**os.environ, **TEST_SECRETS, "YUNWANG_HOME": str(home)}
    env.pop("YUNWANG_STORE", None)
    port = free_udp_port()  # a free number; TCP on the NMS's loopback is as free
    process = subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("nms"), str(Path(sys.executable).parent / "yunwang"),
         "collect", str(SMALL), "--lab-dir", str(lab.directory), "--port", str(port),
         "--store", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        body = ""
        deadline = time.monotonic() + 60
        while "yunwang_dr_replication_lag_seconds{" not in body and time.monotonic() < deadline:
            time.sleep(0.5)
            url = f"http://127.0.0.1:{port}/metrics"
            with (
                lab.entered("nms"),
                contextlib.suppress(OSError),
                urllib.request.urlopen(url, timeout=5) as got,
            ):
                body = got.read().decode()
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: the shipper sends its last batch
        _, stderr = process.communicate(timeout=60)
    labels = f'dr_class="gold",standby="{pair.standby}",system="jwzh",tenant="gaj"'
    assert f"yunwang_dr_replication_lag_seconds{{{labels}}} 0.0" in body, stderr[-1000:]
    assert f"yunwang_dr_rpo_seconds{{{labels}}} 300.0" in body
    assert f"yunwang_dr_rpo_exceeded{{{labels}}} 0.0" in body
    written = [json.loads(x) for x in (home / "events" / "dr.jsonl").read_text().splitlines()]
    assert written[0]["event"]["action"] == "replica-checked"
    status = subprocess.run(
        [sys.executable, "-m", "yunwang", "dr", "status", str(SMALL), "--store", store, "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    jwzh = next(r for r in json.loads(status.stdout)["systems"] if r["system"] == "gaj/jwzh")
    assert jwzh["replication_lag_s"] == "0.000", jwzh


def _scrape(watch: LagWatch, name: str) -> float:
    """One sample, as Prometheus would scrape it from the exporter."""
    registry = CollectorRegistry()
    registry.register(watch)
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def _lag(watch: LagWatch) -> tuple[float, Any]:
    event = watch.check()[0]
    shown = dict(event.labels)["lag_s"]
    return (math.inf if shown == "unknown" else float(shown)), event


def test_a_blackholed_line_grows_the_lag_and_a_drill_reports_the_rpo_breach(
    lab: Any, pair: DrPair
) -> None:
    """The replication line blackholed: the lag read from the standby (over
    the DR centre's management network) grows past the RPO, the metric and
    YW-DR-001 say so, a failover drill then reports the data it lost; once
    the line is restored the pair streams again and the lag is back within."""
    system, gold = _system(lab)
    tight = replace(gold, rpo_s=1.0)  # a class a few seconds of blackhole breaches
    sunk: list[Any] = []
    watch = LagWatch(lab, [Watched(system, tight, pair.standby)], sunk.append)
    assert _lag(watch)[0] <= tight.rpo_s
    assert _scrape(watch, "yunwang_dr_rpo_exceeded") == 0.0
    lab.blackhole(LINK)
    record = DrillRecord.begin(system, tight, "failover", "pytest", datetime.now(UTC))
    try:
        deadline = time.monotonic() + 30  # the standby's receiver gives up after 5 s
        lag, event = _lag(watch)
        while not tight.rpo_s < lag < math.inf and time.monotonic() < deadline:
            time.sleep(0.5)
            lag, event = _lag(watch)
        assert tight.rpo_s < lag < math.inf, event.message  # read, not guessed
        time.sleep(1.0)
        later, event = _lag(watch)
        assert later >= lag + 0.5  # it grows while the line is dark
        assert _scrape(watch, "yunwang_dr_replication_lag_seconds") == pytest.approx(
            later, abs=0.01
        )
        assert _scrape(watch, "yunwang_dr_rpo_exceeded") == 1.0
        changes = WarningBook(load_rules()).observe(event)
        assert [c.warning.rule_id for c in changes] == ["YW-DR-001"]
        assert sunk[-1] is event

        # A drill now: the writer is in the city cloud, beside the primary.
        drill = threading.Thread(
            target=failover_drill,
            args=(pair, record),
            kwargs={"client": pair.primary, "warmup_s": 3},
        )
        standby = pair.standby
        drill.start()
        deadline = time.monotonic() + 60
        while pair.in_recovery(standby) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        lab.restore(LINK, wait=True)  # the line back: the writer reaches the promoted side
    drill.join(timeout=180)
    assert not drill.is_alive()
    assert not record.passed and record.reason.startswith("RPO "), record.reason
    assert record.achieved_rpo_s is not None and record.achieved_rpo_s > 2.0
    assert int(record.facts["rows_lost"]) > 100  # 3 s at 100 commits/s never crossed
    assert record.facts["lag_at_cut_s"] not in ("0.000", "unknown")
    assert record.to_event().outcome == "failure"

    # Recovered: the drill rebuilt the old primary as the standby over the line.
    recovered = LagWatch(lab, [Watched(system, tight, pair.standby)], sunk.append)
    assert _lag(recovered)[0] <= tight.rpo_s
    assert _scrape(recovered, "yunwang_dr_rpo_exceeded") == 0.0
