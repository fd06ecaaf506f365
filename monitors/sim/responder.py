"""A fast SNMP agent for the simulated estate, on the project's own codec.

snmpsim answers through pysnmp and pyasn1 (hundreds of microseconds per
varbind): one process could not keep up with a poller walking 3,000
devices. This agent answers GET, GETNEXT and GETBULK for v2c and v3
authPriv from the generator's records (monitors/sim/generator.py), encoded
once at start; only the few `numeric` values (counters, flapping status,
a silent failure's onset) are computed per request, with the semantics the
generator's docstring gives: `initial + scale * f(rate * t)`, f the
identity or `fmod(., 2)`, clamped to [min, max] (or wrapped with `wrap`),
t seconds since the simulation started.

A device is picked by the v3 context name, or by the v2c community (the
device name), as snmpsim does. Run as `python -m monitors.sim.responder
FD`: the parent (monitors/sim/fast.py) binds the UDP socket, passes its
descriptor, and pickles the configuration (records and keys, localised by
the parent: pysnmp, which derives them, is never loaded here) into stdin, so
no key touches the disk or the command line. Anything malformed costs only
its own datagram.
"""

from __future__ import annotations

import math
import pickle
import socket
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from monitors.snmp import ber, usm
from monitors.snmp.ber import Oid, encode_integer, encode_oid, tlv

Record = tuple[str, str, str]  # (oid, snmprec type, value), as the generator makes them
Value = bytes | Callable[[float], bytes]  # a TLV, or a TLV computed from the elapsed time
MAX_RESPONSE = 60_000  # octets of varbinds; a GETBULK stops short of the UDP limit
MAX_REPETITIONS = 256
_UNKNOWN_ENGINE = ber.oid_from_str("1.3.6.1.6.3.15.1.1.4.0")
_UNKNOWN_USER = ber.oid_from_str("1.3.6.1.6.3.15.1.1.3.0")
_WRONG_DIGEST = ber.oid_from_str("1.3.6.1.6.3.15.1.1.5.0")
_NOT_IN_TIME = ber.oid_from_str("1.3.6.1.6.3.15.1.1.2.0")
_END_OF_MIB = b"\x82\x00"
_NO_SUCH_OBJECT = b"\x80\x00"
_UNSIGNED = {0x41: 2**32, 0x42: 2**32, 0x43: 2**32, 0x46: 2**64}


@dataclass(frozen=True)
class Config:
    devices: dict[str, list[Record]]
    keys: dict[str, usm.LocalKeys]  # user -> keys localised to `engine_id` (by the parent)
    engine_id: bytes
    started: float  # time.time() the scenario's clock starts at (shared by all processes)
    boots: int = 1


def _integer_tlv(tag: int, value: int) -> bytes:
    """A recorded number under its tag; unsigned types wrap as counters do."""
    return ber.encode_value(tag, value % _UNSIGNED[tag] if tag in _UNSIGNED else value)


def _static(tag: int, hex_value: bool, text: str) -> bytes:
    if tag == ber.TAG_OCTET_STRING or tag == ber.TAG_OPAQUE:
        raw = bytes.fromhex(text) if hex_value else text.encode("utf-8", "surrogateescape")
        return tlv(tag, raw)
    if tag == ber.TAG_IPADDRESS:
        raw = bytes.fromhex(text) if hex_value else bytes(int(p) for p in text.split("."))
        return tlv(tag, raw)
    if tag == ber.TAG_OID:
        return encode_oid(ber.oid_from_str(text))
    if tag == ber.TAG_NULL:
        return b"\x05\x00"
    return _integer_tlv(tag, int(text))


def _numeric(tag: int, settings: str) -> Callable[[float], bytes]:
    given = dict(item.partition("=")[::2] for item in settings.split(","))
    rate = float(given.get("rate", 1))
    scale = float(given.get("scale", 1))
    initial = float(given.get("initial", 0))
    low = float(given.get("min", 0))
    high = float(given["max"]) if "max" in given else math.inf
    wrap = given.get("wrap") == "1" and high != math.inf
    stepped = given.get("function", "").startswith("fmod")

    def value(t: float) -> bytes:
        x = rate * t
        v = initial + scale * (math.fmod(x, 2) if stepped else x)
        v = low + (v - low) % (high - low + 1) if wrap else min(max(v, low), high)
        return _integer_tlv(tag, int(v))

    return value


