"""Generated Prometheus rules and scrape config, Alertmanager config: checked by the real
tools (promtool, amtool) and their unit tests run by promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dashboards.alertmanager import config as alertmanager_config
from dashboards.prometheus import rules
from estate import load
from tests.dashboards.conftest import REPO
from yunwang.cli import app
from yunwang.commands.dashboards import dashboards as verb

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
HERE = Path(__file__).parent


def generate(estate: str, outdir: Path) -> None:
    """What `yunwang dashboards ESTATE OUTDIR` writes (the verb, called in-process)."""
    verb(REPO / "examples" / estate, outdir, None, "http://127.0.0.1:1/alerts", "127.0.0.1:1")


def test_the_verb_writes_every_file_and_refuses_a_bad_target(tmp_path: Path) -> None:
    runner = CliRunner()
    estate = str(REPO / "examples" / "small.yaml")
    done = runner.invoke(app, ["dashboards", estate, str(tmp_path)])
    assert done.exit_code == 0, done.output
    names = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert names == {"yunwang-rules.yml", "prometheus.yml", "alertmanager.yml",
                     *(f"grafana/{b}.json" for b in ("overview", "extranet", "devices", "security"))}  # fmt: skip
    bad = runner.invoke(app, ["dashboards", estate, str(tmp_path), "--target", "nowhere=1.2.3.4:1"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1
    assert "--target 'nowhere=1.2.3.4:1': expected SHARD=HOST:PORT" in bad.stderr


def run(*command: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL and AMTOOL, "promtool/amtool missing: ci/setup.d/65-dashboards.sh installs them"
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("estate", ["small.yaml", "puyang.yaml"])
def test_generated_files_pass_promtool_and_amtool(estate: str, tmp_path: Path) -> None:
    generate(estate, tmp_path)
    checked = run("promtool", "check", "rules", str(tmp_path / "yunwang-rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    checked = run("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    checked = run("amtool", "check-config", str(tmp_path / "alertmanager.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    scrape = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    counties = {n.id for n in load(REPO / "examples" / estate).nodes(level="county")}
    assert jobs == {"yunwang-central"} | {f"yunwang-county-{c}" for c in counties}  # one shard each


def test_rule_unit_tests_pass_under_promtool(tmp_path: Path) -> None:
    generate("small.yaml", tmp_path)
    shutil.copy(HERE / "promtool" / "rules_test.yml", tmp_path / "rules_test.yml")
    tested = run("promtool", "test", "rules", str(tmp_path / "rules_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_every_alert_carries_a_warning_level_and_severity() -> None:
    doc = rules(load(REPO / "examples" / "puyang.yaml"))
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert alerts and all(
        r["labels"]["warning_level"] in ("red", "orange", "yellow", "blue") for r in alerts
    )
    grades = {(r["alert"], r["labels"].get("level"), r["labels"]["warning_level"]) for r in alerts}
    # a county carries every township below it: the same fault is graver there
    assert ("YunwangLinkPairIsolated", "county", "red") in grades
    assert ("YunwangLinkPairIsolated", "township", "orange") in grades


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"warning_level": "red", "county": "hl"}, ["city-red", "county-hl-urgent"]),
        ({"warning_level": "yellow", "county": "qf"}, ["county-qf"]),
        ({"warning_level": "blue"}, ["city-digest"]),
        ({"warning_level": "orange"}, ["city-duty"]),
    ],
)
def test_routes_by_level_and_county(
    labels: dict[str, str], receivers: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(
            alertmanager_config(load(REPO / "examples" / "small.yaml"), "http://127.0.0.1:1/")
        )
    )
    routed = run(
        "amtool", "config", "routes", "test", f"--config.file={config}",
        *(f"{k}={v}" for k, v in labels.items()),
    )  # fmt: skip
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.split()[0].split(",") == receivers
