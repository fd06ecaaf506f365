"""Under CI=true nothing passes by being left out: skips fail, setup scripts need root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "ci" / "setup.d").glob("*.sh"))

SAMPLE = """
import pytest

def test_needs_a_tool():
    pytest.skip("snmpd is missing")

@pytest.mark.skip(reason="needs root")
def test_marked():
    pass

def test_runs():
    pass

@pytest.mark.xfail(reason="a known bug, not a skip")
def test_known_bug():
    assert False
"""


def _pytest(tmp_path: Path, ci: bool, *options: str) -> subprocess.CompletedProcess[str]:
    """The project's conftest as a plugin, on a sample outside tests/ (so the suite never runs it)."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    # Not CI, nor the variables pytest-xdist sets in the worker running this test.
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")} | (
        {"CI": "true"} if ci else {}
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", *options, str(sample)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "options", [(), ("-n", "2", "--dist", "loadscope")], ids=["serial", "xdist"]
)
def test_under_ci_a_skip_is_a_failure(tmp_path: Path, options: tuple[str, ...]) -> None:
    # `make test` runs on xdist's workers: the guard holds there too.
    done = _pytest(tmp_path, True, *options)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in done.stdout
    assert (
        "skipped under CI=true, where every test must run: Skipped: snmpd is missing" in done.stdout
    )
    assert "skipped tests: 0; 2 tried to skip and failed" in done.stdout


def test_outside_ci_skips_are_counted(tmp_path: Path) -> None:
    done = _pytest(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "skipped tests: 2" in done.stdout


def _unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is part of every Debian install"
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_setup_script_without_root_fails_under_ci(script: Path, tmp_path: Path) -> None:
    # The script is read on stdin, so the unprivileged user needs no access to the tree;
    # under CI=true it must stop at its root check, before installing anything.
    env = {"PATH": "/usr/bin:/bin", "CI": "true", "HOME": "/nonexistent"}
    done = subprocess.run(
        [*_unprivileged(), "bash", "-s", "--", str(tmp_path / "venv")],
        input=script.read_text(), capture_output=True, text=True, env=env, cwd="/",
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert (
        done.stderr.strip() == f"{script.name}: not root, and under CI=true nothing may be skipped"
    )
