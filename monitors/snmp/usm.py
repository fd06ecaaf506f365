"""SNMPv3 USM authPriv on the fast path (RFC 3412, 3414, 3826, 7860).

pysnmp remains the reference for the security maths: keys are hashed and
localised by pysnmp's own auth and privacy services (Ku -> Kul, and the
Reeder extension for AES-256). What this module does itself is the per-packet
work pysnmp does through pyasn1: frame the message, HMAC it, AES-CFB the
ScopedPDU, and the reverse, so a v3 walk costs little more than a v2c one.
The one framing for the poller, the simulator's agents and the trap
receiver (tests: test_usm.py, test_snmpd.py against net-snmp, tests/traps).
"""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from monitors.snmp import ber
from monitors.snmp.ber import (
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    BerError,
    encode_integer,
    read_integer,
    read_tlv,
    tlv,
)

# Key localisation lives in usm_keys; its names stay importable from here.
from monitors.snmp.usm_keys import AUTH as AUTH
from monitors.snmp.usm_keys import AuthAlgorithm as AuthAlgorithm
from monitors.snmp.usm_keys import LocalKeys as LocalKeys
from monitors.snmp.usm_keys import localise as localise
from monitors.snmp.usm_keys import priv_service_id as priv_service_id

FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
MAX_MESSAGE_SIZE = 65507
USM_STATS = ber.oid_from_str("1.3.6.1.6.3.15.1.1")
# usmStats counters a Report names, by last arc.
REPORT_REASONS = {
    1: "unsupportedSecLevel",
    2: "notInTimeWindow",
    3: "unknownUserName",
    4: "unknownEngineID",
    5: "wrongDigest",
    6: "decryptionError",
}


ENGINE_MAX = 2**31 - 1  # snmpEngineBoots/Time and msgID are 0..2^31-1 (RFC 3414, 3412)
TIME_WINDOW_S = 150  # RFC 3414 2.2.3
MAX_ENGINE_ID = 32  # octets (RFC 3411 SnmpEngineID; also the USM user name limit)


@dataclass
class EngineState:
    """Our notion of the authoritative (agent's) engine: its id, boots and
    time. Discovery's values are unauthenticated (anyone can answer a
    discovery probe), so they only seed the first request; RFC 3414 3.2.7
    lets boots and time be believed from authenticated messages alone."""

    engine_id: bytes
    boots: int
    engine_time: int  # the agent's snmpEngineTime when we learnt it...
    learnt_at: float  # ...at this time.monotonic()
    authenticated: bool = False
    latest_time: int = 0  # latestReceivedEngineTime

    def now(self) -> int:
        return min(ENGINE_MAX, self.engine_time + int(time.monotonic() - self.learnt_at))

    def adopt(self, boots: int, engine_time: int) -> None:
        """Values from an authenticated message of this engine."""
        self.boots, self.engine_time, self.latest_time = boots, engine_time, engine_time
        self.learnt_at = time.monotonic()
        self.authenticated = True

    def timely(self, boots: int, engine_time: int) -> bool:
        """RFC 3414 3.2.7 b for an authenticated message: refuse one from an
        older boot or more than 150 s behind the latest we saw (a replay),
        adopt newer values."""
        if not self.authenticated:
            self.adopt(boots, engine_time)
            return True
        if (
            self.boots == ENGINE_MAX
            or boots < self.boots
            or (boots == self.boots and engine_time < self.latest_time - TIME_WINDOW_S)
        ):
            return False
        if boots > self.boots or engine_time > self.latest_time:
            self.adopt(boots, engine_time)
        return True


@dataclass(frozen=True)
class V3Message:
    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    engine_time: int
    user: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[ber.VarBind]
    context: bytes = b""  # contextName: the simulator picks the device by it
    context_engine: bytes = b""  # contextEngineID: a Response to an inform echoes it


class UsmError(Exception):
    """A v3 message that fails authentication or decryption."""


def _aes(key: bytes, iv: bytes) -> Cipher[Any]:
    return Cipher(algorithms.AES(key), CFB(iv))


_salt = int.from_bytes(os.urandom(8), "big")


def _next_salt() -> bytes:
    global _salt
    _salt = (_salt + 1) & 0xFFFFFFFFFFFFFFFF
    return _salt.to_bytes(8, "big")


