"""net-snmp's snmpd in a namespace: v2c and v3 authPriv over IPv4 and IPv6,
the wrong key as a clear auth error, interfaces and rates as the kernel sees them."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from estate import load
from monitors.snmp import ber, tables
from monitors.snmp.collection import Collection
from monitors.snmp.poller import DevicePoll, Poller, PollerSettings
from monitors.snmp.session import Credential, RetryPolicy, Target, open_session
from monitors.snmp.transport import UdpTransport
from monitors.snmp.walk import walk_columns
from security.events import Event
from tests.snmp.agents import NamespaceSnmpd
from tests.waiting import wait_until

pytestmark = pytest.mark.lab
SETTINGS = PollerSettings(timeout_s=2.0, retries=1, slow_s=30)  # room on a loaded machine


def poll(targets: list[Target], cycles: int = 1, pause: float = 0.0) -> list[list[DevicePoll]]:
    poller = Poller(targets, SETTINGS)

    async def run() -> list[list[DevicePoll]]:
        results = []
        for cycle in range(cycles):
            if cycle:
                await asyncio.sleep(pause)
            results.append(await poller.poll())
        poller.close()
        return results

    return asyncio.run(run())


def credentials(agent: NamespaceSnmpd) -> dict[str, Credential]:
    (u1, _a1, k1, _p1, x1), (u2, _a2, k2, _p2, x2) = agent.users
    return {
        "v2c": Credential(2, community=agent.community),
        "sha-aes128": Credential(3, user=u1, auth_key=k1, priv_key=x1),
        "sha256-aes256": Credential(3, user=u2, auth_protocol="sha256", auth_key=k2,
                                    priv_protocol="aes256", priv_key=x2),
    }  # fmt: skip


def test_v2c_and_v3_over_ipv4_and_ipv6(snmpd: NamespaceSnmpd) -> None:
    targets = [
        Target(f"{name}-{family}", host, credential)
        for name, credential in credentials(snmpd).items()
        for family, host in (("v4", snmpd.address4), ("v6", snmpd.address6))
    ]
    [polls] = poll(targets)
    links = subprocess.run(["ip", "-n", snmpd.name, "-o", "link"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    kernel_names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
    for result in polls:
        assert result.state == "reachable", (result.device, result.error)
        assert result.vendor == "net-snmp"
        assert {row.name for row in result.interfaces} == kernel_names
        assert all(row.counter_bits == 64 for row in result.interfaces)
        # Both address families lead to the same interface (link mapping's fallback).
        assert result.addresses[snmpd.address4] == result.addresses[snmpd.address6]


def test_wrong_key_is_an_auth_error_not_a_crash(snmpd: NamespaceSnmpd) -> None:
    good = credentials(snmpd)["sha256-aes256"]
    wrong = Credential(3, user=good.user, auth_protocol="sha256", auth_key="not-the-key-1",
                       priv_protocol="aes256", priv_key=good.priv_key)  # fmt: skip
    [polls] = poll([Target("wrong-key", snmpd.address6, wrong),
                    Target("v2c", snmpd.address4, credentials(snmpd)["v2c"])])  # fmt: skip
    assert polls[0].state == "unreachable"
    assert polls[0].error_kind == "auth"
    assert "authentication failed" in (polls[0].error or "")
    assert "not-the-key" not in (polls[0].error or "")
    assert polls[1].state == "reachable"


def test_rates_follow_real_traffic(snmpd: NamespaceSnmpd) -> None:
    target = Target("v2c", snmpd.address4, credentials(snmpd)["v2c"])
    poller = Poller([target], SETTINGS)
    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(poller.poll())[0]
        inner = next(row for row in first.interfaces if row.name.endswith("n"))
        subprocess.run(["ping", "-q", "-f", "-s", "1400", "-w", "2", snmpd.address4],
                       stdout=subprocess.DEVNULL, timeout=30, check=False)  # fmt: skip

        def receiving() -> bool:
            rate = loop.run_until_complete(poller.poll())[0].rates[inner.index].receive_bps
            return rate is not None and rate > 100_000

        # snmpd caches interface counters for a few seconds: poll until the ping shows.
        wait_until(receiving, 20, "the ping in the inner interface's receive rate", every=0.5)
    finally:
        poller.close()
        loop.close()
    assert first.rates[inner.index].receive_bps is None  # no rate from a single sample


@pytest.mark.parametrize("name", ["sha-aes128", "sha256-aes256"])
def test_fast_v3_path_reads_exactly_what_pysnmp_reads(snmpd: NamespaceSnmpd, name: str) -> None:
    """The fast USM path against pysnmp's engine (the reference) on one agent."""
    credential = credentials(snmpd)[name]
    columns = [tables.IF_DESCR, tables.IF_NAME, tables.IF_TYPE, tables.IF_SPEED]

    async def read(
        engine: str,
    ) -> tuple[list[ber.VarBind], dict[ber.Oid, dict[ber.Oid, ber.Value]]]:
        transport = UdpTransport()
        target = Target(f"{name}-{engine}", snmpd.address6, credential)
        session = open_session(target, transport, RetryPolicy(2.0, 1), None, engine)  # type: ignore[arg-type]
        system = await session.get([*tables.SYSTEM_OIDS[:2], tables.SYS_NAME])
        walked = await walk_columns(session, columns)
        transport.close()
        return system, walked

    fast = asyncio.run(read("fast"))
    reference = asyncio.run(read("pysnmp"))
    assert fast == reference
    assert len(fast[1][tables.IF_NAME]) >= 2


def test_wrong_privacy_key_is_an_auth_error(snmpd: NamespaceSnmpd) -> None:
    good = credentials(snmpd)["sha-aes128"]
    wrong = Credential(3, user=good.user, auth_key=good.auth_key, priv_key="not-the-priv-key")
    [polls] = poll([Target("wrong-priv", snmpd.address4, wrong)])
    assert polls[0].state == "unreachable" and polls[0].error_kind == "auth", polls[0].error


def test_wrong_key_becomes_an_authentication_event(snmpd: NamespaceSnmpd, small_path: Path) -> None:
    estate = load(small_path)
    good = credentials(snmpd)["sha-aes128"]
    wrong = Credential(3, user=good.user, auth_key="wrong-auth-key", priv_key=good.priv_key)
    events: list[Event] = []
    collection = Collection(
        estate,
        [Target("hl-agg-1", snmpd.address4, wrong), Target("hl-agg-2", snmpd.address4, good)],
        SETTINGS,
        sink=events.append,
    )

    async def run() -> None:
        await collection.cycle()
        collection.close()

    asyncio.run(run())
    [event] = [e for e in events if e.action == "device-state-changed"]
    assert event.context.device == "hl-agg-1" and event.context.county == "hl"
    assert event.category == ("authentication",) and event.outcome == "failure"
    assert "authentication failed" in event.message and "wrong-auth-key" not in event.message
    assert event.dataset == "yunwang.snmp"
