"""`yunwang collect`: bad input is one line and exit 1, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from security.events import utcnow
from security.store import open_store
from tests.snmp.agents import free_udp_port
from tests.waiting import wait_until

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


def test_sigterm_leaves_cleanly_with_the_last_batch_shipped(
    small_path: Path, tmp_path: Path
) -> None:
    """A service manager's stop (SIGTERM) is a clean exit: status 0, and what
    the shipper held reaches the store instead of dying with the process."""
    silent = {"hl-agg-1": f"127.0.0.1:{free_udp_port()}"}  # nobody answers there
    addresses = tmp_path / "addresses.json"
    addresses.write_text(json.dumps(silent))
    store = f"sqlite:///{tmp_path / 'events.db'}"
    env = {
        **os.environ,
        "YUNWANG_HOME": str(tmp_path / "home"),
        "YUNWANG_SNMP_AUTH": "auth-key-for-tests",
        "YUNWANG_SNMP_PRIV": "priv-key-for-tests",
    }
    log = tmp_path / "out.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [YUNWANG, "collect", str(small_path), "--county", "hl", "--addresses", str(addresses),
             "--port", "0", "--store", store, "--heartbeat", "3600"],
            stdout=out, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
    try:
        wait_until(lambda: "collecting" in log.read_text(), 60, "collect serving", every=0.2)
        # Sent again and again while it leaves, as an impatient service manager
        # might: each later SIGTERM is the same request, not a kill mid-flush.
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            process.send_signal(signal.SIGTERM)
            time.sleep(0.002)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    shipped = list(open_store(store).iter_events(["yunwang.fleet"], utcnow() - timedelta(hours=1)))
    assert [e.action for e in shipped] == ["producer-heartbeat"]
