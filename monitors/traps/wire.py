"""SNMPv3 on the wire for the receiver's own path (RFC 3412/3414/3416):
read a discovery probe, check an authPriv message's HMAC, open a trap or
inform, seal a Response. Lengths and counts are bounded by ber.py's
readers; nothing here trusts a byte before the HMAC has been checked.

monitors/snmp/usm.py is the poller's side (requests out, responses in);
this is the other side (notifications in, responses and reports out).
"""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from monitors.snmp import ber, usm

PDU_INFORM, PDU_TRAP = 0xA6, 0xA7
UNKNOWN_ENGINE_IDS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)  # usmStatsUnknownEngineIDs.0
Engine = tuple[bytes, int, int]  # our engine id, boots, time


def report(engine: Engine, msg_id: int, request_id: int, count: int) -> bytes:
    """RFC 3414 4: the unauthenticated Report that tells an inform sender
    our engine id, boots and time."""
    engine_id, boots, now = engine
    counter = ber.tlv(ber.TAG_COUNTER32, ber.encode_integer(count)[2:])
    varbind = ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(UNKNOWN_ENGINE_IDS) + counter)
    pdu = ber.tlv(
        ber.PDU_REPORT,
        ber.encode_integer(request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, varbind),
    )
    scoped = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.tlv(ber.TAG_OCTET_STRING, engine_id) + ber.tlv(ber.TAG_OCTET_STRING, b"") + pdu,
    )
    security = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.tlv(ber.TAG_OCTET_STRING, engine_id)
        + ber.encode_integer(boots)
        + ber.encode_integer(now)
        + ber.tlv(ber.TAG_OCTET_STRING, b"") * 3,
    )
    return ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_integer(3) + _global_data(msg_id, 0x00) + ber.tlv(ber.TAG_OCTET_STRING, security)
        + scoped,
    )  # fmt: skip


def response(
    inform: usm.V3Message, context: bytes, user: bytes, engine: Engine, keys: usm.LocalKeys
) -> bytes:
    """The Response to an inform: its varbinds echoed (RFC 3416 4.2.7)."""
    binds = b"".join(
        ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(oid) + encode_value(tag, value))
        for oid, tag, value in inform.varbinds
    )
    pdu = ber.tlv(
        ber.PDU_RESPONSE,
        ber.encode_integer(inform.request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, binds),
    )
    return sealed(inform.msg_id, ber.tlv(ber.TAG_SEQUENCE, context + pdu), user, engine, keys)


def _global_data(msg_id: int, flags: int) -> bytes:
    return ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_integer(msg_id)
        + ber.encode_integer(usm.MAX_MESSAGE_SIZE)
        + ber.tlv(ber.TAG_OCTET_STRING, bytes((flags,)))
        + ber.encode_integer(3),
    )


