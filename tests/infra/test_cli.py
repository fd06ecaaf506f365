"""`yunwang plan`: tables, --json, OLD NEW review, exit codes, audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yunwang.cli import app

runner = CliRunner()
NEW_SYSTEM = """      - {code: sbjb, name: 社保经办系统"""
EXTRA = """      - {code: ywzx, name: 业务专线, zone: exchange, mlps_level: 2, hosts: [{name: ywzx-1}]}
"""


def test_plan_prints_counts_and_invariants(small_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(small_path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "resources planned" in result.stdout
    for name in ("isolation-matrix", "dual-stack", "extranet-qos", "separation-of-duties"):
        assert name in result.stdout
    assert "FAIL" not in result.stdout


def test_plan_json_lists_every_resource(small_path: Path, yunwang_home: Path) -> None:
    result = runner.invoke(app, ["plan", str(small_path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    custom = [r for r in data["resources"] if r["custom"]]
    assert sum(c["count"] for c in data["counts"]) == len(custom)
    assert all(i["passed"] for i in data["invariants"])
    admin = next(r for r in data["resources"] if r["name"] == "admin")
    assert admin["inputs"]["password"] == "[secret]" and admin["secrets"] == ["password"]
    port = next(r for r in data["resources"] if r["name"] == "jwzh-db-port")
    assert port["inputs"]["fixedIps"][0]["ipAddress"] == "10.32.0.12"
    trail = (yunwang_home / "audit.jsonl").read_text().splitlines()
    last = json.loads(trail[-1])
    assert (last["action"], last["outcome"]) == ("infra.plan", "success")
    assert last["detail"]["resources"] == len(data["resources"])


def test_plan_old_new_shows_what_a_change_adds(small_path: Path, tmp_path: Path) -> None:
    text = small_path.read_text(encoding="utf-8")
    assert NEW_SYSTEM in text
    new = tmp_path / "new.yaml"
    new.write_text(text.replace(NEW_SYSTEM, EXTRA + NEW_SYSTEM), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(small_path), str(new), "--json"])
    assert result.exit_code == 0, result.output
    diff = json.loads(result.stdout)["diff"]
    added = {r["name"] for r in diff["added"]}
    assert {"ywzx-1", "ywzx-1-port", "rsj-exchange-net", "rsj-exchange-secgroup-share"} <= added
    assert diff["removed"] == []
    table = runner.invoke(app, ["plan", str(small_path), str(new)])
    assert table.exit_code == 0
    assert f"+{len(diff['added'])} -0" in table.stdout
    same = runner.invoke(app, ["plan", str(small_path), str(small_path)])
    assert "no changes" in same.stdout


def test_plain_password_in_stack_file_fails_the_plan(small_path: Path, tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(f"config:\n  yunwang:estate: {small_path}\n  yunwang:password: hunter2\n")
    result = runner.invoke(app, ["plan", str(small_path), "--stack", str(stack)])
    assert result.exit_code == 1
    assert "no-plain-secrets" in result.stdout and "FAIL" in result.stdout
    assert "hunter2" not in result.stdout


def test_bad_inputs_are_one_line_and_exit_1(tmp_path: Path, small_path: Path) -> None:
    missing = runner.invoke(app, ["plan", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "none.yaml" in missing.stderr
    assert "Traceback" not in missing.output
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("just a string\n")
    bad = runner.invoke(app, ["plan", str(small_path), "--stack", str(stack)])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == f"{stack}: expected a mapping under `config:`"
    wrong = tmp_path / "Pulumi.wrong.yaml"
    wrong.write_text("config:\n  yunwang:extranetTenants: [nobody]\n")
    failed = runner.invoke(app, ["plan", str(small_path), "--stack", str(wrong)])
    assert failed.exit_code == 1
    assert len(failed.stderr.strip().splitlines()) == 1 and "nobody" in failed.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # Found by fuzzing `plan --stack`: each planned silently with a default
        # or a wrong value, or failed naming the estate instead of the stack.
        ("yunwang:vlanStart: -5", "config.yunwang:vlanStart: expected a VLAN id 1-4094"),
        ("yunwang:vlanStart: 0", "expected a VLAN id 1-4094, found 0"),
        ("yunwang:vlanStart: abc", "expected a VLAN id 1-4094, found 'abc'"),
        ("yunwang:vlanStart: 4090", "run past 4094"),
        ("yunwang:replicationZone: nosuch", "config.yunwang:replicationZone: no zone 'nosuch'"),
        ("yunwang:vlanStrat: 1000", "config.yunwang:vlanStrat: unknown setting"),
        ("yunwang:extranetTenants: gaj", "expected a list of tenant codes"),
        ("when: 2001-02-30", "cannot read the stack file (ValueError"),
    ],
)
def test_a_stack_setting_the_program_cannot_use_is_one_line(
    tmp_path: Path, small_path: Path, config: str, message: str
) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(f"config:\n  {config}\n")
    result = runner.invoke(app, ["plan", str(small_path), "--stack", str(stack)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{stack}: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_vlan_start_written_as_text_is_read_as_pulumi_reads_it(
    tmp_path: Path, small_path: Path
) -> None:
    stack = tmp_path / "Pulumi.text.yaml"
    stack.write_text('config:\n  yunwang:vlanStart: "2000"\n')
    assert runner.invoke(app, ["plan", str(small_path), "--stack", str(stack)]).exit_code == 0


def test_usage_errors_exit_2(small_path: Path) -> None:
    assert runner.invoke(app, ["plan"]).exit_code == 2
    assert runner.invoke(app, ["plan", str(small_path), "--workers", "0"]).exit_code == 2
