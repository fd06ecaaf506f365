"""`yunwang dr` as a user runs it: status from the store, one line on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from dr.lag import declared_watched
from dr.record import DrillRecord
from lab.lab import load_estate
from security.store import open_store
from tests.dr.conftest import SMALL


def _yunwang(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YUNWANG_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "yunwang", *args], capture_output=True, text=True, env=env
    )


def test_status_shows_the_last_drill_and_reports_overdue_ones(tmp_path: Path) -> None:
    estate = load_estate(SMALL)
    system = next(s for s in estate.replicated_systems() if s.code == "jwzh")
    gold = estate.dr.classes["gold"]
    record = DrillRecord.begin(system, gold, "failover", "ops", datetime.now(UTC))
    record.achieved_rpo_s, record.achieved_rto_s = 0.0, 2.5
    record.judge()
    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = open_store(url)
    store.put_events([record.to_event()])
    store.flush()
    store.close()
    done = _yunwang("dr", "status", str(SMALL), "--store", url, "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    jwzh = next(r for r in body["systems"] if r["system"] == "gaj/jwzh")
    assert jwzh["last_drill"]["passed"] is True and jwzh["class"] == "gold"
    # jwzh has a fresh drill but no backup; the others have neither.
    assert "gaj/jwzh: latest backup none, RPO 300 s" in body["overdue"]
    assert not any(m.startswith("gaj/jwzh: no successful drill") for m in body["overdue"])
    store = open_store(url)
    raised = store.find_warnings(rule_id="YW-DR-001")
    store.close()
    # One YW-DR-001 warning per system (deduplicated by tenant and system).
    assert len(raised) == len(estate.replicated_systems())


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    for args, expected in (
        (("--kind", "boom", "--standby", "h"), "--kind 'boom': expected failover or restore"),
        (("--kind", "failover", "--standby", "h"), "pass --lab or --lab-dir"),
    ):
        done = _yunwang("dr", "drill", str(SMALL), "gaj/jwzh", *args, home=tmp_path)
        assert done.returncode == 2 and expected in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    done = _yunwang(
        "dr", "check", str(SMALL), "gaj/jwzh", "--standby", "h", "--lab-dir", str(tmp_path),
        home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("--lab: no lab is up")
    done = _yunwang(
        "dr", "drill", str(SMALL), "gaj/none", "--kind", "restore", "--standby", "h", home=tmp_path
    )
    assert done.returncode == 2 and "no system 'gaj/none'" in done.stderr


def test_collect_dr_standby_bad_input_is_one_line(tmp_path: Path) -> None:
    for args, expected in (
        (("--dr-standby", "gaj/jwzh=h"), "--dr-standby: only lab hosts are reachable"),
        (("--lab-dir", str(tmp_path), "--dr-standby", "gaj/jwzh"), "expected TENANT/SYSTEM=HOST"),
        (("--lab-dir", str(tmp_path), "--dr-standby", "gaj/none=h"), "no replicated system"),
    ):
        done = _yunwang("collect", str(SMALL), *args, home=tmp_path)
        assert done.returncode == 1 and expected in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_system_without_a_declared_standby_needs_the_flag(tmp_path: Path) -> None:
    done = _yunwang(
        "dr", "check", str(SMALL), "gaj/portal", "--lab-dir", str(tmp_path), home=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "system gaj/portal declares no dr.standby; pass --standby HOST" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_collect_watches_the_estate_declared_standbys_of_the_lab_only() -> None:
    estate = load_estate(SMALL)
    (watched,) = declared_watched(estate, {"dr-h1", "dr-h2", "h-other"})
    assert (watched.system.code, watched.dr.name, watched.standby) == ("jwzh", "gold", "dr-h1")
    assert declared_watched(estate, {"dr-h2"}) == []  # not in this slice: not read
