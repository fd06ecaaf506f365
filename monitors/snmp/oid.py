"""OBJECT IDENTIFIERs on the wire: decode, encode, and the caches that make
a poll's repeated names a dict hit. Part of the BER codec (ber.py), which
re-exports these names; kept apart so each half stays small.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

Oid = tuple[int, ...]

_UINT32_MAX: Final = 2**32 - 1
TAG_OID: Final = 0x06


class BerError(ValueError):
    """The bytes are not a well-formed SNMP message (counted, never fatal)."""


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(content)) + content


# RFC 2578 3.5: at most 128 sub-identifiers, each at most 2^32-1.
MAX_SUB_IDENTIFIERS: Final = 128
_ENTRY_OVERHEAD: Final = 128  # dict slot, bytes and tuple headers, roughly


_Key = TypeVar("_Key", bytes, Oid)
_Value = TypeVar("_Value", bytes, Oid)


class OidCache(Generic[_Key, _Value]):
    """Decoded (or encoded) OIDs kept between polls: the same names come back
    every poll (ifHCInOctets.1..n of every device of a model are the same
    bytes), so a dict hit replaces a decode. Bounded by an estimate of the
    memory it holds, not by entries: one long name costs what a hundred
    short ones do. When full it starts over, so the names of today's devices
    win back their places."""

    __slots__ = ("bytes", "entries", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self.entries: dict[_Key, _Value] = {}

    def store(self, key: _Key, value: _Value, cost: int) -> None:
        cost += _ENTRY_OVERHEAD
        if self.bytes + cost > self.limit:
            self.clear()
        self.entries[key] = value
        self.bytes += cost

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = 0


OID_CACHE: Final[OidCache[bytes, Oid]] = OidCache(32 * 2**20)  # wire bytes -> Oid
ENCODED_CACHE: Final[OidCache[Oid, bytes]] = OidCache(32 * 2**20)  # Oid -> its TLV


def decode_oid_cached(content: bytes) -> Oid:
    oid = OID_CACHE.entries.get(content)
    if oid is None:
        oid = decode_oid(content)
        OID_CACHE.store(content, oid, len(content) + 8 * len(oid))
    return oid


def decode_oid(content: bytes) -> Oid:
    if not content:
        raise BerError("empty OBJECT IDENTIFIER")
    if max(content) < 0x80:  # every arc fits in one octet: the common case
        if len(content) >= MAX_SUB_IDENTIFIERS:
            raise BerError("OBJECT IDENTIFIER longer than 128 sub-identifiers")
        first = content[0]
        head = (first // 40, first % 40) if first < 80 else (2, first - 80)
        return head + tuple(content[1:])
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in content:
        if fresh and octet == 0x80:
            raise BerError("non-minimal OBJECT IDENTIFIER arc")
        value = (value << 7) | (octet & 0x7F)
        if value > _UINT32_MAX:
            raise BerError("OBJECT IDENTIFIER arc above 2^32-1")
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    if not fresh:
        raise BerError("truncated OBJECT IDENTIFIER arc")
    if len(arcs) >= MAX_SUB_IDENTIFIERS:
        raise BerError("OBJECT IDENTIFIER longer than 128 sub-identifiers")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return head + tuple(arcs[1:])


def encode_oid(oid: Oid) -> bytes:
    encoded = ENCODED_CACHE.entries.get(oid)
    if encoded is None:
        encoded = _encode_oid(oid)
        ENCODED_CACHE.store(oid, encoded, len(encoded) + 8 * len(oid))
    return encoded


def _encode_oid(oid: Oid) -> bytes:
    if not 2 <= len(oid) <= MAX_SUB_IDENTIFIERS:
        raise BerError(f"OID {oid_to_str(oid)} needs 2 to 128 sub-identifiers")
    if not all(0 <= arc <= _UINT32_MAX for arc in oid):
        raise BerError(f"OID {oid_to_str(oid)} has an arc outside 0..2^32-1")
    if oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40) or oid[0] * 40 + oid[1] > _UINT32_MAX:
        raise BerError(f"OID {oid_to_str(oid)} does not start with a valid root arc")
    arcs = [oid[0] * 40 + oid[1], *oid[2:]]
    out = bytearray()
    for arc in arcs:
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(TAG_OID, bytes(out))


def oid_from_str(text: str) -> Oid:
    try:
        return tuple(int(arc) for arc in text.strip(".").split("."))
    except ValueError:
        raise ValueError(f"not a numeric OID: {text!r}") from None


def oid_to_str(oid: Oid) -> str:
    return ".".join(map(str, oid))