def open_notification(datagram: bytes, keys: usm.LocalKeys) -> tuple[usm.V3Message, bytes] | None:
    """Decrypt an authenticated message; its trap or inform PDU, or None
    for any other PDU. (monitors/snmp/usm.decode reads responses only.)"""
    end = len(datagram)
    start, stop = ber.read_tlv(datagram, 0, end, ber.TAG_SEQUENCE)
    _version, pos = ber.read_integer(datagram, start, stop)
    g_start, g_end = ber.read_tlv(datagram, pos, stop, ber.TAG_SEQUENCE)
    msg_id, g = ber.read_integer(datagram, g_start, g_end)
    _size, g = ber.read_integer(datagram, g, g_end)
    f_start, _f_end = ber.read_tlv(datagram, g, g_end, ber.TAG_OCTET_STRING)
    w_start, w_end = ber.read_tlv(datagram, g_end, stop, ber.TAG_OCTET_STRING)
    s_start, s_end = ber.read_tlv(datagram, w_start, w_end, ber.TAG_SEQUENCE)
    e_start, e_end = ber.read_tlv(datagram, s_start, s_end, ber.TAG_OCTET_STRING)
    boots, p = ber.read_integer(datagram, e_end, s_end)
    engine_time, p = ber.read_integer(datagram, p, s_end)
    u_start, u_end = ber.read_tlv(datagram, p, s_end, ber.TAG_OCTET_STRING)
    _a_start, a_end = ber.read_tlv(datagram, u_end, s_end, ber.TAG_OCTET_STRING)
    salt_start, salt_end = ber.read_tlv(datagram, a_end, s_end, ber.TAG_OCTET_STRING)
    if salt_end - salt_start != 8:
        raise ber.BerError("privacy parameters must be 8 octets")
    c_start, c_end = ber.read_tlv(datagram, w_end, stop, ber.TAG_OCTET_STRING)
    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + datagram[salt_start:salt_end]
    decryptor = Cipher(algorithms.AES(keys.priv_key), CFB(iv)).decryptor()
    scoped = decryptor.update(datagram[c_start:c_end]) + decryptor.finalize()
    sp_start, sp_end = ber.read_tlv(scoped, 0, len(scoped), ber.TAG_SEQUENCE)
    _ce_start, ce_end = ber.read_tlv(scoped, sp_start, sp_end, ber.TAG_OCTET_STRING)
    _cn_start, pos = ber.read_tlv(scoped, ce_end, sp_end, ber.TAG_OCTET_STRING)
    context = scoped[sp_start:pos]  # contextEngineID and contextName, echoed in a Response
    if pos >= sp_end or scoped[pos] not in (PDU_TRAP, PDU_INFORM):
        return None
    pdu_type = scoped[pos]
    pdu_start, pdu_end = ber.read_tlv(scoped, pos, sp_end, pdu_type)
    request_id, q = ber.read_integer(scoped, pdu_start, pdu_end)
    _status, q = ber.read_integer(scoped, q, pdu_end)
    _index, q = ber.read_integer(scoped, q, pdu_end)
    v_start, v_end = ber.read_tlv(scoped, q, pdu_end, ber.TAG_SEQUENCE)
    varbinds = ber.decode_varbinds(scoped, v_start, v_end)
    message = usm.V3Message(
        msg_id, datagram[f_start], datagram[e_start:e_end], boots, engine_time,
        datagram[u_start:u_end], pdu_type, request_id, 0, 0, varbinds,
    )  # fmt: skip
    return message, context


def sealed(msg_id: int, scoped: bytes, user: bytes, engine: Engine, keys: usm.LocalKeys) -> bytes:
    """An authPriv message from our engine (a Response: not reportable).
    usm.encode makes requests, whose contextEngineID is the agent's; a
    Response must echo the inform's own, or net-snmp discards it."""
    engine_id, boots, now = engine
    salt = os.urandom(8)
    iv = boots.to_bytes(4, "big") + now.to_bytes(4, "big") + salt
    encryptor = Cipher(algorithms.AES(keys.priv_key), CFB(iv)).encryptor()
    data = ber.tlv(ber.TAG_OCTET_STRING, encryptor.update(scoped) + encryptor.finalize())
    head = (
        ber.tlv(ber.TAG_OCTET_STRING, engine_id)
        + ber.encode_integer(boots)
        + ber.encode_integer(now)
        + ber.tlv(ber.TAG_OCTET_STRING, user)
    )
    mac_length = keys.auth.mac_length
    security = ber.tlv(
        ber.TAG_SEQUENCE,
        head
        + ber.tlv(ber.TAG_OCTET_STRING, bytes(mac_length))
        + ber.tlv(ber.TAG_OCTET_STRING, salt),
    )
    before = ber.encode_integer(3) + _global_data(msg_id, 0x03)  # auth, priv
    wrapped = ber.tlv(ber.TAG_OCTET_STRING, security)
    message = ber.tlv(ber.TAG_SEQUENCE, before + wrapped + data)
    # The MAC's place: the outer header, version and global data, the
    # wrapper's and the sequence's headers, the head, the MAC's tag+length.
    offset = header_size(message) + len(before) + header_size(wrapped)
    offset += header_size(security) + len(head) + 2
    mac = hmac.new(keys.auth_key, message, keys.auth.digest).digest()[:mac_length]
    return message[:offset] + mac + message[offset + mac_length :]


