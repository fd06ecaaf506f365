"""The USM codec on its own: what it seals it opens, what was touched it refuses.
(Against real agents: test_snmpd.py and the lab tests.)"""

from __future__ import annotations

import time

import pytest

from monitors.snmp import ber, usm

ENGINE = usm.EngineState(bytes.fromhex("80001f8880aabbccdd"), 7, 1234, time.monotonic())


@pytest.mark.parametrize(("auth", "priv"), [("sha", "aes128"), ("sha256", "aes256")])
def test_sealed_message_opens_and_any_flipped_byte_is_refused(auth: str, priv: str) -> None:
    keys = usm.localise(auth, priv, "auth-secret-1", "priv-secret-1", ENGINE.engine_id)
    pdu = ber.encode_pdu(ber.PDU_GETBULK, 4242, [(1, 3, 6, 1, 2, 1, 2, 2, 1, 10)], 0, 25)
    sealed = usm.encode(4242, pdu, b"yunwang", ENGINE, keys, b"ctx")
    opened = usm.decode(sealed, keys)
    assert (opened.msg_id, opened.request_id, opened.pdu_type) == (4242, 4242, ber.PDU_GETBULK)
    assert opened.user == b"yunwang" and opened.engine_id == ENGINE.engine_id
    assert opened.flags & usm.FLAG_AUTH and opened.flags & usm.FLAG_PRIV
    assert opened.varbinds == [((1, 3, 6, 1, 2, 1, 2, 2, 1, 10), ber.TAG_NULL, None)]
    assert b"ctx" not in sealed  # the ScopedPDU travels encrypted
    for position in range(len(sealed) - 40, len(sealed)):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises((usm.UsmError, ber.BerError)):
            usm.decode(bytes(damaged), keys)
    other = usm.localise(auth, priv, "auth-secret-2", "priv-secret-1", ENGINE.engine_id)
    with pytest.raises(usm.UsmError):
        usm.decode(sealed, other)


def test_keys_are_localised_per_engine() -> None:
    one = usm.localise("sha", "aes128", "auth-secret-1", "priv-secret-1", b"\x80\x00\x00\x01")
    two = usm.localise("sha", "aes128", "auth-secret-1", "priv-secret-1", b"\x80\x00\x00\x02")
    assert one.auth_key != two.auth_key and one.priv_key != two.priv_key
    assert len(one.priv_key) == 16
    assert len(usm.localise("sha", "aes256", "a" * 8, "p" * 8, b"\x80").priv_key) == 32