def encode(
    msg_id: int,
    pdu: bytes,
    user: bytes,
    engine: EngineState | None,
    keys: LocalKeys | None,
    context: bytes = b"",
    context_engine: bytes | None = None,
    reportable: bool = True,
) -> bytes:
    """A v3 message from or to `engine` (the authoritative one): authPriv
    with keys, else noAuthNoPriv (a discovery probe without an engine, a
    Report with one). The ScopedPDU names `context_engine`, the
    authoritative engine unless given (a Response echoes the inform's).
    Responses and Reports are not `reportable` (RFC 3412 6.4)."""
    engine_id = engine.engine_id if engine else b""
    boots, now = (engine.boots, engine.now()) if engine else (0, 0)
    scoped = tlv(
        TAG_SEQUENCE,
        tlv(TAG_OCTET_STRING, engine_id if context_engine is None else context_engine)
        + tlv(TAG_OCTET_STRING, context)
        + pdu,
    )
    reportable_flag = FLAG_REPORTABLE if reportable else 0
    if keys is None or engine is None:
        flags, salt, data, mac_length = reportable_flag, b"", scoped, 0
    else:
        flags = FLAG_AUTH | FLAG_PRIV | reportable_flag
        salt = _next_salt()
        iv = boots.to_bytes(4, "big") + now.to_bytes(4, "big") + salt
        encryptor = _aes(keys.priv_key, iv).encryptor()
        data = tlv(TAG_OCTET_STRING, encryptor.update(scoped) + encryptor.finalize())
        mac_length = keys.auth.mac_length
    head = (
        tlv(TAG_OCTET_STRING, engine_id)
        + encode_integer(boots)
        + encode_integer(now)
        + tlv(TAG_OCTET_STRING, user)
    )
    placeholder = tlv(TAG_OCTET_STRING, bytes(mac_length))
    security = tlv(TAG_SEQUENCE, head + placeholder + tlv(TAG_OCTET_STRING, salt))
    global_data = tlv(
        TAG_SEQUENCE,
        encode_integer(msg_id)
        + encode_integer(MAX_MESSAGE_SIZE)
        + tlv(TAG_OCTET_STRING, bytes((flags,)))
        + encode_integer(3),
    )
    before_security = encode_integer(3) + global_data
    wrapped_security = tlv(TAG_OCTET_STRING, security)
    message = tlv(TAG_SEQUENCE, before_security + wrapped_security + data)
    if mac_length and keys is not None:
        # The security parameters end where the data starts; the MAC's
        # placeholder content ends just before the privacy parameters.
        offset = len(message) - len(data) - len(tlv(TAG_OCTET_STRING, salt)) - mac_length
        mac = hmac.new(keys.auth_key, message, keys.auth.digest).digest()[:mac_length]
        message = message[:offset] + mac + message[offset + mac_length :]
    return message


def peek_msg_id(buf: bytes) -> int:
    """msgID of a v3 message, to route it to its request before any crypto."""
    end = len(buf)
    start, stop = read_tlv(buf, 0, end, TAG_SEQUENCE)
    version, pos = read_integer(buf, start, stop)
    if version != 3:
        raise BerError("not SNMPv3")
    start, _stop = read_tlv(buf, pos, stop, TAG_SEQUENCE)
    return read_integer(buf, start, stop)[0]


@dataclass(frozen=True, slots=True)
class Header:
    """An SNMPv3 message up to its ScopedPDU, read before any crypto: what
    routes it, names its keys, and where its MAC and data are."""

    msg_id: int
    max_size: int
    flags: int | None  # None: msgFlags is not one octet
    model: int
    engine_id: bytes
    boots: int
    engine_time: int
    user: bytes
    auth: tuple[int, int]  # msgAuthenticationParameters' content span
    priv: tuple[int, int]  # msgPrivacyParameters' content span
    data: int  # where the ScopedPDU (or its encrypted OCTET STRING) starts
    end: int  # end of the message's outer SEQUENCE


def peek_header(buf: bytes) -> Header | None:
    """The header of an SNMPv3 message; None for v1/v2c. Raises BerError."""
    start, stop = read_tlv(buf, 0, len(buf), TAG_SEQUENCE)
    version, pos = read_integer(buf, start, stop)
    if version != 3:
        return None
    g_start, g_end = read_tlv(buf, pos, stop, TAG_SEQUENCE)
    msg_id, g = read_integer(buf, g_start, g_end)
    max_size, g = read_integer(buf, g, g_end)
    f_start, f_end = read_tlv(buf, g, g_end, TAG_OCTET_STRING)
    model, _ = read_integer(buf, f_end, g_end)
    w_start, w_end = read_tlv(buf, g_end, stop, TAG_OCTET_STRING)
    s_start, s_end = read_tlv(buf, w_start, w_end, TAG_SEQUENCE)
    e_start, e_end = read_tlv(buf, s_start, s_end, TAG_OCTET_STRING)
    boots, p = read_integer(buf, e_end, s_end)
    engine_time, p = read_integer(buf, p, s_end)
    u_start, u_end = read_tlv(buf, p, s_end, TAG_OCTET_STRING)
    auth = read_tlv(buf, u_end, s_end, TAG_OCTET_STRING)
    priv = read_tlv(buf, auth[1], s_end, TAG_OCTET_STRING)
    return Header(
        msg_id, max_size, buf[f_start] if f_end - f_start == 1 else None, model,
        buf[e_start:e_end], boots, engine_time, buf[u_start:u_end], auth, priv, w_end, stop,
    )  # fmt: skip


