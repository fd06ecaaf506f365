"""Real packets on a veth between two namespaces, sensed live, then replayed.

The attacker's namespace runs the scenarios (scapy frames on an L2 socket and
kernel TCP connections); the sensor runs as `yunwang sense --iface` in the
other namespace and must raise exactly the expected events, none for the
allowed flow. What it captured, replayed with `--pcap`, gives the very same
events (same ids), and so does the scenario built offline.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.packets import scenarios
from tests.packets.conftest import Segment

ROOT = Path(__file__).resolve().parents[2]
YUNWANG = str(Path(sys.executable).with_name("yunwang"))


def _wait_for(stream: object, text: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()  # type: ignore[attr-defined]
    while text not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"sensor did not print {text!r}; got {seen!r}")
        chunk = os.read(fd, 4096).decode()
        if not chunk:
            raise AssertionError(f"sensor exited early: {seen!r}")
        seen += chunk
    return seen


def _scrape(namespace: str, url: str, sensor: subprocess.Popen[bytes]) -> str:
    """GET from inside the namespace, where the sensor's listener is."""
    code = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", code],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, (sensor.poll(), result.stderr.decode()[-300:])
    return result.stdout.decode()


def _docs(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _sense_live(
    segment: Segment, args: list[str], scrape: bool = False
) -> tuple[list[dict[str, object]], str, str]:
    """Run `yunwang sense --iface` in the sensor's namespace while the attacker
    plays every scenario; (event documents, its stderr, a metrics scrape)."""
    extra = ["--metrics-port", "9464"] if scrape else []
    sensor = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            segment.sensor,
            YUNWANG,
            "sense",
            "--iface",
            segment.sensor_if,
            *args,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    metrics = ""
    try:
        _wait_for(sensor.stderr, "sensing on", timeout=30)
        attacker = [sys.executable, "-m", "tests.packets.attacker", segment.attacker_if]
        subprocess.run(
            ["ip", "netns", "exec", segment.attacker, *attacker],
            check=True,
            cwd=ROOT,
            timeout=60,
            capture_output=True,
        )
        time.sleep(1.0)  # let the last answers arrive
        if scrape:
            metrics = _scrape(segment.sensor, "http://127.0.0.1:9464/metrics", sensor)
    finally:
        sensor.send_signal(signal.SIGTERM)
        stdout, stderr = sensor.communicate(timeout=30)
    assert sensor.returncode == 0, stderr.decode()
    return _docs(stdout.decode()), stderr.decode(), metrics


@pytest.mark.lab
def test_live_scenarios_raise_exactly_the_expected_events(
    segment: Segment, policy_file: Path, tmp_path: Path
) -> None:
    captured = tmp_path / "captured.pcap"
    common = [str(scenarios.ESTATE), "--policy", str(policy_file), "--json", "--observer", "lab"]
    live, _, metrics = _sense_live(segment, [*common, "--write", str(captured)], scrape=True)
    assert sorted((scenarios.summary(d) for d in live), key=str) == scenarios.EXPECTED
    # Nothing about the allowed service, in either family.
    ports = [scenarios.destination_port(d) for d in live]
    assert scenarios.ALLOWED_PORT not in ports

    # The scrape, taken while the sensor ran, counted the same events.
    assert 'yunwang_packets_events_total{observer="lab",rule="ywpkt-scan-port"} 1.0' in metrics
    assert (
        'yunwang_packets_events_total{observer="lab",rule="ywpkt-zone-forbidden-flow"} 2.0'
        in metrics
    )
    assert 'yunwang_packets_malformed_total{observer="lab"} 0.0' in metrics

    replay = subprocess.run(
        [YUNWANG, "sense", "--pcap", str(captured), *common],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    replayed = _docs(replay.stdout.decode())
    assert [d["event"]["id"] for d in replayed] == [d["event"]["id"] for d in live]  # type: ignore[index]
    assert "0 malformed" in replay.stderr.decode()


@pytest.mark.lab
def test_the_bpf_filter_is_applied_in_the_kernel(segment: Segment, policy_file: Path) -> None:
    """With `--bpf "not arp"` the forged ARP reply never reaches the sensor."""
    args = [str(scenarios.ESTATE), "--policy", str(policy_file), "--json", "--bpf", "not arp"]
    live, stderr, _ = _sense_live(segment, args)
    expected = [e for e in scenarios.EXPECTED if e[0] != "ywpkt-arp-gateway-claim"]
    assert sorted((scenarios.summary(d) for d in live), key=str) == expected
    assert "0 malformed" in stderr
