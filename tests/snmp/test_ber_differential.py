"""The fast decoder against pysnmp's own (pyasn1) decoder: same bytes in,
same varbinds out, for every record of the vendor recordings and thousands
of generated messages; anything pysnmp refuses, the fast path refuses too."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902
from pysnmp.proto.api import v2c

from monitors.snmp import ber
from monitors.snmp.pysnmp_session import from_pysnmp
from monitors.snmp.recordings import SLICED_MODELS, records

_MAKE = {
    ber.TAG_INTEGER: rfc1902.Integer32,
    ber.TAG_OCTET_STRING: rfc1902.OctetString,
    ber.TAG_OID: rfc1902.ObjectName,
    ber.TAG_IPADDRESS: rfc1902.IpAddress,
    ber.TAG_COUNTER32: rfc1902.Counter32,
    ber.TAG_GAUGE32: rfc1902.Gauge32,
    ber.TAG_TIMETICKS: rfc1902.TimeTicks,
    ber.TAG_OPAQUE: rfc1902.Opaque,
    ber.TAG_COUNTER64: rfc1902.Counter64,
}


def pysnmp_value(tag: int, value: ber.Value) -> object:
    if tag == ber.TAG_NULL:
        return rfc1902.Null("")
    if tag == ber.TAG_NO_SUCH_OBJECT:
        return v2c.NoSuchObject("")
    if tag == ber.TAG_NO_SUCH_INSTANCE:
        return v2c.NoSuchInstance("")
    if tag == ber.TAG_END_OF_MIB_VIEW:
        return v2c.EndOfMibView("")
    return _MAKE[tag](value)


def encode_response(
    varbinds: list[ber.VarBind], request_id: int = 7, community: bytes = b"c"
) -> bytes:
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, [(oid, pysnmp_value(tag, value)) for oid, tag, value in varbinds])
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def reference(data: bytes) -> tuple[int, bytes, list[ber.VarBind]]:
    message, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert not rest
    pdu = v2c.apiMessage.get_pdu(message)
    binds = [(tuple(name), *from_pysnmp(value)) for name, value in v2c.apiPDU.get_varbinds(pdu)]
    return int(v2c.apiPDU.get_request_id(pdu)), bytes(v2c.apiMessage.get_community(message)), binds


def assert_same(data: bytes) -> None:
    request_id, community, binds = reference(data)
    fast = ber.decode_message(data)
    assert fast.request_id == request_id
    assert fast.community == community
    assert fast.varbinds == binds


@pytest.mark.parametrize("stem", SLICED_MODELS)
def test_every_record_of_every_vendor_recording(recordings: Path, stem: str) -> None:
    rows = list(records(recordings / f"{stem}.snmprec"))
    assert len(rows) > 500
    for start in range(0, len(rows), 40):
        assert_same(encode_response(rows[start : start + 40], request_id=start))


_oids = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=14).flatmap(
    lambda tail: st.sampled_from([(1, 3), (0, 39), (2, 999), (1, 0)]).map(lambda h: h + tuple(tail))
)
_values = st.one_of(
    st.tuples(st.just(ber.TAG_INTEGER), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just(ber.TAG_OCTET_STRING), st.binary(max_size=300)),
    st.tuples(st.just(ber.TAG_OPAQUE), st.binary(max_size=20)),
    st.tuples(st.just(ber.TAG_IPADDRESS), st.binary(min_size=4, max_size=4)),
    st.tuples(st.sampled_from([ber.TAG_COUNTER32, ber.TAG_GAUGE32, ber.TAG_TIMETICKS]),
              st.integers(0, 2**32 - 1)),
    st.tuples(st.just(ber.TAG_COUNTER64), st.integers(0, 2**64 - 1)),
    st.tuples(st.just(ber.TAG_OID), _oids),
    st.tuples(st.sampled_from([ber.TAG_NULL, ber.TAG_NO_SUCH_OBJECT, ber.TAG_NO_SUCH_INSTANCE,
                               ber.TAG_END_OF_MIB_VIEW]), st.none()),
)  # fmt: skip
_varbinds = st.lists(st.tuples(_oids, _values).map(lambda p: (p[0], *p[1])), max_size=30)


@settings(max_examples=2000, deadline=None)
@given(_varbinds, st.integers(-(2**31), 2**31 - 1), st.binary(max_size=40))
def test_generated_responses_decode_as_pysnmp_does(
    varbinds: list[ber.VarBind], request_id: int, community: bytes
) -> None:
    assert_same(encode_response(varbinds, request_id, community))


@settings(max_examples=1000, deadline=None)
@given(_varbinds.filter(bool), st.data())
def test_damaged_messages_are_errors_never_crashes(
    varbinds: list[ber.VarBind], data: st.DataObject
) -> None:
    good = encode_response(varbinds)
    cut = data.draw(st.integers(0, len(good) - 1))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), max_size=3)
    )
    damaged = bytearray(good)
    for position, byte in flips:
        damaged[position] = byte
    for sample in (good[:cut], bytes(damaged)):
        try:
            fast = ber.decode_message(sample)
        except ber.BerError:
            continue  # refused: counted as malformed by the transport
        # Whatever the fast path accepts, pysnmp reads the same way.
        _request_id, _community, binds = reference(sample)
        assert fast.varbinds == binds


def test_request_encoding_is_what_pysnmp_reads() -> None:
    request = ber.encode_request(
        b"public",
        ber.PDU_GETBULK,
        4242,
        [(1, 3, 6, 1, 2, 1, 2, 2, 1, 10), (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 300000)],
        max_repetitions=25,
    )
    message, _ = decoder.decode(request, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    assert int(v2c.apiBulkPDU.get_request_id(pdu)) == 4242
    assert int(v2c.apiBulkPDU.get_max_repetitions(pdu)) == 25
    assert [tuple(n) for n, _ in v2c.apiBulkPDU.get_varbinds(pdu)] == [
        (1, 3, 6, 1, 2, 1, 2, 2, 1, 10),
        (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 300000),
    ]