def header_size(encoded: bytes) -> int:
    """Tag and length octets of one TLV."""
    return 2 if encoded[1] < 0x80 else 2 + (encoded[1] & 0x7F)


class Stale(Exception):
    """A trap older than its engine's last word (a replay)."""


def probe(datagram: bytes) -> tuple[int, int] | None:
    """(msgID, request-id) of a discovery probe: SNMPv3, noAuthNoPriv,
    reportable, no engine id and no user; None for anything else."""
    end = len(datagram)
    start, stop = ber.read_tlv(datagram, 0, end, ber.TAG_SEQUENCE)
    version, pos = ber.read_integer(datagram, start, stop)
    if version != 3:
        return None
    g_start, g_end = ber.read_tlv(datagram, pos, stop, ber.TAG_SEQUENCE)
    msg_id, g = ber.read_integer(datagram, g_start, g_end)
    _size, g = ber.read_integer(datagram, g, g_end)
    f_start, f_end = ber.read_tlv(datagram, g, g_end, ber.TAG_OCTET_STRING)
    if f_end - f_start != 1 or datagram[f_start] != 0x04:
        return None
    w_start, w_end = ber.read_tlv(datagram, g_end, stop, ber.TAG_OCTET_STRING)
    s_start, s_end = ber.read_tlv(datagram, w_start, w_end, ber.TAG_SEQUENCE)
    e_start, e_end = ber.read_tlv(datagram, s_start, s_end, ber.TAG_OCTET_STRING)
    _boots, p = ber.read_integer(datagram, e_end, s_end)
    _time, p = ber.read_integer(datagram, p, s_end)
    u_start, u_end = ber.read_tlv(datagram, p, s_end, ber.TAG_OCTET_STRING)
    if e_end != e_start or u_end != u_start:
        return None
    sp_start, sp_end = ber.read_tlv(datagram, w_end, stop, ber.TAG_SEQUENCE)
    _ce_start, ce_end = ber.read_tlv(datagram, sp_start, sp_end, ber.TAG_OCTET_STRING)
    _cn_start, q = ber.read_tlv(datagram, ce_end, sp_end, ber.TAG_OCTET_STRING)
    if q >= sp_end or not 0xA0 <= datagram[q] <= 0xA8:
        return None
    pdu_start, pdu_end = ber.read_tlv(datagram, q, sp_end, datagram[q])
    request_id, _ = ber.read_integer(datagram, pdu_start, pdu_end)
    return msg_id, request_id


def header(datagram: bytes) -> tuple[bytes, int, int, str] | None:
    """(engine id, boots, time, user) of an authPriv SNMPv3 message; None
    for anything else."""
    end = len(datagram)
    start, stop = ber.read_tlv(datagram, 0, end, ber.TAG_SEQUENCE)
    version, pos = ber.read_integer(datagram, start, stop)
    if version != 3:
        return None
    g_start, g_end = ber.read_tlv(datagram, pos, stop, ber.TAG_SEQUENCE)
    _msg_id, g = ber.read_integer(datagram, g_start, g_end)
    _size, g = ber.read_integer(datagram, g, g_end)
    f_start, f_end = ber.read_tlv(datagram, g, g_end, ber.TAG_OCTET_STRING)
    if f_end - f_start != 1 or datagram[f_start] & 0x03 != 0x03:
        return None
    w_start, w_end = ber.read_tlv(datagram, g_end, stop, ber.TAG_OCTET_STRING)
    s_start, s_end = ber.read_tlv(datagram, w_start, w_end, ber.TAG_SEQUENCE)
    e_start, e_end = ber.read_tlv(datagram, s_start, s_end, ber.TAG_OCTET_STRING)
    boots, p = ber.read_integer(datagram, e_end, s_end)
    engine_time, p = ber.read_integer(datagram, p, s_end)
    u_start, u_end = ber.read_tlv(datagram, p, s_end, ber.TAG_OCTET_STRING)
    user = datagram[u_start:u_end].decode("utf-8", "replace")
    return datagram[e_start:e_end], boots, engine_time, user


