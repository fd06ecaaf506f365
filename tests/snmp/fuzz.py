"""Fuzzing the SNMPv3 path of a live poll cycle (tests/snmp/test_v3_fuzz.py
and bench/snmp_hostile.py).

One hostile agent (tests/snmp/hostile.py) sits among good devices served by
snmpsim. Each cycle picks one mutation and applies it, with fresh random
values, to every request the hostile device gets:

- a *spoof* is what anyone on the path can send without the keys (garbage,
  truncations, flipped bits and lengths, unauthenticated Reports and
  Responses with any flags, boots, time, user, engine id or PDU type, our
  own request reflected, other msgIDs). It goes out before the honest
  answer, which must still be taken: the hostile device is polled as if
  nothing happened.
- a *broken* answer is sealed with the agent's own key (a compromised or
  buggy agent) and replaces the honest one: out-of-range or stale boots and
  time, another user or engine id, other PDU types, request-ids and flags,
  OIDs past 128 sub-identifiers or 2^32-1. The hostile device may fail, as
  a counted error of a known kind, never an internal one.

Either way the cycle completes and every good device's data equals what a
clean cycle read. A cycle's verdict counts for every datagram it fuzzed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitors.snmp import ber, tables, usm
from monitors.snmp.poller import DevicePoll, Poller
from tests.snmp.hostile import ENGINE_ID, USM_STATS, HostileAgent, Request, response_pdu, seal

Mutation = Callable[[HostileAgent, Request, bytes, random.Random], bytes]
OUT_OF_RANGE = [-1, -(2**31), 2**31, 2**32, 2**32 + 3, 2**63, 2**100]


def _any_int(rng: random.Random, agent: HostileAgent, now: int) -> int:
    return rng.choice([*OUT_OF_RANGE, 0, 1, agent.boots, now, now - 151, now + 10**6])


def _noise_pdu(request: Request, rng: random.Random) -> bytes:
    pdu_type = rng.choice([0xA0, 0xA1, 0xA2, 0xA3, 0xA5, 0xA6, 0xA7, 0xA8, 0xAF, 0x30])
    body = ber.encode_integer(request.request_id) + rng.randbytes(rng.randrange(0, 40))
    return ber.tlv(pdu_type, body)


def _unauthenticated(agent: HostileAgent, request: Request, rng: random.Random) -> bytes:
    """A message without the keys: any header, any flags (a MAC the
    poller can't verify, or none), any PDU."""
    now = agent.engine_time()
    honest_pdu = response_pdu(request.request_id, [(tables.SYS_NAME, 4, b"spoofed")])
    return seal(
        request.msg_id,
        rng.choice([honest_pdu, _noise_pdu(request, rng)]),
        keys=None,
        flags=rng.randrange(256),
        engine_id=rng.choice([b"", ENGINE_ID, rng.randbytes(rng.randrange(1, 64))]),
        boots=_any_int(rng, agent, now),
        engine_time=_any_int(rng, agent, now),
        user=rng.choice([b"", b"ywhostile", rng.randbytes(rng.randrange(1, 64))]),
    )


def _spoofed_report(agent: HostileAgent, request: Request, rng: random.Random) -> bytes:
    stat = rng.randrange(1, 8)
    pdu = response_pdu(
        rng.choice([request.request_id, 0]),
        [(ber.oid_from_str(f"{USM_STATS}{stat}.0"), ber.TAG_COUNTER32, rng.randrange(2**32))],
        ber.PDU_REPORT,
    )
    now = agent.engine_time()
    return seal(request.msg_id, pdu, keys=None, flags=rng.choice([0, 4]),
                boots=rng.randrange(2**31), engine_time=_any_int(rng, agent, now) % 2**31,
                user=b"")  # fmt: skip


def _flip_bits(data: bytes, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def _bad_length(data: bytes, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    at = rng.randrange(1, min(len(damaged), 80))
    damaged[at] = rng.choice([0x00, 0x7F, 0x80, 0x81, 0x84, 0x85, 0xFF, (damaged[at] + 1) % 256])
    return bytes(damaged)


SPOOFS: dict[str, Mutation] = {
    "garbage": lambda a, r, h, rng: rng.randbytes(rng.randrange(0, 300)),
    "truncated": lambda a, r, h, rng: h[: rng.randrange(len(h))],
    "bits": lambda a, r, h, rng: _flip_bits(h, rng),
    "lengths": lambda a, r, h, rng: _bad_length(h, rng),
    "unauthenticated": lambda a, r, h, rng: _unauthenticated(a, r, rng),
    "report": lambda a, r, h, rng: _spoofed_report(a, r, rng),
    "reflected": lambda a, r, h, rng: r.raw,
    "other-msgid": lambda a, r, h, rng: seal(
        rng.randrange(2**31), response_pdu(r.request_id, []), keys=None, flags=0
    ),
}


def _sealed(agent: HostileAgent, request: Request, **fields: object) -> bytes:
    return agent.answer(request, **fields)


def _broken_clock(agent: HostileAgent, request: Request, rng: random.Random) -> bytes:
    now = agent.engine_time()
    boots, engine_time = rng.choice(
        [
            (rng.choice(OUT_OF_RANGE), now),
            (agent.boots, rng.choice(OUT_OF_RANGE)),
            (agent.boots - 1, now),  # an older boot: a replay
            (agent.boots, max(0, now - 151 - rng.randrange(10**6))),  # stale
            (agent.boots + 1, rng.randrange(100)),  # it rebooted: to be believed
            (agent.boots, now + rng.randrange(1, 10**5)),  # its clock jumped
        ]
    )
    if 0 <= boots < usm.ENGINE_MAX and 0 <= engine_time <= usm.ENGINE_MAX:
        # An agent that says so with its key has rebooted or jumped, and
        # goes on from there (what the poller may adopt, it must keep).
        if boots > agent.boots or (boots == agent.boots and engine_time > now):
            agent.boots = boots
            agent.started_time = engine_time - int(time.monotonic() - agent.epoch)
    return _sealed(agent, request, boots=boots, engine_time=engine_time)


def _long_oids(agent: HostileAgent, request: Request, rng: random.Random) -> bytes:
    oid = rng.choice(
        [
            (1, 3, *([1] * 127)),  # 129 sub-identifiers
            (1, 3, 6, 1, 2**32),
            (1, 3, 6, 1, 2**64),
        ]
    )
    content = b"\x2b" + b"".join(_arc(arc) for arc in oid[2:])
    name = ber.tlv(ber.TAG_OID, content)
    binds = ber.tlv(ber.TAG_SEQUENCE, ber.tlv(ber.TAG_SEQUENCE, name + b"\x05\x00"))
    body = ber.encode_integer(request.request_id) + b"\x02\x01\x00\x02\x01\x00" + binds
    return seal(request.msg_id, ber.tlv(ber.PDU_RESPONSE, body), keys=agent.keys,
                boots=agent.boots, engine_time=agent.engine_time())  # fmt: skip


def _other_request_id(agent: HostileAgent, request: Request, rng: random.Random) -> bytes:
    pdu = response_pdu(request.request_id ^ rng.randrange(1, 2**31), [])
    return seal(request.msg_id, pdu, keys=agent.keys, boots=agent.boots,
                engine_time=agent.engine_time())  # fmt: skip


def _arc(value: int) -> bytes:
    chunk = [value & 0x7F]
    value >>= 7
    while value:
        chunk.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(chunk))


BROKEN: dict[str, Mutation] = {
    "clock": lambda a, r, h, rng: _broken_clock(a, r, rng),
    "flags": lambda a, r, h, rng: _sealed(a, r, flags=rng.randrange(256)),
    "user": lambda a, r, h, rng: _sealed(a, r, user=rng.randbytes(rng.randrange(0, 64))),
    "engine-id": lambda a, r, h, rng: _sealed(a, r, engine_id=rng.randbytes(rng.randrange(0, 64))),
    "pdu-type": lambda a, r, h, rng: _sealed(a, r, pdu_type=rng.choice([0xA0, 0xA1, 0xA5, 0xA3])),
    "request-id": lambda a, r, h, rng: _other_request_id(a, r, rng),
    "long-oids": lambda a, r, h, rng: _long_oids(a, r, rng),
    "salt": lambda a, r, h, rng: _sealed(a, r, salt=rng.randbytes(rng.choice([0, 7, 9, 64]))),
}


@dataclass
class Tally:
    tried: int = 0  # fuzzed datagrams sent
    survived: int = 0  # ...in cycles where everything held
    lost: int = 0  # ...in cycles where something did not
    cycles: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # mutation -> datagrams
    failures: list[str] = field(default_factory=list)


@dataclass
class Fuzzer:
    """The hostile agent's behaviour: honest until `arm`ed for a cycle."""

    rng: random.Random
    mode: str = ""  # "", "spoof" or "broken"
    kind: str = ""
    sent: int = 0

    def arm(self, mode: str, kind: str) -> None:
        self.mode, self.kind, self.sent = mode, kind, 0

    def __call__(self, agent: HostileAgent, request: Request, honest: bytes) -> list[bytes]:
        if self.mode == "spoof":
            mutate = SPOOFS[self.kind]
            spoofs = [
                mutate(agent, request, honest, self.rng) for _ in range(self.rng.randrange(1, 4))
            ]
            self.sent += len(spoofs)
            return [*spoofs, honest]
        if self.mode == "broken" and not request.discovery:
            self.sent += 1
            return [BROKEN[self.kind](agent, request, honest, self.rng)]
        return [honest]


def essence(poll: DevicePoll) -> tuple[object, ...]:
    """What a cycle read from a device: the error if any, the system group
    and every interface's identity, status and which counters it has (a live
    agent's counters move between cycles; a recording's don't)."""
    rows = [
        (i.index, i.name, i.descr, i.alias, i.admin_up, i.oper_status, i.speed_bps,
         i.counter_bits, i.in_octets is None, i.out_octets is None)
        for i in poll.interfaces
    ]  # fmt: skip
    return (poll.error, poll.sys_name, poll.sys_descr, rows)


async def fuzz_cycles(
    poller: Poller, fuzzer: Fuzzer, hostile: str, datagrams: int, seconds: float
) -> Tally:
    """Clean cycle first (the reference), then fuzzed cycles until
    `datagrams` were sent or `seconds` passed."""
    reference = {p.device: essence(p) for p in await poller.poll()}
    assert all(read[0] is None for read in reference.values()), reference
    tally = Tally()
    kinds = [("spoof", k) for k in SPOOFS] + [("broken", k) for k in BROKEN]
    deadline = time.monotonic() + seconds
    while tally.tried < datagrams and time.monotonic() < deadline:
        mode, kind = kinds[tally.cycles % len(kinds)]
        fuzzer.arm(mode, kind)
        problems: list[str] = []
        try:
            polls = await poller.poll()
        except Exception as error:  # what must never happen: the cycle itself fails
            polls, problems = [], [f"cycle raised {error!r}"]
        sent = fuzzer.sent
        fuzzer.arm("", "")
        for poll in polls:
            if poll.device != hostile:
                if essence(poll) != reference[poll.device]:
                    problems.append(f"good device {poll.device} changed: {poll.error}")
            elif mode == "spoof" and essence(poll) != reference[hostile]:
                problems.append(f"spoofed device lost its answer: {poll.error}")
            elif poll.error_kind == "internal":
                problems.append(f"internal error: {poll.error}")
        tally.cycles += 1
        tally.tried += sent
        tally.kinds[f"{mode}:{kind}"] = tally.kinds.get(f"{mode}:{kind}", 0) + sent
        if problems:
            tally.lost += sent
            tally.failures += [f"{mode}:{kind}: {p}" for p in problems]
        else:
            tally.survived += sent
        await asyncio.sleep(0)
    return tally