def compile_value(kind: str, text: str) -> Value:
    kind, _, variation = kind.partition(":")
    hex_value = kind.endswith("x")
    tag = int(kind.rstrip("xe"))
    if variation == "numeric":
        return _numeric(tag, text)
    if variation:
        raise ValueError(f"variation {variation!r} is not simulated")
    return _static(tag, hex_value, text)


class Device:
    """One device's MIB: sorted OIDs, their encoded names and values."""

    def __init__(self, records: list[Record]) -> None:
        rows = sorted((ber.oid_from_str(oid), kind, value) for oid, kind, value in records)
        self.oids: list[Oid] = [oid for oid, _, _ in rows]
        self.names: list[bytes] = [encode_oid(oid) for oid in self.oids]
        self.values: list[Value] = [compile_value(kind, value) for _, kind, value in rows]
        self.index = {oid: i for i, oid in enumerate(self.oids)}

    def bind(self, i: int, t: float) -> bytes:
        value = self.values[i]
        return tlv(
            ber.TAG_SEQUENCE, self.names[i] + (value if isinstance(value, bytes) else value(t))
        )

    def get(self, oid: Oid, t: float) -> bytes:
        i = self.index.get(oid)
        if i is None:
            return tlv(ber.TAG_SEQUENCE, encode_oid(oid) + _NO_SUCH_OBJECT)
        return self.bind(i, t)

    def next_index(self, oid: Oid) -> int:
        return bisect_right(self.oids, oid)

    def end(self, oid: Oid) -> bytes:
        return tlv(ber.TAG_SEQUENCE, encode_oid(oid) + _END_OF_MIB)


def response_pdu(
    device: Device, pdu_type: int, request_id: int, first: int, second: int,
    oids: list[Oid], t: float,
) -> bytes:  # fmt: skip
    """The Response to GET, GETNEXT or GETBULK (first/second: non-repeaters
    and max-repetitions for GETBULK)."""
    binds: list[bytes] = []
    if pdu_type == ber.PDU_GET:
        binds = [device.get(oid, t) for oid in oids]
    elif pdu_type == ber.PDU_GETNEXT:
        for oid in oids:
            i = device.next_index(oid)
            binds.append(device.bind(i, t) if i < len(device.oids) else device.end(oid))
    else:
        non_repeaters = min(max(first, 0), len(oids))
        for oid in oids[:non_repeaters]:
            i = device.next_index(oid)
            binds.append(device.bind(i, t) if i < len(device.oids) else device.end(oid))
        size = sum(map(len, binds))
        cursors = [device.next_index(oid) for oid in oids[non_repeaters:]]
        last = list(oids[non_repeaters:])
        for _ in range(min(max(second, 0), MAX_REPETITIONS)):
            if not cursors or size > MAX_RESPONSE:
                break
            for k, i in enumerate(cursors):
                bind = device.bind(i, t) if i < len(device.oids) else device.end(last[k])
                if i < len(device.oids):
                    last[k] = device.oids[i]
                cursors[k] = i + 1
                binds.append(bind)
                size += len(bind)
            if all(i > len(device.oids) for i in cursors):
                break
    body = b"".join(binds)
    return tlv(
        ber.PDU_RESPONSE,
        encode_integer(request_id) + encode_integer(0) + encode_integer(0)
        + tlv(ber.TAG_SEQUENCE, body),
    )  # fmt: skip


