"""`yunwang warnings`, `events search`, `posture`, `audit`: output, actions and exit codes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sec_helpers import make_event
from typer.testing import CliRunner

from security.audit import AuditTrail
from security.events import Endpoint, utcnow
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore
from yunwang.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def now(seconds: float = 0, **kw: str):  # type: ignore[no-untyped-def]
    return replace(
        make_event(0, **kw), timestamp=utcnow() - timedelta(minutes=5) + timedelta(seconds=seconds)
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    db = tmp_path / "events.db"
    pipeline = Pipeline(SqliteStore(db))
    pipeline.submit(
        [
            now(
                0,
                pair="hl",
                node="hl",
                level="county",
                state="isolated",
                county="hl",
                message="county hl isolated: both links down",
            ),
            now(
                1,
                pair="qf-cgz",
                node="qf-cgz",
                level="township",
                state="failover",
                county="qf",
                message="township qf-cgz on backup link",
            ),
            replace(
                now(
                    2,
                    dataset="yunwang.hardening",
                    action="control-checked",
                    tenant="gaj",
                    zone="gov-extranet",
                    system="jwzh",
                    label_mlps_level="3",
                    message="sshd permits root login on jw-app-1",
                ),
                outcome="failure",
                rule_id="ssh-root-login",
                observer=Endpoint(name="jw-app-1"),
            ),
        ]
    )
    pipeline.close()
    return f"sqlite:///{db}"


def _ids(store_url: str) -> dict[str, str]:
    result = runner.invoke(app, ["warnings", "--store", store_url, "--json"])
    assert result.exit_code == 0, result.output
    return {w["rule_id"]: w["id"] for w in json.loads(result.stdout)}


def test_warnings_lists_most_severe_first(store_url: str) -> None:
    result = runner.invoke(app, ["warnings", "--store", store_url])
    assert result.exit_code == 0
    assert "Early warnings (3)" in result.stdout
    summary = r"red 1 \(oldest [45]m\d+s\)  orange 0  yellow 2 \(oldest [45]m\d+s\)  blue 0"
    assert re.search(summary, result.stdout)
    listed = json.loads(runner.invoke(app, ["warnings", "--store", store_url, "--json"]).stdout)
    assert [w["level"] for w in listed] == ["red", "yellow", "yellow"]
    red = runner.invoke(app, ["warnings", "--store", store_url, "--level", "red", "--json"])
    assert [w["rule_id"] for w in json.loads(red.stdout)] == ["YW-LINK-002"]


def test_ack_then_resolve_is_recorded_and_audited(store_url: str) -> None:
    wid = _ids(store_url)["YW-LINK-002"]
    acked = runner.invoke(app, ["warnings", "--store", store_url, "--ack", wid, "-m", "ticket 7"])
    assert acked.exit_code == 0 and f"{wid} acknowledged by tester" in acked.stdout
    again = runner.invoke(app, ["warnings", "--store", store_url, "--ack", wid])
    assert again.exit_code == 1 and "only open warnings" in again.stderr
    listed = json.loads(
        runner.invoke(
            app, ["warnings", "--store", store_url, "--status", "acknowledged", "--json"]
        ).stdout
    )
    assert [(w["id"], w["ack_by"], w["ack_comment"]) for w in listed] == [
        (wid, "tester", "ticket 7")
    ]
    done = runner.invoke(
        app, ["warnings", "--store", store_url, "--resolve", wid, "-m", "fibre spliced"]
    )
    assert done.exit_code == 0
    assert wid not in _ids(store_url).values()
    actions = [(r.action, r.target, r.outcome) for r in AuditTrail().records()]
    assert actions == [
        ("warning.acknowledge", wid, "success"),
        ("warning.acknowledge", wid, "failure"),
        ("warning.resolve", wid, "success"),
    ]


def test_warnings_bad_input_is_one_line(store_url: str) -> None:
    bad = runner.invoke(app, ["warnings", "--store", store_url, "--level", "purple"])
    assert bad.exit_code == 2 and "--level: expected one of red, orange, yellow, blue" in bad.stderr
    missing = runner.invoke(app, ["warnings", "--store", store_url, "--ack", "Wnothing"])
    assert missing.exit_code == 1 and missing.stderr.strip() == "no warning with id Wnothing"
    store = runner.invoke(app, ["warnings", "--store", "ftp://x"])
    assert store.exit_code == 1 and len(store.stderr.strip().splitlines()) == 1


def test_events_search(store_url: str) -> None:
    result = runner.invoke(app, ["events", "search", "links down", "--store", store_url, "--json"])
    assert result.exit_code == 0
    [doc] = json.loads(result.stdout)
    assert doc["yunwang"]["county"] == "hl" and doc["event"]["dataset"] == "yunwang.links"
    table = runner.invoke(
        app, ["events", "search", "root login", "--store", store_url, "--since", "1h"]
    )
    assert table.exit_code == 0 and "jw-app-1" in table.stdout
    bad = runner.invoke(
        app, ["events", "search", "x", "--store", store_url, "--since", "yesterday"]
    )
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_posture_over_the_estate_and_explain(store_url: str) -> None:
    small = str(ROOT / "examples" / "small.yaml")
    result = runner.invoke(app, ["posture", "--store", store_url, "--estate", small, "--json"])
    assert result.exit_code == 0, result.output
    scores = {(s["scope"], s["name"]): s["score"] for s in json.loads(result.stdout)}
    assert scores[("county", "hl")] < scores[("county", "qf")] < 100
    assert scores[("tenant", "rsj")] == 100.0  # quiet tenants are listed too
    assert ("zone", "management") in scores and ("city", "濮阳市") in scores
    explained = runner.invoke(app, ["posture", "--store", store_url, "--explain", "gaj", "--json"])
    doc = json.loads(explained.stdout)
    assert doc["scope"] == "tenant" and doc["deductions"][0]["subject"] == "jw-app-1 ssh-root-login"
    assert 100 - doc["score"] == pytest.approx(
        sum(d["points"] for d in doc["deductions"]), abs=0.05
    )
    table = runner.invoke(app, ["posture", "--store", store_url, "--explain", "hl"])
    assert table.exit_code == 0 and "What takes the score down" in table.stdout
    unknown = runner.invoke(app, ["posture", "--store", store_url, "--explain", "nobody"])
    assert (
        unknown.exit_code == 1
        and "no tenant, county, zone, system or host named 'nobody'" in unknown.stderr
    )


def test_audit_verify_and_show(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for i in range(3):
        trail.append("lab.up", f"small-{i}.yaml", detail={"n": i}, actor="ops")
    ok = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert ok.exit_code == 0 and "intact, 3 records" in ok.stdout
    shown = runner.invoke(
        app, ["audit", "show", "--file", str(trail.path), "--last", "2", "--json"]
    )
    assert [r["target"] for r in json.loads(shown.stdout)] == ["small-1.yaml", "small-2.yaml"]
    lines = trail.path.read_text().splitlines()
    trail.path.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n")  # reorder
    bad = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert bad.exit_code == 1 and "removed or reordered" in bad.stderr
    lines[1] = lines[1].replace("small-1", "small-X")  # edit
    trail.path.write_text("\n".join(lines) + "\n")
    edited = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert edited.exit_code == 1 and "edited" in edited.stderr
    missing = runner.invoke(app, ["audit", "verify", "--file", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and "no audit trail here" in missing.stderr
