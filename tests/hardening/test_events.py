"""From a hardening report to the store, warnings and the posture score
(the real pipeline, rules and SQLite store; the report is what a run returns)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from estate import load
from playbooks.hardening import ControlResult, HostOutcome, Report, latest_outcomes, to_events
from playbooks.inventory import InventoryError, Policy, estate_targets, load_policy, policy_vars
from security.context import EstateContext
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore
from yunwang.cli import app

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))


def _report(status: str) -> Report:
    return Report(
        "check",
        results=[
            ControlResult("jwzh-app-1", "YW-C-AC-007", status, "/etc/passwd: 666 root root"),  # type: ignore[arg-type]
            ControlResult("jwzh-app-1", "YW-C-AC-001", "pass", "sshd permitrootlogin = no"),
            ControlResult("gaj-web-1", "YW-C-AC-007", status, "/etc/passwd: 666 root root"),  # type: ignore[arg-type]
        ],
        hosts={"jwzh-app-1": HostOutcome(), "gaj-web-1": HostOutcome()},
    )


def test_targets_follow_the_estate() -> None:
    targets = estate_targets(load(SMALL), Policy())
    jwzh, web = targets.hosts["jwzh-app-1"], targets.hosts["gaj-web-1"]
    assert (jwzh.level, jwzh.zone, jwzh.tenant, jwzh.system) == (3, "gov-extranet", "gaj", "jwzh")
    assert web.level == 2
    ssh = [
        a
        for a in jwzh.host_vars["mlps_firewall_allow"]
        if a["proto"] == "tcp" and a["ports"] == "22" and a["reason"].startswith("management")
    ]
    assert ssh and all(":" in s or s.startswith("10.35.") for s in ssh[0]["sources"])
    soc = str(load(SMALL).systems(zone="management")[0].hosts[0].address4)
    assert targets.common["mlps_log_collector"]["host"] == soc
    assert targets.common["mlps_ntp_servers"] == [soc]
    assert set(targets.select(["gaj"])) == {
        "jwzh-app-1",
        "jwzh-app-2",
        "jwzh-db",
        "gaj-web-1",
        "gaj-web-2",
    }
    assert targets.select(["gaj/portal"]) == ["gaj-web-1", "gaj-web-2"]
    with pytest.raises(InventoryError, match="--limit nowhere: no host, system or tenant"):
        targets.select(["nowhere"])


def test_policy_secrets_are_references_only(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("become_password: hunter2\n")
    with pytest.raises(InventoryError) as caught:
        load_policy(policy)
    assert "become_password" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Found by fuzzing `harden --policy`: a typo or a nonsense value was
        # silently applied, or bad bytes were a traceback.
        ("password: {max_dayz: 90}\n", "password.max_dayz: Extra inputs are not permitted"),
        ("password: {max_days: -5}\n", "password.max_days: Input should be greater than"),
        ("password: {min_length: 0}\n", "password.min_length: Input should be greater than"),
        ("lockout: {deny: 100000}\n", "lockout.deny: Input should be less than"),
        ("password: {max_days: 2001-02-30}\n", "not readable YAML (day is out of range"),
        ("password: {max_days: !!int abc}\n", "not readable YAML"),
    ],
)
def test_a_bad_hardening_policy_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    with pytest.raises(InventoryError, match=re.escape(message)) as caught:
        load_policy(policy)
    assert str(caught.value).startswith(f"{policy}: ") and "\n" not in str(caught.value)


def test_policy_values_reach_the_role_by_name(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("password: {max_days: 60, min_length: 14}\nlockout: {deny: 3}\n")
    values = policy_vars(load_policy(policy), "198.18.0.1")
    assert values["mlps_password_max_days"] == 60
    assert values["mlps_password_min_length"] == 14
    assert values["mlps_lockout_deny"] == 3
    assert "mlps_password_min_days" not in values  # unset: the role's default stands


def test_failure_raises_yw_host_001_and_lowers_compliance(tmp_path: Path) -> None:
    estate = load(SMALL)
    targets = estate_targets(estate, Policy())
    store = SqliteStore(tmp_path / "events.db")
    pipeline = Pipeline(store, enrich=EstateContext(estate).enrich, clock=lambda: NOW)
    pipeline.submit(to_events(_report("pass"), targets, now=NOW - timedelta(days=1)))
    assert pipeline.active_warnings() == []
    previous = latest_outcomes(store.iter_events(["yunwang.hardening"], NOW - timedelta(days=30)))
    assert previous[("jwzh-app-1", "YW-C-AC-007")] == "success"

    pipeline.submit(to_events(_report("fail"), targets, previous, now=NOW))
    warnings = {w.context.get("system"): w for w in pipeline.active_warnings()}
    level3, level2 = warnings["jwzh"], warnings["portal"]
    assert level3.rule_id == "YW-HOST-001"
    assert (
        level3.summary == "jwzh-app-1: YW-C-AC-007 (8.1.4.2 f) fails: /etc/passwd is 644 root:root"
    )
    assert (level3.level, level2.level) == ("orange", "yellow")  # drift on level 3 and level 2
    scores = {(s.kind, s.name): s for s in pipeline.scores(NOW)}
    compliance = scores[("tenant", "gaj")].components["compliance"]
    assert compliance is not None and compliance < 50
    pipeline.close()
    store.close()


def test_cli_refuses_an_unknown_control_in_one_line() -> None:
    result = CliRunner().invoke(app, ["harden", str(SMALL), "--control", "YW-C-XX-001"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "--control YW-C-XX-001: no such control (ids look like YW-C-AC-001)"
    ]


def test_limit_takes_a_tenants_name_as_the_screens_show_it() -> None:
    from yunwang.commands.harden import _tenant_code

    estate = load(SMALL)
    assert _tenant_code(estate, "市公安局") == "gaj"
    assert _tenant_code(estate, "gaj/portal") == "gaj/portal"  # a system passes through
    targets = estate_targets(estate, Policy())
    assert set(targets.select([_tenant_code(estate, "市公安局")])) == set(targets.select(["gaj"]))