def authentic(buf: bytes, head: Header, keys: LocalKeys) -> bool:
    """The message's HMAC verifies under `keys` (RFC 3414 6.3.2)."""
    a_start, a_end = head.auth
    mac = buf[a_start:a_end]
    if head.flags is None or not head.flags & FLAG_AUTH or len(mac) != keys.auth.mac_length:
        return False
    zeroed = buf[:a_start] + bytes(len(mac)) + buf[a_end:]
    expected = hmac.new(keys.auth_key, zeroed, keys.auth.digest).digest()[: len(mac)]
    return hmac.compare_digest(mac, expected)


def report_pdu(request_id: int, counter: tuple[int, ...], count: int) -> bytes:
    """A Report naming one usmStats counter and its value (RFC 3414 3.2)."""
    value = ber.encode_value(ber.TAG_COUNTER32, count & 0xFFFFFFFF)
    bind = tlv(TAG_SEQUENCE, ber.encode_oid(counter) + value)
    return tlv(
        ber.PDU_REPORT,
        encode_integer(request_id) + encode_integer(0) + encode_integer(0)
        + tlv(TAG_SEQUENCE, bind),
    )  # fmt: skip


def decode(
    buf: bytes, keys: LocalKeys | None, pdus: frozenset[int] = ber.EXCHANGE_PDUS
) -> V3Message:
    """Parse, verify and decrypt a message carrying one of `pdus`; raises
    BerError (malformed) or UsmError."""
    head = peek_header(buf)
    if head is None:
        raise BerError("not SNMPv3")
    if head.end != len(buf):
        raise BerError("trailing bytes after the message")
    if not 0 <= head.msg_id <= ENGINE_MAX or not 484 <= head.max_size <= ENGINE_MAX:
        raise BerError("msgID or msgMaxSize out of range")
    if head.flags is None:
        raise BerError("msgFlags must be one octet")
    if head.model != 3:
        raise BerError(f"security model {head.model} is not USM")
    # Range checks before any crypto: an out-of-range boots or time once
    # reached int.to_bytes in `encode` and crashed the whole poll cycle.
    if not (0 <= head.boots <= ENGINE_MAX and 0 <= head.engine_time <= ENGINE_MAX):
        raise BerError("msgAuthoritativeEngineBoots/Time outside 0..2^31-1")
    if len(head.engine_id) > MAX_ENGINE_ID or len(head.user) > MAX_ENGINE_ID:
        raise BerError("engine id or user name longer than 32 octets")
    flags = head.flags
    if flags & FLAG_AUTH:
        if keys is None:
            raise UsmError("authenticated message but no keys")
        if not authentic(buf, head, keys):
            raise UsmError("wrongDigest")
    if flags & FLAG_PRIV:
        p_start, p_end = head.priv
        if keys is None or not flags & FLAG_AUTH or p_end - p_start != 8:
            raise UsmError("decryptionError")
        c_start, c_end = read_tlv(buf, head.data, head.end, TAG_OCTET_STRING)
        if c_end != head.end:
            raise BerError("trailing bytes after the encrypted PDU")
        iv = (
            head.boots.to_bytes(4, "big") + head.engine_time.to_bytes(4, "big") + buf[p_start:p_end]
        )
        decryptor = _aes(keys.priv_key, iv).decryptor()
        scoped = decryptor.update(buf[c_start:c_end]) + decryptor.finalize()
    else:
        scoped = buf[head.data : head.end]
    sp_start, sp_end = read_tlv(scoped, 0, len(scoped), TAG_SEQUENCE)
    ce_start, ce_end = read_tlv(scoped, sp_start, sp_end, TAG_OCTET_STRING)
    n_start, n_end = read_tlv(scoped, ce_end, sp_end, TAG_OCTET_STRING)
    pdu_type, request_id, error_status, error_index, varbinds = ber.decode_pdu(
        scoped, n_end, sp_end, pdus
    )
    return V3Message(
        head.msg_id, flags, head.engine_id, head.boots, head.engine_time, head.user,
        pdu_type, request_id, error_status, error_index, varbinds, scoped[n_start:n_end],
        scoped[ce_start:ce_end],
    )  # fmt: skip


def report_reason(message: V3Message) -> str:
    for oid, _tag, _value in message.varbinds:
        if oid[: len(USM_STATS)] == USM_STATS and len(oid) > len(USM_STATS):
            return REPORT_REASONS.get(oid[len(USM_STATS)], "report")
    return "report"
