"""`yunwang watch --live --sensor NAME`: the estate's declared sensor captures
live inside the watch (its own thread, the bounded queue), and what the
attacker plays on the segment becomes graded warnings at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from security.store import open_store
from tests.packets import scenarios
from tests.packets.conftest import Segment
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 300  # a failure bound only: the test stops the watch once the scan is stored


def _estate_with_sensor(tmp_path: Path, interface: str) -> Path:
    text = scenarios.ESTATE.read_text(encoding="utf-8")
    assert "\nmonitoring:\n" in text and "sensors:" not in text
    text = text.replace(
        "\nmonitoring:\n",
        f"\nmonitoring:\n  sensors:\n    - {{name: lab-tap, node: tc, interface: {interface}}}\n",
    )
    path = tmp_path / "estate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.lab
def test_watch_live_senses_the_declared_sensor(segment: Segment, tmp_path: Path) -> None:
    estate = _estate_with_sensor(tmp_path, segment.sensor_if)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_")}
    env.update(YUNWANG_HOME=str(home), YUNWANG_SNMP_AUTH="auth-key-for-tests",
               YUNWANG_SNMP_PRIV="priv-key-for-tests")  # fmt: skip
    watch = subprocess.Popen(
        ["ip", "netns", "exec", segment.sensor, sys.executable, "-m", "yunwang", "watch",
         str(estate), "--live", "--sensor", "lab-tap", "--json", "--port", "0",
         "--duration", str(DURATION_S), "--interval", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        trail = home / "audit.jsonl"
        wait_until(
            lambda: (
                watch.poll() is not None
                or (trail.exists() and '"watch.sense"' in trail.read_text(encoding="utf-8"))
            ),
            90,
            "watch to open its capture",
            every=0.5,
        )
        assert watch.poll() is None, watch.communicate()[1][-2000:]
        started = time.monotonic()
        subprocess.run(
            ["ip", "netns", "exec", segment.attacker, sys.executable, "-m",
             "tests.packets.attacker", segment.attacker_if],
            check=True, cwd=ROOT, timeout=60, capture_output=True,
        )  # fmt: skip
        assert time.monotonic() - started < DURATION_S - 5, "the attack outlasted the watch"
        store = open_store(f"sqlite:///{home / 'events.db'}")
        try:
            wait_until(
                lambda: watch.poll() is not None or store.find_warnings(rule_id="YW-NET-004"),
                DURATION_S,
                "the scan graded and stored",
                every=0.5,
            )
        finally:
            store.close()
        watch.send_signal(signal.SIGTERM)  # as a service manager stops it: the summary still comes
        stdout, stderr = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.returncode == 0, stderr[-2000:]
    summary = json.loads(stdout)
    assert summary["mode"] == "live"
    assert summary["sensor"]["seen"] > 0 and summary["sensor"]["events"] >= 3
    rules = {w["rule"] for w in summary["warnings"]}
    assert "YW-NET-004" in rules, summary["warnings"]  # the SYN scan, graded at once
