"""A hostile SNMPv3 agent for the tests: a real UDP responder on 127.0.0.1
that serves a vendor recording over authPriv (SHA-1/AES-128) and lets a test
decide, per request, which datagrams go back: the honest answer, forgeries
around it, or damage instead of it.

It speaks raw BER through the project's own codec (`monitors.snmp.ber`) and
seals with `seal`, which, unlike `usm.encode`, takes every header field
(flags, boots, time, user, engine id, PDU bytes) from the caller, so a test
can lie in any of them. The agent runs in a thread with a blocking socket,
so the poller under test (asyncio) and the agent never share a loop.
"""

from __future__ import annotations

import bisect
import hmac
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from monitors.snmp import ber, usm
from monitors.snmp.recordings import records
from monitors.snmp.session import Credential, Target

USER = "ywhostile"
AUTH = "yw-hostile-auth-1"
PRIV = "yw-hostile-priv-1"
ENGINE_ID = bytes.fromhex("80001f8804") + b"hostile"
CREDENTIAL = Credential(3, user=USER, auth_key=AUTH, priv_key=PRIV)
USM_STATS = "1.3.6.1.6.3.15.1.1."


@dataclass(frozen=True)
class Request:
    """What the poller sent, as the agent read it."""

    msg_id: int
    request_id: int
    pdu_type: int
    discovery: bool  # the noAuthNoPriv probe of RFC 3414 section 4
    boots: int
    engine_time: int
    varbinds: list[ber.VarBind]
    non_repeaters: int
    max_repetitions: int
    raw: bytes


def seal(
    msg_id: int,
    pdu: bytes,
    *,
    keys: usm.LocalKeys | None,
    flags: int = usm.FLAG_AUTH | usm.FLAG_PRIV,
    engine_id: bytes = ENGINE_ID,
    boots: int = 0,
    engine_time: int = 0,
    user: bytes = USER.encode(),
    context_engine: bytes | None = None,
    salt: bytes | None = None,
) -> bytes:
    """An SNMPv3 message with every field as given (even nonsense): the MAC
    is computed when FLAG_AUTH is set and keys are given, the ScopedPDU
    encrypted when FLAG_PRIV is set."""
    scoped = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.tlv(ber.TAG_OCTET_STRING, engine_id if context_engine is None else context_engine)
        + ber.tlv(ber.TAG_OCTET_STRING, b"")
        + pdu,
    )
    mac_length = keys.auth.mac_length if keys is not None and flags & usm.FLAG_AUTH else 0
    salt = (os.urandom(8) if flags & usm.FLAG_PRIV else b"") if salt is None else salt
    if flags & usm.FLAG_PRIV and keys is not None:
        iv = (
            (boots & 0xFFFFFFFF).to_bytes(4, "big")
            + (engine_time & 0xFFFFFFFF).to_bytes(4, "big")
            + salt[:8].ljust(8, b"\0")
        )
        encryptor = Cipher(algorithms.AES(keys.priv_key), CFB(iv)).encryptor()
        data = ber.tlv(ber.TAG_OCTET_STRING, encryptor.update(scoped) + encryptor.finalize())
    else:
        data = scoped
    head = (
        ber.tlv(ber.TAG_OCTET_STRING, engine_id)
        + ber.encode_integer(boots)
        + ber.encode_integer(engine_time)
        + ber.tlv(ber.TAG_OCTET_STRING, user)
    )
    marker = os.urandom(mac_length)  # found again below to place the MAC
    security = ber.tlv(
        ber.TAG_SEQUENCE,
        head + ber.tlv(ber.TAG_OCTET_STRING, marker) + ber.tlv(ber.TAG_OCTET_STRING, salt),
    )
    global_data = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_integer(msg_id)
        + ber.encode_integer(usm.MAX_MESSAGE_SIZE)
        + ber.tlv(ber.TAG_OCTET_STRING, bytes((flags & 0xFF,)))
        + ber.encode_integer(3),
    )
    message = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_integer(3) + global_data + ber.tlv(ber.TAG_OCTET_STRING, security) + data,
    )
    if mac_length and keys is not None:
        at = message.index(marker)
        zeroed = message[:at] + bytes(mac_length) + message[at + mac_length :]
        mac = hmac.new(keys.auth_key, zeroed, keys.auth.digest).digest()[:mac_length]
        message = zeroed[:at] + mac + zeroed[at + mac_length :]
    return message


def response_pdu(
    request_id: int,
    varbinds: list[tuple[ber.Oid, int, ber.Value]],
    pdu_type: int = ber.PDU_RESPONSE,
) -> bytes:
    binds = b"".join(
        ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(oid) + encode_value(tag, value))
        for oid, tag, value in varbinds
    )
    return ber.tlv(
        pdu_type,
        ber.encode_integer(request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, binds),
    )


