"""Bounds on what a datagram can make the decoder build or keep: OIDs of at
most 128 sub-identifiers of at most 2^32-1 (RFC 2578 section 3.5), caches
bounded in bytes, malformed names refused rather than guessed."""

from __future__ import annotations

import pytest

from monitors.snmp import ber


def _long(arcs: list[int]) -> bytes:
    encoded = ber.tlv(ber.TAG_OID, bytes([43, *arcs]))
    return encoded[2:] if encoded[1] < 0x80 else encoded[3:]


def test_a_name_of_128_sub_identifiers_is_the_longest_accepted() -> None:
    assert len(ber.decode_oid(_long([1] * 126))) == 128
    with pytest.raises(ber.BerError):
        ber.decode_oid(_long([1] * 127))
    with pytest.raises(ber.BerError):
        ber.decode_oid(_long([1] * 126 + [0x81, 0x01]))  # same length, multi-octet arc


def test_an_arc_above_2_32_minus_1_is_refused() -> None:
    top = bytes([0x8F, 0xFF, 0xFF, 0xFF, 0x7F])  # 2**32 - 1
    assert ber.decode_oid(b"\x2b" + top)[-1] == 2**32 - 1
    with pytest.raises(ber.BerError):
        ber.decode_oid(b"\x2b" + bytes([0x90, 0x80, 0x80, 0x80, 0x00]))  # 2**32
    with pytest.raises(ber.BerError):
        ber.decode_oid(b"\x2b" + bytes([0xFF] * 40 + [0x7F]))


@pytest.mark.parametrize(
    "oid",
    [(1, 3, -1), (1, 3, 2**32), (3, 1), (1, 40), (1,), tuple([1, 3] + [1] * 127)],
)
def test_malformed_names_are_refused_by_the_encoder(oid: tuple[int, ...]) -> None:
    with pytest.raises(ber.BerError):
        ber.encode_oid(oid)


def test_the_oid_caches_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ber.OID_CACHE, "limit", 64_000)
    monkeypatch.setattr(ber.ENCODED_CACHE, "limit", 64_000)
    for n in range(3000):
        arcs = (1, 3, 6, 1, 4, 1, n, *range(120))
        content = ber.encode_oid(arcs)[3:]
        ber.decode_oid_cached(content)
        assert ber.OID_CACHE.bytes <= ber.OID_CACHE.limit
        assert ber.ENCODED_CACHE.bytes <= ber.ENCODED_CACHE.limit
    assert ber.decode_oid_cached(ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0))[2:]) == (
        1, 3, 6, 1, 2, 1, 1, 5, 0,
    )  # fmt: skip