def encode_value(tag: int, value: object) -> bytes:
    """A decoded varbind value back on the wire (an inform's Response echoes them)."""
    if isinstance(value, tuple):
        return ber.encode_oid(value)
    if isinstance(value, bytes):
        return ber.tlv(tag, value)
    if isinstance(value, int):
        if tag == ber.TAG_INTEGER:
            return ber.tlv(tag, ber.encode_integer(value)[2:])
        return ber.tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big"))
    return ber.tlv(tag, b"")  # NULL and the exceptions (noSuchObject...)


class Forged(Exception):
    """A trap whose HMAC fails under the keys of the engine it names."""


def authentic(datagram: bytes, keys: usm.LocalKeys) -> bool:
    """The USM HMAC of an authenticated v3 message (RFC 3414 6.3.2)."""
    end = len(datagram)
    start, stop = ber.read_tlv(datagram, 0, end, ber.TAG_SEQUENCE)
    _version, pos = ber.read_integer(datagram, start, stop)
    g_start, g_end = ber.read_tlv(datagram, pos, stop, ber.TAG_SEQUENCE)
    _msg_id, g = ber.read_integer(datagram, g_start, g_end)
    _size, g = ber.read_integer(datagram, g, g_end)
    f_start, _f_end = ber.read_tlv(datagram, g, g_end, ber.TAG_OCTET_STRING)
    if not datagram[f_start] & 0x01:  # noAuth: the receiver requires authPriv
        return False
    w_start, w_end = ber.read_tlv(datagram, g_end, stop, ber.TAG_OCTET_STRING)
    s_start, s_end = ber.read_tlv(datagram, w_start, w_end, ber.TAG_SEQUENCE)
    _e_start, p = ber.read_tlv(datagram, s_start, s_end, ber.TAG_OCTET_STRING)
    _boots, p = ber.read_integer(datagram, p, s_end)
    _time, p = ber.read_integer(datagram, p, s_end)
    _u_start, p = ber.read_tlv(datagram, p, s_end, ber.TAG_OCTET_STRING)
    a_start, a_end = ber.read_tlv(datagram, p, s_end, ber.TAG_OCTET_STRING)
    mac = datagram[a_start:a_end]
    if len(mac) != keys.auth.mac_length:
        return False
    zeroed = datagram[:a_start] + bytes(len(mac)) + datagram[a_end:]
    expected = hmac.new(keys.auth_key, zeroed, keys.auth.digest).digest()[: len(mac)]
    return hmac.compare_digest(mac, expected)


def engine_field(datagram: bytes) -> bytes | None:
    """msgAuthoritativeEngineID of an SNMPv3 message; None for v1/v2c."""
    end = len(datagram)
    start, stop = ber.read_tlv(datagram, 0, end, ber.TAG_SEQUENCE)
    version, pos = ber.read_integer(datagram, start, stop)
    if version != 3:
        return None
    _g_start, g_end = ber.read_tlv(datagram, pos, stop, ber.TAG_SEQUENCE)
    w_start, w_end = ber.read_tlv(datagram, g_end, stop, ber.TAG_OCTET_STRING)
    s_start, s_end = ber.read_tlv(datagram, w_start, w_end, ber.TAG_SEQUENCE)
    e_start, e_end = ber.read_tlv(datagram, s_start, s_end, ber.TAG_OCTET_STRING)
    return datagram[e_start:e_end]


def is_discovery(datagram: bytes) -> bool:
    """An inform sender's probe for our engine id (RFC 3414 4): empty engine id."""
    try:
        return engine_field(datagram) == b""
    except ber.BerError:
        return False