def encode_value(tag: int, value: ber.Value) -> bytes:
    if value is None or isinstance(value, ber.Exception_):
        return ber.tlv(tag, b"")
    if isinstance(value, bytes):
        return ber.tlv(tag, value)
    if tag == ber.TAG_OID:
        assert isinstance(value, tuple)
        return ber.encode_oid(value)
    assert isinstance(value, int)
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return ber.tlv(tag, value.to_bytes(size, "big", signed=True))


Answer = Callable[["HostileAgent", Request, bytes], list[bytes]]


def honest(agent: HostileAgent, request: Request, answer: bytes) -> list[bytes]:
    return [answer]


@dataclass
class HostileAgent:
    """Serves `recording` over SNMPv3 authPriv; `behaviour(agent, request,
    honest answer)` returns the datagrams actually sent back, in order."""

    recording: Path
    behaviour: Answer = honest
    boots: int = 3
    started_time: int = 1000
    sock: socket.socket = field(init=False)
    requests: list[Request] = field(default_factory=list)
    keys: usm.LocalKeys = field(init=False)

    def __post_init__(self) -> None:
        rows = sorted(records(self.recording))
        self._oids = [oid for oid, _tag, _value in rows]
        self._rows = rows
        self._values = {oid: (tag, value) for oid, tag, value in rows}
        self.keys = usm.localise("sha", "aes128", AUTH, PRIV, ENGINE_ID)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.epoch = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def target(self, name: str = "hostile") -> Target:
        return Target(name, "127.0.0.1", CREDENTIAL, self.port)

    def engine_time(self) -> int:
        return self.started_time + int(time.monotonic() - self.epoch)

    def __enter__(self) -> HostileAgent:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    # -- the honest agent ----------------------------------------------------

    def report(self, request: Request, stat: int, authenticated: bool) -> bytes:
        """A usmStats Report (stat = last arc: 2 notInTimeWindow, 4 unknownEngineID...)."""
        pdu = response_pdu(
            request.request_id,
            [(ber.oid_from_str(f"{USM_STATS}{stat}.0"), ber.TAG_COUNTER32, 1)],
            ber.PDU_REPORT,
        )
        return seal(
            request.msg_id,
            pdu,
            keys=self.keys if authenticated else None,
            flags=usm.FLAG_AUTH if authenticated else 0,
            boots=self.boots,
            engine_time=self.engine_time(),
            user=USER.encode() if authenticated else b"",
        )

    def answer(self, request: Request, pdu_type: int = ber.PDU_RESPONSE, **fields: object) -> bytes:
        """The honest authPriv response to `request`; `fields` override
        `seal`'s header fields for forgeries built from it."""
        if request.discovery:
            return self.report(request, 4, authenticated=False)
        options: dict[str, object] = {
            "keys": self.keys,
            "boots": self.boots,
            "engine_time": self.engine_time(),
        }
        options.update(fields)
        pdu = response_pdu(request.request_id, self._lookup(request), pdu_type)
        return seal(request.msg_id, pdu, **options)  # type: ignore[arg-type]

    def _lookup(self, request: Request) -> list[tuple[ber.Oid, int, ber.Value]]:
        if request.pdu_type == ber.PDU_GET:
            return [
                (oid, *self._values.get(oid, (ber.TAG_NO_SUCH_OBJECT, None)))
                for oid, _tag, _value in request.varbinds
            ]
        cursors = [oid for oid, _tag, _value in request.varbinds]
        out: list[tuple[ber.Oid, int, ber.Value]] = []
        for _ in range(max(1, request.max_repetitions)):
            for position, cursor in enumerate(cursors):
                at = bisect.bisect_right(self._oids, cursor)
                if at >= len(self._oids):
                    out.append((cursor, ber.TAG_END_OF_MIB_VIEW, None))
                    continue
                oid, tag, value = self._rows[at]
                out.append((oid, tag, value))
                cursors[position] = oid
        return out

    def read(self, data: bytes) -> Request | None:
        try:
            message = usm.decode(data, self.keys)
        except (ber.BerError, usm.UsmError):
            return None
        discovery = not message.flags & usm.FLAG_AUTH
        return Request(
            message.msg_id, message.request_id, message.pdu_type, discovery,
            message.boots, message.engine_time, message.varbinds,
            message.error_status, message.error_index, data,
        )  # fmt: skip

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            request = self.read(data)
            if request is None:
                continue
            self.requests.append(request)
            for datagram in self.behaviour(self, request, self.answer(request)):
                self.sock.sendto(datagram, peer)


def vendor_recording(recordings: Path, stem: str = "ruijie-s5750") -> Path:
    return recordings / f"{stem}.snmprec"
