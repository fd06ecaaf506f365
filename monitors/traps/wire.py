"""SNMPv3 on the wire for the receiver's own path (RFC 3412/3414/3416):
read a discovery probe, open a trap or inform, answer with a Report or a
Response. The framing, the MAC and the ciphers are monitors/snmp/usm.py's
(the poller's and the simulator's too); lengths and counts are bounded by
ber.py's readers, and nothing is trusted before the HMAC is checked.
"""

from __future__ import annotations

from monitors.snmp import ber, usm

UNKNOWN_ENGINE_IDS = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)  # usmStatsUnknownEngineIDs.0


class Forged(Exception):
    """A trap whose HMAC fails under the keys of the engine it names."""


class Stale(Exception):
    """A trap older than its engine's last word (a replay)."""


def report(engine: usm.EngineState, msg_id: int, request_id: int, count: int) -> bytes:
    """RFC 3414 4: the unauthenticated Report that tells an inform sender
    our engine id, boots and time."""
    pdu = usm.report_pdu(request_id, UNKNOWN_ENGINE_IDS, count)
    return usm.encode(msg_id, pdu, b"", engine, None, reportable=False)


def response(
    inform: usm.V3Message, user: bytes, engine: usm.EngineState, keys: usm.LocalKeys
) -> bytes:
    """The Response to an inform: its varbinds echoed (RFC 3416 4.2.7), in
    the inform's own context (net-snmp discards a Response without it)."""
    binds = b"".join(
        ber.tlv(ber.TAG_SEQUENCE, ber.encode_oid(oid) + ber.encode_value(tag, value))
        for oid, tag, value in inform.varbinds
    )
    pdu = ber.tlv(
        ber.PDU_RESPONSE,
        ber.encode_integer(inform.request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, binds),
    )
    return usm.encode(
        inform.msg_id, pdu, user, engine, keys, inform.context, inform.context_engine,
        reportable=False,
    )  # fmt: skip


def open_notification(datagram: bytes, keys: usm.LocalKeys) -> usm.V3Message:
    """An authPriv trap or inform, verified and decrypted; raises
    ber.BerError for any other PDU or framing, usm.UsmError."""
    return usm.decode(datagram, keys, ber.NOTIFICATION_PDUS)


def probe(datagram: bytes, head: usm.Header) -> tuple[int, int] | None:
    """(msgID, request-id) of a discovery probe: noAuthNoPriv, reportable,
    no engine id and no user; None for anything else."""
    if head.flags != usm.FLAG_REPORTABLE or head.engine_id or head.user:
        return None
    sp_start, sp_end = ber.read_tlv(datagram, head.data, head.end, ber.TAG_SEQUENCE)
    _ce_start, ce_end = ber.read_tlv(datagram, sp_start, sp_end, ber.TAG_OCTET_STRING)
    _cn_start, q = ber.read_tlv(datagram, ce_end, sp_end, ber.TAG_OCTET_STRING)
    if q >= sp_end or not 0xA0 <= datagram[q] <= 0xA8:
        return None
    pdu_start, pdu_end = ber.read_tlv(datagram, q, sp_end, datagram[q])
    request_id, _ = ber.read_integer(datagram, pdu_start, pdu_end)
    return head.msg_id, request_id


def is_discovery(datagram: bytes) -> bool:
    """An inform sender's probe for our engine id (RFC 3414 4): empty engine id."""
    try:
        head = usm.peek_header(datagram)
    except ber.BerError:
        return False
    return head is not None and head.engine_id == b""
