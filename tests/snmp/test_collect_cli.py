"""`yunwang collect`: bad input is one line and exit 1, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

YUNWANG = str(Path(sys.executable).parent / "yunwang")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YUNWANG, "collect", *args], capture_output=True, text=True,
                          timeout=60, check=False, env=env)  # fmt: skip


def test_missing_estate_file(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.yaml"), "--once")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "nope.yaml" in done.stderr


def test_bad_addresses_file_is_one_line(small_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "addresses.json"
    bad.write_text("[1, 2")
    done = run(str(small_path), "--once", "--addresses", str(bad))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "addresses.json" in done.stderr


def test_unset_secrets_are_reported_per_device_and_nothing_is_sent(
    small_path: Path, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "YUNWANG_HOME": str(tmp_path)}
    done = run(str(small_path), "--once", "--json", env=env)
    assert done.returncode == 1
    assert "YUNWANG_SNMP_AUTH" in done.stderr and "Traceback" not in done.stderr
    assert "no device can be polled" in done.stderr


def test_lab_flag_without_a_lab(small_path: Path, tmp_path: Path) -> None:
    done = run(str(small_path), "--once", "--lab-dir", str(tmp_path / "no-lab"))
    assert done.returncode == 1
    assert "no lab is up" in done.stderr and "Traceback" not in done.stderr


def test_unknown_county_is_one_line(small_path: Path) -> None:
    done = run(str(small_path), "--once", "--county", "nowhere")
    assert done.returncode == 1
    assert "--county" in done.stderr and "nowhere" in done.stderr and "hl, qf" in done.stderr
    assert done.stderr.count("\n") == 1


def test_bad_port_in_addresses_is_one_line(small_path: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "addresses.json"
    mapping.write_text('{"hl-agg-1": "198.18.0.1:snmp"}')
    done = run(str(small_path), "--once", "--addresses", str(mapping))
    assert done.returncode == 1
    assert "hl-agg-1: expected host, host:port" in done.stderr and "Traceback" not in done.stderr
