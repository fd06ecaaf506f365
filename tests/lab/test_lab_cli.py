"""`yunwang lab ...` as a user types it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab import Lab
from yunwang.cli import app

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
runner = CliRunner()


def yunwang(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_without_root_up_says_so_in_one_line() -> None:
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) missing: cannot drop root for this check")
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        argv = []
    # pytest's tmp dirs are root-only: the unprivileged user needs its own home
    home = Path(tempfile.mkdtemp(prefix="ywlab-nobody-"))
    home.chmod(0o777)
    env = {**os.environ, "YUNWANG_HOME": str(home), "HOME": str(home)}
    done = subprocess.run(
        [
            *argv,
            str(Path(sys.executable).parent / "yunwang"),
            "lab",
            "up",
            str(SMALL),
            "--dir",
            str(home / "lab"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: the lab needs root (network namespaces, FRR, snmpd): run it with sudo"
    ]


def test_a_missing_estate_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = yunwang("lab", "up", str(tmp_path / "nope.yaml"), "--dir", str(tmp_path / "l"))
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "nope.yaml" in err


def test_status_with_no_lab(tmp_path: Path) -> None:
    code, out, _ = yunwang("lab", "status", "--dir", str(tmp_path / "lab"))
    assert code == 0 and "no lab is up" in out


@pytest.mark.lab
def test_status_json_and_chaos_verbs_on_the_session_lab(lab: Lab) -> None:
    d = str(lab.directory)
    code, out, _ = yunwang("lab", "status", "--json", "--dir", d)
    report = json.loads(out)
    assert code == 0 and report["phase"] == "up"
    assert {r["node"] for r in report["routers"]} == set(lab.plan.node_ids())

    code, out, _ = yunwang("lab", "throttle", "qf/backup", "--rate", "300Mbit/s", "--dir", d)
    assert code == 0 and "300 Mbit/s" in out
    code, out, _ = yunwang("lab", "status", "--json", "--dir", d)
    states = {link["link"]: link["state"] for link in json.loads(out)["links"]}
    assert states["qf/backup"] == "throttled 300 Mbit/s"
    code, out, _ = yunwang("lab", "restore", "qf/backup", "--dir", d)
    assert code == 0 and "restored" in out
    # The name the screens show works as well as the code (清丰县 is qf).
    code, out, _ = yunwang("lab", "throttle", "清丰县/backup", "--rate", "200Mbit/s", "--dir", d)
    assert code == 0 and "200 Mbit/s" in out
    code, out, _ = yunwang("lab", "status", "--json", "--dir", d)
    states = {link["link"]: link["state"] for link in json.loads(out)["links"]}
    assert states["qf/backup"] == "throttled 200 Mbit/s"
    code, out, _ = yunwang("lab", "restore", "清丰县", "--dir", d)
    assert code == 0 and "restored" in out
    code, out, _ = yunwang("lab", "status", "--json", "--dir", d)
    states = {link["link"]: link["state"] for link in json.loads(out)["links"]}
    assert states["qf/backup"] != "throttled 200 Mbit/s"

    code, _, err = yunwang("lab", "cut", "no/such", "--dir", d)
    assert code == 1 and err.startswith("error: no link 'no/such' in this lab")
    assert len(err.strip().splitlines()) == 1

    code, _, err = yunwang("lab", "throttle", "qf/backup", "--rate", "fast", "--dir", d)
    assert code == 1 and "--rate 'fast'" in err


@pytest.mark.lab
def test_exec_runs_in_a_node_and_passes_the_exit_code(lab: Lab) -> None:
    result = runner.invoke(
        app,
        [
            "lab",
            "exec",
            "hl",
            "--dir",
            str(lab.directory),
            "--",
            "ip",
            "-br",
            "link",
            "show",
            "up-p",
        ],
    )
    assert result.exit_code == 0 and "up-p" in result.stdout
    result = runner.invoke(app, ["lab", "exec", "hl", "--dir", str(lab.directory), "--", "false"])
    assert result.exit_code == 1
    # The name the screens show (华龙区 is hl) reaches the same namespace.
    named = runner.invoke(
        app, ["lab", "exec", "华龙区", "--dir", str(lab.directory), "--", "ip", "netns", "identify"]
    )
    coded = runner.invoke(
        app, ["lab", "exec", "hl", "--dir", str(lab.directory), "--", "ip", "netns", "identify"]
    )
    assert named.exit_code == coded.exit_code == 0, named.stderr
    assert named.stdout == coded.stdout == lab.namespace("hl") + "\n"


@pytest.mark.lab
def test_chaos_is_recorded_in_the_audit_trail(lab: Lab, tmp_path: Path) -> None:
    code, _, _ = yunwang("lab", "restore", "--dir", str(lab.directory))
    assert code == 0
    trail = Path(os.environ["YUNWANG_HOME"]) / "audit.jsonl"
    actions = [json.loads(line)["action"] for line in trail.read_text().splitlines()]
    assert "lab.restore" in actions


@pytest.mark.lab
def test_inventory_is_yaml_ansible_can_read(lab: Lab) -> None:
    import yaml

    code, out, _ = yunwang("lab", "inventory", "--family", "6", "--dir", str(lab.directory))
    inventory = yaml.safe_load(out)
    assert code == 0
    assert all(":" in h["ansible_host"] for h in inventory["all"]["hosts"].values())
    assert inventory["all"]["vars"]["ansible_become"] is True


def test_an_invalid_estate_is_one_line_naming_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(SMALL.read_text().replace("ipv4: 10.32.0.0/12", "ipv4: 10.32.0.0/33"))
    code, _, err = yunwang("lab", "up", str(broken), "--dir", str(tmp_path / "l"))
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "broken.yaml" in err


def test_bfd_interval_outside_frrs_range_is_refused(tmp_path: Path) -> None:
    code, _, err = yunwang("lab", "up", str(SMALL), "--bfd-ms", "5", "--dir", str(tmp_path / "l"))
    assert code == 1 and "--bfd-ms 5" in err
