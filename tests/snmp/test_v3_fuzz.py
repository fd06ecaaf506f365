"""Fuzzing the SNMPv3 path against a live poll cycle (issue 10 item 7): a
hostile agent among good devices (net-snmp's snmpd in a namespace: v2c,
v3 SHA/AES-128 over IPv4, v3 SHA-256/AES-256 over IPv6), every
mutation of tests/snmp/fuzz.py in turn; the cycle always completes, the good
devices read exactly what a clean cycle read, a spoofed device still gets
its real answer. bench/snmp_hostile.py runs the same with more datagrams."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from monitors.snmp.poller import Poller, PollerSettings
from monitors.snmp.session import Credential, Target
from tests.snmp.agents import NamespaceSnmpd
from tests.snmp.fuzz import BROKEN, SPOOFS, Fuzzer, fuzz_cycles
from tests.snmp.hostile import HostileAgent, vendor_recording

pytestmark = pytest.mark.lab


def good_targets(agent: NamespaceSnmpd) -> list[Target]:
    (u1, _a1, k1, _p1, x1), (u2, _a2, k2, _p2, x2) = agent.users
    sha256 = Credential(3, user=u2, auth_protocol="sha256", auth_key=k2,
                        priv_protocol="aes256", priv_key=x2)  # fmt: skip
    return [
        Target("good-v2c", agent.address4, Credential(2, community=agent.community)),
        Target("good-v3", agent.address4, Credential(3, user=u1, auth_key=k1, priv_key=x1)),
        Target("good-v3-v6", agent.address6, sha256),
    ]


def test_fuzzed_v3_answers_cost_nothing_outside_the_hostile_device(
    recordings: Path, snmpd: NamespaceSnmpd
) -> None:
    fuzzer = Fuzzer(random.Random(20261130))
    settings = PollerSettings(timeout_s=0.5, retries=2, slow_s=30, routing=False)
    with HostileAgent(vendor_recording(recordings), fuzzer) as agent:
        poller = Poller([agent.target(), *good_targets(snmpd)], settings)
        try:
            # Ends by count: 600 datagrams take ~50 cycles (>= 16 below) in ~15 s
            # here; the time is only a cap, so a loaded machine takes longer.
            tally = asyncio.run(fuzz_cycles(poller, fuzzer, "hostile", 600, seconds=120))
        finally:
            poller.close()
    assert tally.failures == [] and tally.lost == 0
    assert tally.cycles >= len(SPOOFS) + len(BROKEN), tally
    assert all(tally.kinds.get(f"spoof:{k}") for k in SPOOFS), tally.kinds
    assert all(tally.kinds.get(f"broken:{k}") for k in BROKEN), tally.kinds
    assert tally.survived == tally.tried >= 100