class Agent:
    def __init__(self, config: Config) -> None:
        self.devices = {name.encode(): Device(records) for name, records in config.devices.items()}
        self.started = config.started
        self.engine = usm.EngineState(
            config.engine_id, config.boots, int(time.time() - config.started), time.monotonic()
        )
        self.keys = {user.encode(): keys for user, keys in config.keys.items()}
        self.counters = {"unknownEngine": 0, "unknownUser": 0, "wrongDigest": 0, "notInTime": 0}
        self.dropped = 0

    def answer(self, data: bytes) -> bytes | None:
        try:
            if ber.message_version(data) == 3:
                return self._answer_v3(data)
            return self._answer_v2c(data)
        except (ber.BerError, usm.UsmError, ValueError, IndexError):
            self.dropped += 1
            return None

    def _answer_v2c(self, data: bytes) -> bytes | None:
        request = ber.decode_message(data)
        device = self.devices.get(request.community)
        if device is None or request.pdu_type not in (ber.PDU_GET, ber.PDU_GETNEXT,
                                                      ber.PDU_GETBULK):  # fmt: skip
            self.dropped += 1
            return None
        pdu = response_pdu(
            device, request.pdu_type, request.request_id, request.error_status,
            request.error_index, [oid for oid, _, _ in request.varbinds],
            time.time() - self.started,
        )  # fmt: skip
        return tlv(
            ber.TAG_SEQUENCE,
            encode_integer(request.version) + tlv(ber.TAG_OCTET_STRING, request.community) + pdu,
        )

    def _unauthenticated(self, msg_id: int, user: bytes, oid: Oid, reason: str) -> bytes:
        self.counters[reason] += 1
        report = usm.report_pdu(0, oid, self.counters[reason])
        return usm.encode(msg_id, report, user, self.engine, None)

    def _answer_v3(self, data: bytes) -> bytes | None:
        head = usm.peek_header(data)
        if head is None or head.flags is None:
            raise ber.BerError("not an SNMPv3 message with one flags octet")
        msg_id, flags, engine_id, user = head.msg_id, head.flags, head.engine_id, head.user
        if engine_id != self.engine.engine_id:
            return self._unauthenticated(msg_id, user, _UNKNOWN_ENGINE, "unknownEngine")
        keys = self.keys.get(user)
        if keys is None:
            return self._unauthenticated(msg_id, user, _UNKNOWN_USER, "unknownUser")
        if not flags & usm.FLAG_AUTH or not flags & usm.FLAG_PRIV:
            self.dropped += 1  # authPriv only, like the estate's devices
            return None
        try:
            message = usm.decode(data, keys)
        except usm.UsmError:
            return self._unauthenticated(msg_id, user, _WRONG_DIGEST, "wrongDigest")
        now = self.engine.now()
        if message.boots != self.engine.boots or abs(message.engine_time - now) > 150:
            self.counters["notInTime"] += 1
            report = usm.report_pdu(message.request_id, _NOT_IN_TIME, self.counters["notInTime"])
            return usm.encode(msg_id, report, user, self.engine, keys, message.context)
        device = self.devices.get(message.context)
        if device is None or message.pdu_type not in (ber.PDU_GET, ber.PDU_GETNEXT,
                                                      ber.PDU_GETBULK):  # fmt: skip
            self.dropped += 1
            return None
        pdu = response_pdu(
            device, message.pdu_type, message.request_id, message.error_status,
            message.error_index, [oid for oid, _, _ in message.varbinds],
            time.time() - self.started,
        )  # fmt: skip
        return usm.encode(msg_id, pdu, user, self.engine, keys, message.context)


def serve(sock: socket.socket, agent: Agent) -> None:
    """Answer until killed: by the parent's stop, or by the kernel when the
    parent dies (monitors/sim/lifetime.py)."""
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            reply = agent.answer(data)
        except Exception:  # a datagram nobody foresaw costs itself, never the agent
            agent.dropped += 1
            continue
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError:
                agent.dropped += 1


def main() -> None:
    fd = int(sys.argv[1])
    config: Config = pickle.load(sys.stdin.buffer)  # from our own parent, over a pipe
    sock = socket.socket(fileno=fd)
    agent = Agent(config)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    serve(sock, agent)


if __name__ == "__main__":
    main()
