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
from collections import Counter
from pathlib import Path

import pytest

from monitors.packets import read_capture
from monitors.packets.decode import MalformedPacket, decode
from monitors.packets.shards import shard_of
from tests.packets import scenarios
from tests.packets.conftest import Segment
from tests.waiting import wait_until

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


class _Sensor:
    """`yunwang sense --iface` in the sensor's namespace, its output read as it comes."""

    def __init__(self, segment: Segment, args: list[str]) -> None:
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", segment.sensor, YUNWANG, "sense", "--iface",
             segment.sensor_if, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )  # fmt: skip
        self.stdout = ""

    def events_so_far(self) -> int:
        fd = self.process.stdout.fileno()  # type: ignore[union-attr]
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536).decode()
            if not chunk:
                break
            self.stdout += chunk
        return self.stdout.count("\n")

    def stop(self) -> tuple[list[dict[str, object]], str]:
        self.process.send_signal(signal.SIGTERM)
        stdout, stderr = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, stderr.decode()
        return _docs(self.stdout + stdout.decode()), stderr.decode()


def _attack(segment: Segment) -> None:
    attacker = [sys.executable, "-m", "tests.packets.attacker", segment.attacker_if]
    subprocess.run(
        ["ip", "netns", "exec", segment.attacker, *attacker],
        check=True,
        cwd=ROOT,
        timeout=60,
        capture_output=True,
    )


def _sense_live(
    segment: Segment, args: list[str], expected: int, scrape: bool = False
) -> tuple[list[dict[str, object]], str, str]:
    """Run `yunwang sense --iface` in the sensor's namespace while the attacker
    plays every scenario, until it has printed the `expected` number of events;
    (event documents, its stderr, a metrics scrape)."""
    extra = ["--metrics-port", "9464"] if scrape else []
    sensor = _Sensor(segment, [*args, *extra])
    metrics = ""
    try:
        _wait_for(sensor.process.stderr, "sensing on", timeout=90)
        _attack(segment)
        # The last answers are on their way: wait for the events, not the clock.
        wait_until(lambda: sensor.events_so_far() >= expected, 90, f"{expected} events")
        if scrape:
            metrics = _scrape(segment.sensor, "http://127.0.0.1:9464/metrics", sensor.process)
    finally:
        live, stderr = sensor.stop()
    return live, stderr, metrics


@pytest.mark.lab
def test_live_scenarios_raise_exactly_the_expected_events(
    segment: Segment, policy_file: Path, tmp_path: Path
) -> None:
    captured = tmp_path / "captured.pcap"
    common = [str(scenarios.ESTATE), "--policy", str(policy_file), "--json", "--observer", "lab"]
    live, _, metrics = _sense_live(
        segment, [*common, "--write", str(captured)], len(scenarios.EXPECTED), scrape=True
    )
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
    expected = [e for e in scenarios.EXPECTED if e[0] != "ywpkt-arp-gateway-claim"]
    live, stderr, _ = _sense_live(segment, args, len(expected))
    assert sorted((scenarios.summary(d) for d in live), key=str) == expected
    assert "0 malformed" in stderr


@pytest.mark.lab
def test_fanout_over_two_processes_gives_the_events_of_one(
    segment: Segment, policy_file: Path, tmp_path: Path
) -> None:
    """One sensor process and a fanout group of two watch the same veth at once.

    Both raise the same events from the same frames; the kernel split the frames between the two processes just
    as `shard_of` splits the frames the single process saved, so the BPF
    program and the Python rule are one rule.
    """
    captured = tmp_path / "captured.pcap"
    common = [str(scenarios.ESTATE), "--policy", str(policy_file), "--json", "--observer", "lab"]
    single = _Sensor(segment, [*common, "--write", str(captured)])
    fanned = _Sensor(segment, [*common, "--workers", "2"])
    try:
        for sensor in (single, fanned):
            _wait_for(sensor.process.stderr, "sensing on", timeout=90)
        _attack(segment)
        expected = len(scenarios.EXPECTED)
        wait_until(lambda: single.events_so_far() >= expected, 90, "one process's events")
        wait_until(lambda: fanned.events_so_far() >= expected, 90, "the fanout's events")
    finally:
        fanned.process.send_signal(signal.SIGTERM)  # both stop, whatever the first says
        one, _ = single.stop()
        two, stderr = fanned.stop()
    assert sorted((scenarios.summary(d) for d in two), key=str) == scenarios.EXPECTED

    # The same events; the kernel may stamp the two sockets' copies of a frame
    # a microsecond apart, so the timestamps (and ids) are compared to the ms.
    def seen(docs: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return sorted((str(d["rule"]), str(d["message"]), str(d["@timestamp"])[:23]) for d in docs)

    assert seen(two) == seen(one)

    predicted: Counter[int] = Counter()
    for ts, frame, length in read_capture(captured):
        try:
            predicted[shard_of(decode(frame, ts, length), 2)] += 1
        except MalformedPacket:
            predicted[0] += 1
    shares = next(line for line in stderr.splitlines() if line.startswith("frames per process"))
    assert shares == f"frames per process: {predicted[0]}, {predicted[1]}"
    assert predicted[0] > 0 and predicted[1] > 0


@pytest.mark.lab
@pytest.mark.parametrize("workers", [1, 2])
def test_a_repeated_sigterm_still_leaves_with_its_summary(
    segment: Segment, policy_file: Path, workers: int
) -> None:
    """A service manager (or a person) may send SIGTERM again while the sensor
    is leaving: each later one is the same request, never a kill that cuts off
    the events and the summary still to be written."""
    args = [str(scenarios.ESTATE), "--policy", str(policy_file), "--json"]
    sensor = _Sensor(segment, [*args, "--workers", str(workers)])
    _wait_for(sensor.process.stderr, "sensing on", timeout=90)
    sent = 0
    deadline = time.monotonic() + 30
    while sensor.process.poll() is None and time.monotonic() < deadline:
        sensor.process.send_signal(signal.SIGTERM)
        sent += 1
        time.sleep(0.002)  # covers every step of the leaving: workers, merge, summary
    _, stderr = sensor.process.communicate(timeout=30)
    assert sensor.process.returncode == 0, (sent, stderr.decode())
    assert sent > 1
    assert "malformed" in stderr.decode()  # the summary line was written


@pytest.mark.lab
def test_an_interface_taken_down_under_the_capture_is_one_line(segment: Segment) -> None:
    """A mirror port that goes away (its namespace deleted, the link set down)
    ends the sensor with one line naming the interface, never a traceback."""
    sensor = _Sensor(segment, [str(scenarios.ESTATE), "--json"])
    _wait_for(sensor.process.stderr, "sensing on", timeout=90)
    subprocess.run(
        ["ip", "-n", segment.sensor, "link", "set", segment.sensor_if, "down"],
        check=True,
        timeout=10,
    )
    _, stderr = sensor.process.communicate(timeout=30)
    assert sensor.process.returncode == 1, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert (
        stderr.decode().splitlines()[-1]
        == f"{segment.sensor_if}: capture stopped (Network is down)"
    )
