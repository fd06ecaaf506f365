"""`yunwang sense` on capture files: events, exit codes, one-line errors,
the audit trail, and the Prometheus view of the sensor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from typer.testing import CliRunner

from monitors.packets import Sensor, SensorPolicy
from monitors.packets.capture import PcapWriter, read_capture
from monitors.packets.metrics import SensorCollector
from security.audit import AuditTrail, default_path
from tests.packets import scenarios
from yunwang.cli import app

runner = CliRunner()


@pytest.fixture
def scenario_pcap(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.pcap"
    with PcapWriter(path) as writer:
        for index, packet in enumerate(scenarios.all_frames()):
            writer.write(1_750_000_000 + index * 0.01, bytes(packet))
    return path


def sense(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sense", *args])
    return result.exit_code, result.stdout, result.stderr


def test_pcap_gives_the_scenario_events_as_ecs_json(scenario_pcap: Path, policy_file: Path) -> None:
    code, out, err = sense(
        "--pcap", str(scenario_pcap), str(scenarios.ESTATE), "--policy", str(policy_file), "--json"
    )
    assert code == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert sorted((scenarios.summary(d) for d in docs), key=str) == scenarios.EXPECTED
    assert {d["event"]["dataset"] for d in docs} == {"yunwang.packets"}
    assert f"{len(scenarios.all_frames())} frames" in err and "9 events" in err


def test_text_output_and_audit_record(scenario_pcap: Path, policy_file: Path) -> None:
    code, out, _ = sense(
        "--pcap", str(scenario_pcap), str(scenarios.ESTATE), "--policy", str(policy_file)
    )
    assert code == 0
    assert len(out.splitlines()) == len(scenarios.EXPECTED)
    assert any(
        " ywpkt-arp-gateway-claim 02:aa:00:00:00:66 claims gateway" in line
        for line in out.splitlines()
    )
    records = [r for r in AuditTrail(default_path()).records() if r.action == "packets.sense"]
    assert records and records[-1].target == str(scenario_pcap)
    assert records[-1].detail["events"]["ywpkt-zone-forbidden-flow"] == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "give exactly one of --iface IF or --pcap FILE"),
        (["--pcap", "x.pcap", "--iface", "lo"], 2, "give exactly one of"),
        (["--pcap", "/nonexistent.pcap"], 1, "/nonexistent.pcap: cannot open capture"),
        (["--iface", "ywpkt-nosuch0"], 1, "ywpkt-nosuch0: no such network interface"),
    ],
)
def test_usage_and_input_errors(args: list[str], code: int, message: str) -> None:
    result, _, err = sense(*args, str(scenarios.ESTATE))
    assert result == code
    assert message in err
    assert "Traceback" not in err


def test_bad_estate_and_bad_policy_are_one_line(tmp_path: Path, scenario_pcap: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("city: {name: x}\nzones: 3\n")
    code, _, err = sense("--pcap", str(scenario_pcap), str(broken))
    assert code == 1 and "broken.yaml" in err and "Traceback" not in err
    policy = tmp_path / "policy.yaml"
    for text, message in (
        ("routers: [not-an-address]\n", "routers: 'not-an-address' is not an IP address"),
        (
            "thresholds: {scan: {port_scan_threshold: lots}}\n",
            "scan.port_scan_threshold: expected a number",
        ),
        ("gateways: {}\n", "gateways: unknown key"),
        ("gateway_macs: {198.18.0.1: zz}\n", "is not a MAC address"),
        # Found by fuzzing the command: each was a traceback, or a line without the file.
        ("thresholds: {scan: {port_scan_threshold: .inf}}\n", "expected a finite positive"),
        ("thresholds: {zones: {window_s: .nan}}\n", "expected a finite positive"),
        ("thresholds: {bogus: {}}\n", "policy.yaml: thresholds.bogus: unknown detection"),
        ("when: 2001-02-30\n", "policy.yaml: not valid YAML (ValueError: day is out of range"),
        ("thresholds: {scan: {port_scan_threshold: !!int abc}}\n", "policy.yaml: not valid YAML"),
        ("\xff\xfe\x00garbage\n", "policy.yaml: not UTF-8 text"),
    ):
        if text.startswith("\xff"):
            policy.write_bytes(text.encode("latin-1"))
        else:
            policy.write_text(text)
        code, _, err = sense(
            "--pcap", str(scenario_pcap), str(scenarios.ESTATE), "--policy", str(policy)
        )
        assert code == 1, text
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, _, err = sense("--pcap", str(path), str(scenarios.ESTATE))
    assert code == 1 and "not a pcap or pcapng file" in err


def _flow(src: str, dst: str, v6: bool, size: int) -> list[Ether]:
    family = IPv6 if v6 else IP
    mac = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")
    back = Ether(src="02:00:00:00:00:0b", dst="02:00:00:00:00:0a")
    return [
        mac / family(src=src, dst=dst) / TCP(sport=40000, dport=443, flags="S"),
        back / family(src=dst, dst=src) / TCP(sport=443, dport=40000, flags="SA") / (b"x" * size),
    ]


def test_collector_reports_counters_events_and_ipv6_adoption(policy: SensorPolicy) -> None:
    # A county-LAN host (segment "tx") reaching the exchange zone: 3 IPv4 flows, 1 IPv6 flow.
    frames = (
        _flow("198.18.136.10", "198.18.8.10", False, 100)
        + _flow("198.18.136.11", "198.18.8.10", False, 100)
        + _flow("198.18.136.12", "198.18.8.11", False, 100)
        + _flow("2001:db8:3900:8800::a", "2001:db8:3900:800::a", True, 100)
        + [Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0800) / b"\x45"]
    )
    sensor = Sensor(policy, observer="unit")
    wire = [bytes(f) for f in frames]
    for index, frame in enumerate(wire):
        sensor.feed(10.0 + index, frame, len(frame))
    registry = CollectorRegistry()
    registry.register(SensorCollector(sensor, "unit"))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    obs = ("observer", "unit")
    assert samples[("yunwang_packets_seen_total", (obs,))] == len(wire)
    assert samples[("yunwang_packets_malformed_total", (obs,))] == 1
    assert samples[("yunwang_packets_parsed_total", (obs,))] == len(wire) - 1
    assert samples[("yunwang_packets_events_total", (obs, ("rule", "ywpkt-scan-port")))] == 0
    assert samples[("yunwang_packets_ipv6_flow_ratio", (obs, ("segment", "tx")))] == 0.25
    v6_bytes = len(wire[6]) + len(wire[7])
    all_bytes = sum(len(f) for f in wire[:8])
    ratio = samples[("yunwang_packets_ipv6_byte_ratio", (obs, ("segment", "tx")))]
    assert ratio == pytest.approx(v6_bytes / all_bytes)
    assert (
        samples[
            (
                "yunwang_packets_segment_flows_total",
                (("family", "ipv4"), obs, ("segment", "gaj/exchange")),
            )
        ]
        == 3
    )


def test_count_and_write(scenario_pcap: Path, tmp_path: Path) -> None:
    copy = tmp_path / "first5.pcap"
    code, _, err = sense(
        "--pcap", str(scenario_pcap), str(scenarios.ESTATE), "--count", "5", "--write", str(copy)
    )
    assert code == 0 and err.startswith("5 frames")
    assert [f for _, f, _ in read_capture(copy)] == [bytes(p) for p in scenarios.all_frames()[:5]]
    code, _, err = sense(
        "--pcap", str(scenario_pcap), str(scenarios.ESTATE), "--write", "/nonexistent/dir/x.pcap"
    )
    assert code == 1 and "--write /nonexistent/dir/x.pcap: cannot create" in err


def test_sense_as_its_own_process_starts_without_the_platform(
    tmp_path: Path, policy_file: Path
) -> None:
    """`yunwang sense` as the shell runs it: the first run compiles the estate's
    policy; the next ones import neither the estate loader (pydantic models,
    the planner), nor scapy, nor any other verb's room before the first packet."""
    one = tmp_path / "one.pcap"
    with PcapWriter(one) as writer:
        writer.write(1.0, bytes(Ether() / IP(src="198.18.0.66", dst="198.18.8.10") / TCP(dport=22)))
    command = [sys.executable, "-X", "importtime", "-m", "yunwang", "sense", "--pcap", str(one),
               str(scenarios.ESTATE), "--policy", str(policy_file)]  # fmt: skip
    env = {**os.environ, "YUNWANG_HOME": str(tmp_path / "home")}
    # Built, cached, and cached again with the file shared by two processes.
    runs = [
        subprocess.run([*command, *more], capture_output=True, env=env, check=True)
        for more in ([], [], ["--workers", "2"])
    ]
    for run in runs:
        assert b"ywpkt-zone-forbidden-flow" in run.stdout  # same event, built or cached
    assert len(list((tmp_path / "home" / "cache" / "sensor-policy").glob("*.json"))) == 1
    for run in runs[1:]:
        imported = {
            line.rsplit("|", 1)[-1].strip() for line in run.stderr.decode().splitlines()
            if line.startswith("import time:")
        }  # fmt: skip
        for heavy in ("estate.loader", "estate.schema", "scapy", "monitors.snmp", "infra", "lab"):
            assert heavy not in imported, heavy
