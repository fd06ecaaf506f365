"""Fixtures for the packet sensor: the test estate, its policy, a lab segment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.config import conf
from scapy.layers.l2 import Neighbor

from estate import Estate, load
from monitors.packets import SensorPolicy
from monitors.packets.estate_policy import policy_from_estate
from tests.packets import scenarios

# Network safety: scapy fills a missing Ether.dst by resolving the next hop,
# which sends ARP/ND on the host's own interfaces. Frames in these tests are
# only ever bytes or sent inside our namespaces, so resolution is switched
# off for the whole test session: a missing dst becomes broadcast, offline.
conf.neighbor = Neighbor()


@pytest.fixture(scope="session")
def estate() -> Estate:
    return load(scenarios.ESTATE)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(scenarios.POLICY)
    return path


@pytest.fixture
def policy(estate: Estate, policy_file: Path) -> SensorPolicy:
    result = policy_from_estate(estate)
    result.apply_overlay(policy_file)
    return result


def ip(*args: str, namespace: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True, timeout=10)


@dataclass(frozen=True)
class Segment:
    """Two namespaces on one veth: the sensor's side and the attacker's."""

    sensor: str
    attacker: str
    sensor_if: str = "s0"
    attacker_if: str = "a0"


@pytest.fixture
def segment() -> Iterator[Segment]:
    tag = f"{os.getpid()}"
    seg = Segment(sensor=f"ywpkt-s{tag}", attacker=f"ywpkt-a{tag}")
    try:
        for ns in (seg.sensor, seg.attacker):
            ip("netns", "add", ns)
            ip("link", "set", "lo", "up", namespace=ns)
        ip("link", "add", f"ywpkt-s{tag}", "type", "veth", "peer", "name", f"ywpkt-a{tag}")
        ip("link", "set", f"ywpkt-s{tag}", "netns", seg.sensor)
        ip("link", "set", f"ywpkt-a{tag}", "netns", seg.attacker)
        ip("link", "set", f"ywpkt-s{tag}", "name", seg.sensor_if, namespace=seg.sensor)
        ip("link", "set", f"ywpkt-a{tag}", "name", seg.attacker_if, namespace=seg.attacker)
        for ns, dev, mac in (
            (seg.sensor, seg.sensor_if, scenarios.VICTIM_MAC),
            (seg.attacker, seg.attacker_if, scenarios.ATTACKER_MAC),
        ):
            ip("link", "set", dev, "address", mac, namespace=ns)
            # A quiet segment, so two sensors started a moment apart see the
            # same frames: no DAD, no router solicitations (the kernel repeats
            # them at 4 s, 8 s, ... after link-up), and the link-up MLD
            # reports repeated within 1 ms rather than at random within 1 s:
            # over before a sensor can start.
            for setting in (
                "accept_dad=0",
                "router_solicitations=0",
                "mldv1_unsolicited_report_interval=1",
                "mldv2_unsolicited_report_interval=1",
            ):
                subprocess.run(
                    ["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.{setting}"],
                    check=True,
                    timeout=10,
                )
        for address in (f"{scenarios.VICTIM4}/16", f"{scenarios.EXCHANGE4}/16"):
            ip("addr", "add", address, "dev", seg.sensor_if, namespace=seg.sensor)
        ip("addr", "add", f"{scenarios.EXCHANGE6}/48", "dev", seg.sensor_if, namespace=seg.sensor)
        ip(
            "addr",
            "add",
            f"{scenarios.ATTACKER4}/16",
            "dev",
            seg.attacker_if,
            namespace=seg.attacker,
        )
        ip(
            "addr",
            "add",
            f"{scenarios.ATTACKER6}/48",
            "dev",
            seg.attacker_if,
            namespace=seg.attacker,
        )
        for ns, dev in ((seg.sensor, seg.sensor_if), (seg.attacker, seg.attacker_if)):
            ip("link", "set", dev, "up", namespace=ns)
        yield seg
    finally:
        for ns in (seg.sensor, seg.attacker):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
