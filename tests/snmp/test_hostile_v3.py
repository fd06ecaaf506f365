"""One hostile or spoofed SNMPv3 device costs its own poll, nothing more.

The hostile agent (tests/snmp/hostile.py) is a real UDP agent on loopback
serving a vendor recording over authPriv; each test makes it lie in one way,
next to a good device served by snmpsim, and checks what the poller made of
it: the good device's data, the hostile device's state and error kind, the
engine state the poller sends with its next request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from estate import load
from monitors.exporter import CollectionCollector
from monitors.snmp import ber, tables, usm
from monitors.snmp.collection import Collection, Snapshot
from monitors.snmp.poller import DevicePoll, Poller, PollerSettings
from monitors.snmp.recordings import records
from monitors.snmp.session import Credential, Target
from monitors.snmp.transport import UdpTransport
from security.events import Event
from tests.snmp.agents import Snmpsim
from tests.snmp.hostile import Answer, HostileAgent, Request, response_pdu, seal, vendor_recording

# 2 s: an honest answer late under load would read as a retry ("slow") or a
# second request, which several tests here count; garbage costs 2 x 2 s.
SETTINGS = PollerSettings(timeout_s=2.0, retries=1, slow_s=30, routing=False)


def cycles(poller: Poller, count: int = 1) -> list[list[DevicePoll]]:
    async def run() -> list[list[DevicePoll]]:
        try:
            return [await poller.poll() for _ in range(count)]
        finally:
            poller.close()

    return asyncio.run(run())


def good_device(snmpsim: Snmpsim) -> Target:
    return Target("good", "127.0.0.1", Credential(2, community="huawei-s5720"), snmpsim.port)


def sys_name(recording: Path) -> str:
    return next(v for o, _t, v in records(recording) if o == tables.SYS_NAME).decode()  # type: ignore[union-attr]


def assert_good(poll: DevicePoll) -> None:
    assert poll.state == "reachable", poll.error
    assert poll.sys_name and poll.interfaces


# -- 1: any exception from one device is that device's error ----------------


def bad_discovery(boots: int, engine_time: int) -> Answer:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if not request.discovery:
            return [honest]
        pdu = response_pdu(
            request.request_id,
            [(ber.oid_from_str("1.3.6.1.6.3.15.1.1.4.0"), ber.TAG_COUNTER32, 1)],
            ber.PDU_REPORT,
        )
        return [seal(request.msg_id, pdu, keys=None, flags=0, boots=boots,
                     engine_time=engine_time, user=b"")]  # fmt: skip

    return answer


@pytest.mark.parametrize(
    ("boots", "engine_time"), [(-1, 5), (2**32, 5), (2**31, 5), (3, -1), (3, 2**40)]
)
def test_engine_boots_out_of_range_in_discovery_costs_only_that_device(
    recordings: Path, snmpsim: Snmpsim, boots: int, engine_time: int
) -> None:
    agent = HostileAgent(vendor_recording(recordings), bad_discovery(boots, engine_time))
    with agent:
        poller = Poller([agent.target(), good_device(snmpsim)], SETTINGS)
        [[hostile, good]] = cycles(poller)
    assert hostile.state == "unreachable" and hostile.error_kind == "malformed", hostile.error
    assert_good(good)
    assert poller.errors[("hostile", "malformed")] == 1


def test_a_hostile_device_is_one_event_and_a_metric_not_a_dead_cycle(
    recordings: Path, snmpsim: Snmpsim, small_path: Path
) -> None:
    """What an operator sees of item 1: the device's failure as one
    device-state event (not one per cycle) and as yunwang_snmp_errors_total
    on the exporter, while the good device keeps its data."""
    agent = HostileAgent(vendor_recording(recordings), bad_discovery(-1, 5))
    events: list[Event] = []
    with agent:
        hostile = replace(agent.target(), name="hl-agg-1")
        good = replace(good_device(snmpsim), name="hl-agg-2")
        collection = Collection(load(small_path), [hostile, good], SETTINGS, sink=events.append)

        async def run() -> list[Snapshot]:
            try:
                return [await collection.cycle() for _ in range(3)]
            finally:
                collection.close()

        snapshots = asyncio.run(run())
    for snapshot in snapshots:
        assert snapshot.polls["hl-agg-1"].error_kind == "malformed"
        assert_good(snapshot.polls["hl-agg-2"])
    [event] = [e for e in events if e.context.device == "hl-agg-1"]
    assert event.action == "device-state-changed" and event.outcome == "failure"
    assert dict(event.labels)["error_kind"] == "malformed"
    assert not [e for e in events if e.context.device == "hl-agg-2"]
    registry = CollectorRegistry()
    registry.register(CollectionCollector(collection))
    assert (
        registry.get_sample_value(
            "yunwang_snmp_errors_total", {"device": "hl-agg-1", "kind": "malformed"}
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "yunwang_snmp_errors_total", {"device": "hl-agg-2", "kind": "malformed"}
        )
        is None
    )


def test_out_of_range_boots_in_an_authenticated_report_costs_only_that_device(
    recordings: Path, snmpsim: Snmpsim
) -> None:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery:
            return [honest]
        agent.boots = 2**32 + 7  # an agent that "rebooted" past every counter
        return [agent.report(request, 2, authenticated=True)]

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        poller = Poller([agent.target(), good_device(snmpsim)], SETTINGS)
        [[hostile, good]] = cycles(poller)
    assert hostile.state == "unreachable" and hostile.error_kind == "malformed", hostile.error
    assert_good(good)


def test_a_device_that_breaks_the_transport_does_not_stop_the_others(snmpsim: Snmpsim) -> None:
    """A port the socket refuses (a typo in an inventory) raised OverflowError
    inside asyncio's sendto, which closes the shared socket: every device of
    the process went dark. Now it is that device's config error."""
    bad = Target("typo", "127.0.0.1", Credential(2, community="c"), 70000)
    poller = Poller([bad, good_device(snmpsim)], SETTINGS)
    for typo, good in cycles(poller, 2):
        assert typo.state == "unreachable" and typo.error_kind == "config", typo.error
        assert_good(good)
    assert poller.errors[("typo", "config")] == 2


