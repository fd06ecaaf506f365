"""A specialised BER codec for the SNMP hot path.

Profiling pysnmp showed pyasn1's generic decoder spending ~250 µs per
varbind; an SNMP response has one fixed shape, so a straight-line decoder over
the bytes does the same job ~50x faster. pysnmp stays the reference: the
differential test (tests/snmp/test_ber_differential.py) decodes every
recording and thousands of generated messages with both and demands equal
results, and anything this decoder is unsure about raises `BerError` (the
caller counts it as an error; it never guesses).

Values come back as plain Python: ints (INTEGER, Counter32/64, Gauge32,
TimeTicks), bytes (OCTET STRING, IpAddress, Opaque), OID tuples, None (NULL),
or one of the three exception sentinels. Constraints are the ones pysnmp
applies (Integer32 range, unsigned ranges, IpAddress size 4) so a value that
pysnmp would reject is rejected here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from monitors.snmp.oid import (
    ENCODED_CACHE,
    MAX_SUB_IDENTIFIERS,
    OID_CACHE,
    TAG_OID,
    BerError,
    Oid,
    decode_oid,
    decode_oid_cached,
    encode_oid,
    oid_from_str,
    oid_to_str,
    tlv,
)

# The OID half of the codec lives in oid.py; callers reach it through here.
__all__ = [
    "ENCODED_CACHE",
    "MAX_SUB_IDENTIFIERS",
    "OID_CACHE",
    "TAG_OID",
    "BerError",
    "Oid",
    "decode_oid",
    "decode_oid_cached",
    "encode_oid",
    "oid_from_str",
    "oid_to_str",
    "tlv",
]

# Application tags of SNMPv2-SMI values as they appear on the wire.
TAG_INTEGER: Final = 0x02
TAG_OCTET_STRING: Final = 0x04
TAG_NULL: Final = 0x05
TAG_SEQUENCE: Final = 0x30
TAG_IPADDRESS: Final = 0x40
TAG_COUNTER32: Final = 0x41
TAG_GAUGE32: Final = 0x42
TAG_TIMETICKS: Final = 0x43
TAG_OPAQUE: Final = 0x44
TAG_COUNTER64: Final = 0x46
TAG_NO_SUCH_OBJECT: Final = 0x80
TAG_NO_SUCH_INSTANCE: Final = 0x81
TAG_END_OF_MIB_VIEW: Final = 0x82

PDU_GET: Final = 0xA0
PDU_GETNEXT: Final = 0xA1
PDU_RESPONSE: Final = 0xA2
PDU_GETBULK: Final = 0xA5
PDU_INFORM: Final = 0xA6
PDU_TRAP: Final = 0xA7  # SNMPv2-Trap-PDU
PDU_REPORT: Final = 0xA8
# The PDUs a poller's exchange carries; a notification receiver reads
# NOTIFICATION_PDUS instead.
EXCHANGE_PDUS: Final = frozenset((PDU_GET, PDU_GETNEXT, PDU_RESPONSE, PDU_GETBULK, PDU_REPORT))
NOTIFICATION_PDUS: Final = frozenset((PDU_INFORM, PDU_TRAP))

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_UINT32_MAX: Final = 2**32 - 1  # also in oid.py: an arc's bound
_UINT64_MAX: Final = 2**64 - 1


class Exception_:
    """noSuchObject / noSuchInstance / endOfMibView: the agent had no value."""

    __slots__ = ("name", "tag")

    def __init__(self, tag: int, name: str) -> None:
        self.tag = tag
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_SUCH_OBJECT: Final = Exception_(TAG_NO_SUCH_OBJECT, "noSuchObject")
NO_SUCH_INSTANCE: Final = Exception_(TAG_NO_SUCH_INSTANCE, "noSuchInstance")
END_OF_MIB_VIEW: Final = Exception_(TAG_END_OF_MIB_VIEW, "endOfMibView")
Value = int | bytes | Oid | Exception_ | None
_EXCEPTIONS: Final = {
    TAG_NO_SUCH_OBJECT: NO_SUCH_OBJECT,
    TAG_NO_SUCH_INSTANCE: NO_SUCH_INSTANCE,
    TAG_END_OF_MIB_VIEW: END_OF_MIB_VIEW,
}
# Unsigned application types and their upper bounds.
_UNSIGNED: Final = {
    TAG_COUNTER32: _UINT32_MAX,
    TAG_GAUGE32: _UINT32_MAX,
    TAG_TIMETICKS: _UINT32_MAX,
    TAG_COUNTER64: _UINT64_MAX,
}

VarBind = tuple[Oid, int, Value]


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded v1/v2c message carrying a PDU."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[VarBind]


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a definite BER length at `pos`; returns (length, position after it)."""
    if pos >= end:
        raise BerError("truncated: length missing")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise BerError("indefinite length is not used by SNMP")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end:
            raise BerError("truncated or oversized long-form length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise BerError("truncated: content shorter than its length")
    return length, pos


def _integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end or buf[pos] != TAG_INTEGER:
        raise BerError("expected INTEGER")
    length, pos = _length(buf, pos + 1, end)
    return int.from_bytes(buf[pos : pos + length], "big", signed=True), pos + length


def decode_value(tag: int, content: bytes) -> Value:
    """One varbind value; raises BerError where pysnmp would refuse it."""
    if tag in (TAG_OCTET_STRING, TAG_OPAQUE):
        return content
    if tag in _UNSIGNED:
        number = int.from_bytes(content, "big", signed=True)
        if number < 0 or number > _UNSIGNED[tag]:
            raise BerError(f"value {number} out of range for tag 0x{tag:02x}")
        return number
    if tag == TAG_INTEGER:
        number = int.from_bytes(content, "big", signed=True)
        if number < _INT32_MIN or number > _INT32_MAX:
            raise BerError(f"INTEGER {number} outside Integer32")
        return number
    if tag == TAG_OID:
        return decode_oid(content)
    if tag == TAG_IPADDRESS:
        if len(content) != 4:
            raise BerError("IpAddress must be 4 octets")
        return content
    if tag == TAG_NULL or tag in _EXCEPTIONS:
        if content:
            raise BerError("NULL-like value with content")
        return _EXCEPTIONS.get(tag)
    raise BerError(f"unknown value tag 0x{tag:02x}")


def decode_message(buf: bytes) -> Response:
    """Decode a whole SNMPv1/v2c message (any PDU type)."""
    end = len(buf)
    if end < 2 or buf[0] != TAG_SEQUENCE:
        raise BerError("not an SNMP message")
    length, pos = _length(buf, 1, end)
    if pos + length != end:
        raise BerError("trailing bytes after the message")
    version, pos = _integer(buf, pos, end)
    if version not in (0, 1):
        raise BerError(f"unsupported SNMP version {version}")
    if pos >= end or buf[pos] != TAG_OCTET_STRING:
        raise BerError("expected community")
    length, pos = _length(buf, pos + 1, end)
    community = buf[pos : pos + length]
    pos += length
    pdu_type, request_id, error_status, error_index, varbinds = decode_pdu(buf, pos, end)
    return Response(version, community, pdu_type, request_id, error_status, error_index, varbinds)


def decode_pdu(
    buf: bytes, pos: int, end: int, types: frozenset[int] = EXCHANGE_PDUS
) -> tuple[int, int, int, int, list[VarBind]]:
    """A PDU that must fill buf[pos:end] exactly (v1/v2c message or v3 ScopedPDU)."""
    if pos >= end:
        raise BerError("truncated: PDU missing")
    pdu_type = buf[pos]
    if pdu_type not in types:
        raise BerError(f"unexpected PDU type 0x{pdu_type:02x}")
    length, pos = _length(buf, pos + 1, end)
    if pos + length != end:
        raise BerError("PDU length does not match the message")
    request_id, pos = _integer(buf, pos, end)
    error_status, pos = _integer(buf, pos, end)
    error_index, pos = _integer(buf, pos, end)
    if not _INT32_MIN <= request_id <= _INT32_MAX:
        raise BerError("request-id outside Integer32")
    # pysnmp's constraints: error-status 0..18, error-index (or GETBULK's
    # non-repeaters / max-repetitions) 0..2**31-1.
    if pdu_type != PDU_GETBULK and not 0 <= error_status <= 18:
        raise BerError(f"error-status {error_status} out of range")
    if not 0 <= error_status <= _INT32_MAX or not 0 <= error_index <= _INT32_MAX:
        raise BerError("error-status/error-index out of range")
    if pos >= end or buf[pos] != TAG_SEQUENCE:
        raise BerError("expected variable-bindings")
    length, pos = _length(buf, pos + 1, end)
    if pos + length != end:
        raise BerError("variable-bindings length does not match the PDU")
    return pdu_type, request_id, error_status, error_index, decode_varbinds(buf, pos, end)


def read_tlv(buf: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Expect `tag` at pos; returns (content start, content end)."""
    if pos >= end or buf[pos] != tag:
        raise BerError(f"expected tag 0x{tag:02x}")
    length, start = _length(buf, pos + 1, end)
    return start, start + length


def read_integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    return _integer(buf, pos, end)


def message_version(buf: bytes) -> int:
    """The version field of any SNMP message (0, 1 or 3)."""
    end = len(buf)
    start, stop = read_tlv(buf, 0, end, TAG_SEQUENCE)
    if stop != end:
        raise BerError("trailing bytes after the message")
    return _integer(buf, start, stop)[0]


def peek_request_id(buf: bytes) -> int:
    """The id that routes a datagram to its request without decoding it: the
    request-id of a v1/v2c PDU, the msgID of a v3 message."""
    end = len(buf)
    start, stop = read_tlv(buf, 0, end, TAG_SEQUENCE)
    version, pos = _integer(buf, start, stop)
    if version == 3:
        start, inner = read_tlv(buf, pos, stop, TAG_SEQUENCE)
        return _integer(buf, start, inner)[0]
    _community, pos = read_tlv(buf, pos, stop, TAG_OCTET_STRING)
    if pos >= stop or buf[pos] & 0xE0 != 0xA0:
        raise BerError("expected a PDU")
    pos = _length(buf, pos + 1, stop)[1]
    return _integer(buf, pos, stop)[0]


def decode_varbinds(buf: bytes, pos: int, end: int) -> list[VarBind]:
    """The VarBindList content from `pos` to `end`: the hot loop. Short-form
    lengths (every VarBind of a normal table walk) are read inline; anything
    else goes through `_length`."""
    varbinds: list[VarBind] = []
    append = varbinds.append
    length_of = _length
    oid_cache = OID_CACHE.entries
    while pos < end:
        if buf[pos] != TAG_SEQUENCE or pos + 1 >= end:
            raise BerError("expected VarBind")
        length = buf[pos + 1]
        if length < 0x80:
            pos += 2
        else:
            length, pos = length_of(buf, pos + 1, end)
        bind_end = pos + length
        if bind_end > end or pos + 1 >= bind_end or buf[pos] != TAG_OID:
            raise BerError("expected VarBind name")
        length = buf[pos + 1]
        if length < 0x80:
            pos += 2
        else:
            length, pos = length_of(buf, pos + 1, bind_end)
        value_at = pos + length
        if value_at + 1 >= bind_end:
            raise BerError("VarBind without value")
        name = buf[pos:value_at]
        oid = oid_cache.get(name)
        if oid is None:
            oid = decode_oid_cached(name)
        tag = buf[value_at]
        length = buf[value_at + 1]
        if length < 0x80:
            pos = value_at + 2
        else:
            length, pos = length_of(buf, value_at + 1, bind_end)
        if pos + length != bind_end:
            raise BerError("VarBind length mismatch")
        append((oid, tag, decode_value(tag, buf[pos:bind_end])))
        pos = bind_end
    return varbinds


# -- encoding (requests) ----------------------------------------------------


def encode_integer(value: int) -> bytes:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return tlv(TAG_INTEGER, value.to_bytes(size, "big", signed=True))


def encode_value(tag: int, value: Value) -> bytes:
    """A value as `decode_value` gives it, back on the wire under its tag
    (an inform's Response echoes them; the simulator answers with them)."""
    if isinstance(value, tuple):
        return encode_oid(value)
    if isinstance(value, bytes):
        return tlv(tag, value)
    if isinstance(value, int):
        if tag == TAG_INTEGER:
            return encode_integer(value)
        return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # unsigned
    return tlv(tag, b"")  # NULL and the exceptions (noSuchObject...)


_NULL_VALUE: Final = b"\x05\x00"


def encode_pdu(
    pdu_type: int,
    request_id: int,
    oids: list[Oid],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """GET/GETNEXT/GETBULK PDU (GETBULK puts its counts where the other PDUs
    carry error-status and error-index)."""
    binds = b"".join(tlv(TAG_SEQUENCE, encode_oid(oid) + _NULL_VALUE) for oid in oids)
    second, third = (non_repeaters, max_repetitions) if pdu_type == PDU_GETBULK else (0, 0)
    return tlv(
        pdu_type,
        encode_integer(request_id)
        + encode_integer(second)
        + encode_integer(third)
        + tlv(TAG_SEQUENCE, binds),
    )


def encode_request(
    community: bytes,
    pdu_type: int,
    request_id: int,
    oids: list[Oid],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
    version: int = 1,
) -> bytes:
    """A v1/v2c request message."""
    pdu = encode_pdu(pdu_type, request_id, oids, non_repeaters, max_repetitions)
    return tlv(TAG_SEQUENCE, encode_integer(version) + tlv(TAG_OCTET_STRING, community) + pdu)
