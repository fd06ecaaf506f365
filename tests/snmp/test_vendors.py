"""Every vendor profile proven on a real recording served by a real snmpsim.
Expectations are read from the recording itself, not written down twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitors.snmp import tables
from monitors.snmp.poller import DevicePoll, Poller, PollerSettings
from monitors.snmp.profiles import canonical_ifname
from monitors.snmp.recordings import SLICED_MODELS, records
from monitors.snmp.session import Credential, Target
from tests.snmp.agents import V3_AUTH, V3_PRIV, V3_USER, Snmpsim

VENDOR_OF = {
    "huawei-s5720": "huawei",
    "huawei-s12704": "huawei",
    "h3c-comware": "h3c",
    "ruijie-s5750": "ruijie",
    "zte-zxr10": "zte",
    "cisco-c3560": "cisco",
}
SETTINGS = PollerSettings(timeout_s=5, retries=1, slow_s=30, routing=False)


def poll_once(targets: list[Target]) -> list[DevicePoll]:
    poller = Poller(targets, SETTINGS)
    try:
        return asyncio.run(poller.poll())
    finally:
        poller.close()


def recorded(path: Path) -> dict[tuple[int, ...], object]:
    return {oid: value for oid, _tag, value in records(path)}


@pytest.fixture(scope="module")
def vendor_polls(snmpsim: Snmpsim) -> dict[str, DevicePoll]:
    targets = [
        Target(stem, "127.0.0.1", Credential(2, community=stem), snmpsim.port)
        for stem in SLICED_MODELS
    ]
    return {poll.device: poll for poll in poll_once(targets)}


@pytest.mark.parametrize("stem", SLICED_MODELS)
def test_vendor_recording_reads_as_recorded(
    vendor_polls: dict[str, DevicePoll], recordings: Path, stem: str
) -> None:
    poll = vendor_polls[stem]
    data = recorded(recordings / f"{stem}.snmprec")
    assert poll.state == "reachable", poll.error
    assert poll.vendor == VENDOR_OF[stem]
    assert poll.sys_name.encode() == data[tables.SYS_NAME]
    assert poll.uptime_ticks == data[tables.SYS_UPTIME]
    indexes = sorted(oid[-1] for oid in data if oid[:-1] == tables.IF_DESCR)
    assert [row.index for row in poll.interfaces] == indexes
    for row in poll.interfaces:
        name = data.get((*tables.IF_NAME, row.index))
        descr = data[(*tables.IF_DESCR, row.index)]
        assert row.name.encode() == (name or descr.split(b" ", 1)[0]).strip()  # type: ignore[union-attr]
        hc = (*tables.IF_HC_IN_OCTETS, row.index) in data and (
            *tables.IF_HC_OUT_OCTETS,
            row.index,
        ) in data
        assert row.counter_bits == (64 if hc else 32)
        in_column = tables.IF_HC_IN_OCTETS if hc else tables.IF_IN_OCTETS
        expected_in = data[(*in_column, row.index)]
        assert row.in_octets == expected_in
        high = data.get((*tables.IF_HIGH_SPEED, row.index))
        assert row.speed_bps == (
            high * 1_000_000 if high else data.get((*tables.IF_SPEED, row.index))
        )  # type: ignore[operator]
        assert row.oper_status == tables.OPER_STATUS[data[(*tables.IF_OPER_STATUS, row.index)]]  # type: ignore[index]
        assert row.alias.encode() == data.get((*tables.IF_ALIAS, row.index), b"")


def test_profiles_tell_vendor_quirks_apart(vendor_polls: dict[str, DevicePoll]) -> None:
    # ZTE ZXR10 5250: no ifHighSpeed, so speed comes from ifSpeed.
    zte = vendor_polls["zte-zxr10"]
    assert all(
        row.speed_bps in (10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000, 0)
        for row in zte.interfaces
    )
    # Cisco: sparse ifIndex and VLAN rows without HC counters (32-bit fallback).
    cisco = vendor_polls["cisco-c3560"]
    assert max(row.index for row in cisco.interfaces) > 10000
    assert {row.counter_bits for row in cisco.interfaces} == {32, 64}
    # Ruijie names short in ifName, long with a space in ifDescr: one canonical key.
    ruijie = next(r for r in vendor_polls["ruijie-s5750"].interfaces if r.name == "Gi0/1")
    assert ruijie.descr == "GigabitEthernet 0/1"
    assert canonical_ifname(ruijie.name) == canonical_ifname(ruijie.descr) == "ge0/1"
    h3c = vendor_polls["h3c-comware"].interfaces[0]
    assert canonical_ifname(h3c.name) == canonical_ifname("XGE1/0/0/1") == "xge1/0/0/1"


def test_v3_authpriv_over_ipv6_with_context(snmpsim: Snmpsim, recordings: Path) -> None:
    credential = Credential(
        3, user=V3_USER, auth_key=V3_AUTH, priv_key=V3_PRIV, context="huawei-s12704"
    )
    [poll] = poll_once([Target("s12704-v3", "::1", credential, snmpsim.port)])
    assert poll.state == "reachable", poll.error
    data = recorded(recordings / "huawei-s12704.snmprec")
    assert poll.sys_name.encode() == data[tables.SYS_NAME]
    assert len(poll.interfaces) == len([o for o in data if o[:-1] == tables.IF_DESCR])
