"""The fast responder's agent (monitors/sim/responder.py) in process, on
the project's own codec: answers, v3 reports, and hostile datagrams that
cost only themselves."""

from __future__ import annotations

import random
import time

from estate import Estate
from monitors.sim import generator, scenarios
from monitors.sim.responder import Agent, Config
from monitors.snmp import ber, usm

ENGINE = b"\x80\x00\x1f\x88\x04yw-test"
SYS_NAME = ber.oid_from_str("1.3.6.1.2.1.1.5.0")
IF_TABLE = ber.oid_from_str("1.3.6.1.2.1.2.2")


def _agent(small: Estate) -> tuple[Agent, str, usm.LocalKeys]:
    plan = generator.build_plan(small, scenarios.parse("demo", small))
    device = generator.simulated_devices(small)[0]
    keys = usm.localise("sha256", "aes128", "auth-key-12345", "priv-key-12345", ENGINE)
    config = Config({device.name: generator.device_records(device, plan)}, {"yw": keys},
                    ENGINE, time.time())  # fmt: skip
    return Agent(config), device.name, keys


def test_v2c_get_and_bulk_answer_from_the_records(small: Estate) -> None:
    agent, name, _ = _agent(small)
    reply = agent.answer(ber.encode_request(name.encode(), ber.PDU_GET, 7, [SYS_NAME]))
    assert reply is not None
    response = ber.decode_message(reply)
    assert response.request_id == 7 and response.varbinds == [(SYS_NAME, 0x04, name.encode())]
    bulk = ber.encode_request(name.encode(), ber.PDU_GETBULK, 8, [IF_TABLE], 0, 10_000)
    reply = agent.answer(bulk)
    assert reply is not None and len(reply) < 65_507  # bounded, whatever max-repetitions says
    binds = ber.decode_message(reply).varbinds
    assert binds[0][0][: len(IF_TABLE)] == IF_TABLE
    assert binds[-1][2] is ber.END_OF_MIB_VIEW  # the walk ran off the end, said so once
    assert agent.answer(ber.encode_request(b"nobody", ber.PDU_GET, 9, [SYS_NAME])) is None


def test_v3_discovery_wrong_key_and_authpriv(small: Estate) -> None:
    agent, name, keys = _agent(small)
    get = ber.encode_pdu(ber.PDU_GET, 11, [SYS_NAME])
    probe = agent.answer(usm.encode(1, get, b"", None, None))
    assert probe is not None
    report = usm.decode(probe, None)
    assert report.pdu_type == ber.PDU_REPORT and report.engine_id == ENGINE
    engine = usm.EngineState(ENGINE, report.boots, report.engine_time, time.monotonic())
    wrong = usm.localise("sha256", "aes128", "other-key-1234", "priv-key-12345", ENGINE)
    refused = agent.answer(usm.encode(2, get, b"yw", engine, wrong, name.encode()))
    assert refused is not None and usm.report_reason(usm.decode(refused, None)) == "wrongDigest"
    answer = agent.answer(usm.encode(3, get, b"yw", engine, keys, name.encode()))
    assert answer is not None
    message = usm.decode(answer, keys)
    assert message.flags & usm.FLAG_PRIV and message.varbinds == [(SYS_NAME, 0x04, name.encode())]
    assert agent.answer(usm.encode(4, get, b"yw", engine, keys, b"no-such-device")) is None


def test_hostile_datagrams_cost_only_themselves(small: Estate) -> None:
    agent, name, _ = _agent(small)
    valid = ber.encode_request(name.encode(), ber.PDU_GETNEXT, 5, [SYS_NAME])
    rng = random.Random(13)
    hostile = [valid[:cut] for cut in range(len(valid))]
    hostile += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(500)]
    for _ in range(500):
        flipped = bytearray(valid)
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        hostile.append(bytes(flipped))
    for datagram in hostile:
        agent.answer(datagram)  # None or an answer; never an exception
    assert agent.dropped > 500
    assert agent.answer(valid) is not None  # and it still answers
