"""Crafted broken answers are counted as errors; the poller carries on."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from monitors.snmp import ber
from monitors.snmp.poller import Poller, PollerSettings
from monitors.snmp.session import Credential, Target
from tests.snmp.agents import Snmpsim


def _good_answer(request: bytes) -> bytes:
    asked = ber.decode_message(request)
    binds = b"".join(
        ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(oid) + ber.tlv(ber.TAG_INTEGER, b"\x01"))
        for oid, _t, _v in asked.varbinds
    )
    pdu = ber.tlv(
        ber.PDU_RESPONSE,
        ber.encode_integer(asked.request_id) + ber.encode_integer(0) + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, binds),
    )  # fmt: skip
    return ber.tlv(ber.TAG_SEQUENCE, ber.encode_integer(1) + ber.tlv(4, asked.community) + pdu)


def _flip(data: bytes, back: int) -> bytes:
    return data[:-back] + bytes((data[-back] ^ 0xFF,)) + data[len(data) - back + 1 :]


# Answers to an SNMPv3 request: the request itself sent back damaged (same
# msgID, so it reaches the waiting request and must be refused there).
CRAFTED_V3 = {
    "v3-truncated": lambda req: req[:-5],
    "v3-ciphertext-flipped": lambda req: _flip(req, 3),
    "v3-bad-length": lambda req: b"\x30\x84\x7f\xff\xff\xff" + req[2:],
}

CRAFTED = {
    "truncated": lambda req: _good_answer(req)[:-3],
    "bad-length": lambda req: b"\x30\x84\xff\xff\xff\xff" + _good_answer(req)[2:],
    "garbage": lambda req: b"\xde\xad\xbe\xef" * 8,
    "wrong-value-tag": lambda req: _good_answer(req).replace(b"\x02\x01\x01", b"\x47\x01\x01"),
    "empty": lambda req: b"",
    "huge-integer": lambda req: _good_answer(req).replace(
        b"\x02\x01\x01", b"\x02\x09\x01" + b"\x00" * 8
    ),
}


@pytest.fixture
def crafting_agent() -> Iterator[tuple[int, list[str]]]:
    """A UDP responder on 127.0.0.1 answering each request with the next
    crafted message (cycling through CRAFTED)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    sent: list[str] = []

    def serve() -> None:
        kinds = list(CRAFTED)
        while not stop.is_set():
            try:
                request, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            if ber.message_version(request) == 3:
                kind = list(CRAFTED_V3)[len(sent) % len(CRAFTED_V3)]
                answer = CRAFTED_V3[kind](request)
            else:
                kind = kinds[len(sent) % len(kinds)]
                answer = CRAFTED[kind](request)
            sent.append(kind)
            sock.sendto(answer, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], sent
    stop.set()
    thread.join()
    sock.close()


def test_malformed_answers_are_counted_and_others_still_polled(
    crafting_agent: tuple[int, list[str]], snmpsim: Snmpsim
) -> None:
    port, sent = crafting_agent
    bad = Target("crafted", "127.0.0.1", Credential(2, community="c"), port)
    good = Target("ruijie", "127.0.0.1", Credential(2, community="ruijie-s5750"), snmpsim.port)
    # Every crafted answer is dropped, so each cycle waits out the timeout:
    # 2 s, not 0.5, so the healthy snmpsim answers in time on a loaded machine.
    poller = Poller([bad, good], PollerSettings(timeout_s=2.0, retries=0, slow_s=30))

    async def cycles() -> list[list[str]]:
        states = []
        for _ in range(len(CRAFTED)):
            polls = await poller.poll()
            states.append([p.state for p in polls])
        poller.close()
        return states

    states = asyncio.run(cycles())
    assert all(state == ["unreachable", "reachable"] for state in states)
    # Every crafted kind was sent, and every one counted as malformed.
    assert set(sent) == set(CRAFTED)
    assert poller.errors[("crafted", "malformed")] == len(CRAFTED)
    assert poller.transport.stats.malformed >= len(CRAFTED) - 1


def test_damaged_snmpv3_answers_are_malformed_not_auth_errors(
    crafting_agent: tuple[int, list[str]],
) -> None:
    port, sent = crafting_agent
    credential = Credential(3, user="ywsnmp", auth_key="yw-auth-key-1", priv_key="yw-priv-key-1")
    target = Target("crafted-v3", "127.0.0.1", credential, port)
    poller = Poller([target], PollerSettings(timeout_s=2.0, retries=0, slow_s=30))

    async def cycles() -> list[str | None]:
        kinds = []
        for _ in range(len(CRAFTED_V3)):
            [poll] = await poller.poll()
            kinds.append(poll.error_kind)
        poller.close()
        return kinds

    assert asyncio.run(cycles()) == ["malformed"] * len(CRAFTED_V3)
    assert set(sent) == set(CRAFTED_V3)