# -- 2: engine boots/time only from authenticated messages ------------------


def test_spoofed_reports_neither_move_the_engine_clock_nor_fail_the_poll(
    recordings: Path, snmpsim: Snmpsim
) -> None:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery:
            return [honest]
        spoofs = []
        for stat in (2, 5, 3):  # notInTimeWindow, wrongDigest, unknownUserName
            pdu = response_pdu(
                request.request_id,
                [(ber.oid_from_str(f"1.3.6.1.6.3.15.1.1.{stat}.0"), ber.TAG_COUNTER32, 9)],
                ber.PDU_REPORT,
            )
            spoofs.append(seal(request.msg_id, pdu, keys=None, flags=0, boots=4242,
                               engine_time=77, user=b""))  # fmt: skip
        return [*spoofs, honest]

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        poller = Poller([agent.target(), good_device(snmpsim)], SETTINGS)
        polls = cycles(poller, 2)
    for hostile, good in polls:
        assert hostile.state == "reachable", hostile.error
        assert hostile.sys_name == sys_name(vendor_recording(recordings))
        assert_good(good)
    authenticated = [r for r in agent.requests if not r.discovery]
    assert {r.boots for r in authenticated} == {agent.boots}
    assert all(abs(r.engine_time - agent.engine_time()) < 5 for r in authenticated)
    assert not poller.errors


def test_an_authenticated_time_window_report_is_adopted(recordings: Path) -> None:
    """The agent rebooted between discovery and the request: its
    authenticated notInTimeWindow Report carries the new boots, which the
    poller adopts and retries with."""

    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery or request.boots == agent.boots == 9:
            return [honest]
        agent.boots = 9
        return [agent.report(request, 2, authenticated=True)]

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        [[hostile]] = cycles(Poller([agent.target()], SETTINGS))
    assert hostile.state == "reachable", hostile.error
    assert agent.requests[-1].boots == 9


# -- 3: only a Response to this request is an answer ------------------------


def test_a_reflected_request_is_not_taken_for_its_answer(
    recordings: Path, snmpsim: Snmpsim
) -> None:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery:
            return [request.raw, honest]
        other_id = response_pdu(request.request_id ^ 1, [(tables.SYS_NAME, 4, b"forged")])
        return [
            request.raw,  # our own authPriv request: it authenticates with our key
            # another request-id:
            seal(
                request.msg_id,
                other_id,
                keys=agent.keys,
                boots=agent.boots,
                engine_time=agent.engine_time(),
            ),
            agent.answer(request, pdu_type=ber.PDU_GET),  # not a Response
            honest,
        ]

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        poller = Poller([agent.target(), good_device(snmpsim)], SETTINGS)
        [[hostile, good]] = cycles(poller)
    assert hostile.state == "reachable", hostile.error
    assert hostile.sys_name == sys_name(vendor_recording(recordings))
    assert hostile.interfaces
    assert_good(good)


# -- 4: the RFC 3414 time window --------------------------------------------


def test_stale_and_replayed_answers_are_dropped(recordings: Path) -> None:
    captured: list[bytes] = []

    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery:
            return [honest]
        forged = response_pdu(request.request_id, [(tables.SYS_NAME, 4, b"stale")] * len(
            request.varbinds))  # fmt: skip
        stale = seal(request.msg_id, forged, keys=agent.keys, boots=agent.boots,
                     engine_time=agent.engine_time() - 200)  # fmt: skip
        older_boots = seal(request.msg_id, forged, keys=agent.keys, boots=agent.boots - 1,
                           engine_time=agent.engine_time() + 500)  # fmt: skip
        sent = [*captured[-1:], honest] if len(agent.requests) == 2 else [
            *captured[-1:], stale, older_boots, honest]  # fmt: skip
        captured.append(honest)
        return sent

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        poller = Poller([agent.target()], SETTINGS)
        [[first], [second]] = cycles(poller, 2)
    for poll in (first, second):
        assert poll.state == "reachable", poll.error
        assert poll.sys_name == sys_name(vendor_recording(recordings))
    assert poller.transport.stats.stray >= len(agent.requests) - 2  # the replays
    assert poller.transport.stats.rejected >= 2 * (len(agent.requests) - 3)


# -- 5: a bad datagram does not fail someone else's request -----------------


def test_spoofed_and_malformed_datagrams_are_dropped_and_the_answer_still_counts(
    recordings: Path, snmpsim: Snmpsim
) -> None:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        flipped = bytearray(honest)
        flipped[-3] ^= 0x40
        wrong_user = agent.answer(request, user=b"someone-else")
        wrong_engine = agent.answer(request, engine_id=b"\x80\x00\x00\x00\x01other")
        no_priv = agent.answer(request, flags=usm.FLAG_AUTH)
        return [b"\xde\xad\xbe\xef", honest[:-7], bytes(flipped), b"",
                wrong_user, wrong_engine, no_priv, honest]  # fmt: skip

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        poller = Poller([agent.target(), good_device(snmpsim)], SETTINGS)
        [[hostile, good]] = cycles(poller)
    assert hostile.state == "reachable", hostile.error
    assert hostile.requests == len(agent.requests)  # no retries: each first answer counted
    assert hostile.sys_name == sys_name(vendor_recording(recordings))
    assert_good(good)
    assert poller.transport.stats.malformed >= 3 * len(agent.requests)


# -- 6: unsolicited datagrams are not decoded --------------------------------


def test_unsolicited_datagrams_do_not_fill_the_oid_cache(snmpsim: Snmpsim) -> None:
    import socket

    poller = Poller([good_device(snmpsim)], SETTINGS)

    async def run() -> DevicePoll:
        await poller.poll()
        before = ber.OID_CACHE.bytes
        received = poller.transport.stats.received
        local = poller.transport._endpoints[4].get_extra_info("sockname")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
            for n in range(2000):
                oid = (1, 3, 6, 1, 4, 1, 99999, n, *range(100))
                binds = ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(oid) + b"\x05\x00")
                pdu = ber.tlv(ber.PDU_RESPONSE, ber.encode_integer(n + 1) + b"\x02\x01\x00" * 2
                              + ber.tlv(ber.TAG_SEQUENCE, binds))  # fmt: skip
                message = ber.tlv(ber.TAG_SEQUENCE, b"\x02\x01\x01\x04\x01c" + pdu)
                spoofer.sendto(message, local)
                if n % 50 == 0:
                    await asyncio.sleep(0.01)  # let the poller read: no kernel drops
        deadline = time.monotonic() + 30  # every spoof read before the cache is looked at
        while poller.transport.stats.received < received + 2000:
            assert time.monotonic() < deadline, poller.transport.stats
            await asyncio.sleep(0.01)
        [second] = await poller.poll()
        assert ber.OID_CACHE.bytes == before
        poller.close()
        return second

    assert_good(asyncio.run(run()))
    assert poller.transport.stats.stray >= 1000


def test_garbage_from_a_device_address_does_not_cancel_its_retry(recordings: Path) -> None:
    """Anyone can send undecodable bytes from a device's address (UDP source
    spoofing needs no request-id). When the real answer is lost, the request
    must still be retried, not ended as "malformed" by the garbage."""
    lost: list[Request] = []

    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if request.discovery or lost:
            return [honest]
        lost.append(request)
        return [b"\x30\x03\x02\x01"]  # the real answer lost, garbage in its place

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        [[hostile]] = cycles(Poller([agent.target()], SETTINGS))
    assert hostile.state == "slow" and hostile.error is None  # it took a retry
    assert hostile.sys_name == sys_name(vendor_recording(recordings))


def test_a_device_that_only_answers_garbage_ends_malformed_after_its_retries(
    recordings: Path,
) -> None:
    def answer(agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        return [honest] if request.discovery else [b"\x30\x03\x02\x01"]

    with HostileAgent(vendor_recording(recordings), answer) as agent:
        [[hostile]] = cycles(Poller([agent.target()], SETTINGS))
    assert hostile.error_kind == "malformed", hostile.error
    assert len([r for r in agent.requests if not r.discovery]) == SETTINGS.retries + 1


def test_request_ids_cannot_be_predicted_from_a_devices_own_requests() -> None:
    """One shared id space serves every device: a hostile device that saw its
    own request-ids must not know the ones its neighbours' answers need."""
    transport = UdpTransport()
    ids = [transport.next_request_id() for _ in range(1000)]
    assert all(0 < i <= 0x7FFFFFFF for i in ids)
    steps = {b - a for a, b in pairwise(ids)}
    assert len(steps) > 990  # a counter has one step; random ids almost never repeat one
