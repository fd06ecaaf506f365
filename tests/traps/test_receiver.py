"""The receiver on loopback against net-snmp's own senders (snmptrap,
snmpinform): informs acknowledged, v3 traps authenticated under the
sender's learned engine id, wrong keys and strangers counted, v2c only when
allowed, and hostile datagrams costing only themselves."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from monitors.snmp.session import Credential
from monitors.traps.receiver import MAX_DATAGRAM, Notification, ReceiverSettings, TrapReceiver
from monitors.traps.users import ENGINES_PER_DEVICE

AUTH, PRIV = "trap-auth-key-1", "trap-priv-key-1"
V3 = Credential(3, user="yunwang", auth_protocol="sha256", auth_key=AUTH,
                priv_protocol="aes128", priv_key=PRIV)  # fmt: skip
DEVICE = "127.0.0.1"  # the estate device's address; 127.0.0.2 is a stranger
LINK_DOWN = ["1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.7", "i", "7",
             "1.3.6.1.2.1.2.2.1.8.7", "i", "2"]  # fmt: skip


# net-snmp's default (-t 1 -r 5) retransmits an inform whose acknowledgement is
# over 1 s late, delivering it twice; one send, waited for patiently, instead.
ONE_INFORM = ["-t", "10", "-r", "0"]


def v3_args(auth: str = AUTH, priv: str = PRIV) -> list[str]:
    return ["-v3", "-u", "yunwang", "-l", "authPriv", "-a", "SHA-256", "-A", auth,
            "-x", "AES", "-X", priv]  # fmt: skip


@pytest.fixture(autouse=True)
def _net_snmp() -> None:
    if shutil.which("snmptrap") is None:
        pytest.fail("snmptrap is missing: run ci/setup.d/30-snmp.sh")


Scenario = Callable[[TrapReceiver, list[Notification], str], Awaitable[None]]


def run(scenario: Scenario, tmp_path: Path, communities: tuple[str, ...] = ()) -> TrapReceiver:
    got: list[Notification] = []
    v2c = Credential(2, community="trap-community")
    devices = {DEVICE: ("r1", V3), "127.0.0.3": ("r3", v2c)}
    receiver = TrapReceiver(
        ReceiverSettings("127.0.0.1", 0, state_file=tmp_path / "engine.json"),
        devices,
        got.append,
        communities,
    )

    async def main() -> None:
        host, port = await receiver.start()
        try:
            await scenario(receiver, got, f"udp:{host}:{port}")
        finally:
            receiver.close()

    asyncio.run(main())
    return receiver


async def send(tool: str, args: list[str], source: str = DEVICE, ok: bool = True) -> None:
    process = await asyncio.create_subprocess_exec(
        tool, f"--clientaddr={source}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await process.communicate()
    if ok:
        assert process.returncode == 0, err.decode()


async def settle(got: list[Notification], count: int, within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if len(got) >= count:
            return
        await asyncio.sleep(0.02)


def test_informs_are_acknowledged_and_v3_traps_learn_the_sender_engine(tmp_path: Path) -> None:
    async def scenario(receiver: TrapReceiver, got: list[Notification], to: str) -> None:
        # snmpinform exits 0 only once our Response came back.
        await send("snmpinform", [*ONE_INFORM, *v3_args(), to, "", *LINK_DOWN])
        await send("snmptrap", [*v3_args(), "-e", "0x80001f8880c0ffee01", to, "", *LINK_DOWN])
        await settle(got, 2)
        assert [n.confirmed for n in got] == [True, False]
        for notification in got:
            assert notification.source == DEVICE and notification.version == "v3"
            assert notification.trap_oid == (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
            assert ((1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 7), 2) in notification.varbinds

    receiver = run(scenario, tmp_path)
    assert receiver.stats.notifications == {"inform": 1, "trap": 1}
    assert receiver.stats.engines_learned == 1 and not receiver.stats.rejected
    # The inform (to our engine, whose keys we hold) took the fast path and
    # net-snmp accepted its Response; the first trap of a new engine, pysnmp's.
    assert receiver.stats.fast == 1


def test_the_receiver_engine_id_survives_a_restart_with_more_boots(tmp_path: Path) -> None:
    async def nothing(receiver: TrapReceiver, got: list[Notification], to: str) -> None:
        return None

    first, second = run(nothing, tmp_path), run(nothing, tmp_path)
    assert first.engine_id == second.engine_id and len(first.engine_id) == 13
    assert (tmp_path / "engine.json").read_text().count('"boots": 2') == 1


def test_wrong_keys_and_unknown_senders_are_counted_and_never_delivered(tmp_path: Path) -> None:
    async def scenario(receiver: TrapReceiver, got: list[Notification], to: str) -> None:
        wrong = v3_args("not-the-auth-key", "not-the-priv-key")
        await send("snmptrap", [*wrong, "-e", "0x80001f8880c0ffee02", to, "", *LINK_DOWN])
        # Never acknowledged, so it waits out -t; 3 s, so a late answer to its
        # engine-id probe still lets the inform itself go out.
        await send("snmpinform", ["-r", "0", "-t", "3", *wrong, to, "", *LINK_DOWN], ok=False)
        # A stranger with the right keys: its trap's engine id is never learned.
        await send("snmptrap", [*v3_args(), "-e", "0x80001f8880c0ffee03", to, "", *LINK_DOWN],
                   source="127.0.0.2")  # fmt: skip
        # v2c is refused unless the estate allows it (no community here).
        await send("snmptrap", ["-v", "2c", "-c", "trap-community", to, "", *LINK_DOWN],
                   source="127.0.0.3")  # fmt: skip
        rejected = receiver.stats.rejected
        # Every datagram judged (the counts below), then nothing may have been delivered.
        await _until(lambda: rejected["wrong-digest"] >= 2 and rejected["unknown-user"] >= 1
                     and rejected["bad-community"] >= 1)  # fmt: skip
        assert not got

    receiver = run(scenario, tmp_path)
    rejected = receiver.stats.rejected
    assert rejected["wrong-digest"] >= 2, rejected  # the trap and the inform
    assert rejected["unknown-user"] == 1, rejected  # the stranger's engine id
    assert rejected["bad-community"] == 1, rejected
    assert receiver.stats.engines_learned == 0


def test_v2c_when_the_estate_allows_it(tmp_path: Path) -> None:
    async def scenario(receiver: TrapReceiver, got: list[Notification], to: str) -> None:
        await send("snmptrap", ["-v", "2c", "-c", "trap-community", to, "", *LINK_DOWN],
                   source="127.0.0.3")  # fmt: skip
        await settle(got, 1)
        assert [(n.version, n.source) for n in got] == [("v2c", "127.0.0.3")]

    run(scenario, tmp_path, communities=("trap-community",))


async def _until(check: Callable[[], bool], within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the receiver stopped taking datagrams")


def _captured_trap(engine_id: str) -> bytes:
    """A real v3 authPriv trap, as snmptrap puts it on the wire."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(10)
        port = sink.getsockname()[1]

        async def go() -> None:
            await send("snmptrap", [*v3_args(), "-e", engine_id, f"udp:127.0.0.1:{port}", "",
                                    *LINK_DOWN])  # fmt: skip

        asyncio.run(go())
        return sink.recv(65535)


def _mutations(valid: bytes, rng: random.Random) -> list[bytes]:
    hostile: list[bytes] = [b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x80" + valid,
                            b"\x00" * (MAX_DATAGRAM + 1), valid + b"\x00", valid[:-1]]  # fmt: skip
    for _ in range(300):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        hostile.append(bytes(data))
    for cut in range(0, len(valid), 7):
        hostile.append(valid[:cut])
    for _ in range(100):
        hostile.append(rng.randbytes(rng.randint(1, 600)))
    for position in range(1, 40):  # inflated and deflated length octets
        data = bytearray(valid)
        data[position] = 0xFF if rng.random() < 0.5 else 0x00
        hostile.append(bytes(data))
    return hostile


def test_hostile_datagrams_cost_only_themselves(tmp_path: Path) -> None:
    valid = _captured_trap("0x80001f8880c0ffee04")
    hostile = _mutations(valid, random.Random(19))

    async def scenario(receiver: TrapReceiver, got: list[Notification], to: str) -> None:
        port = int(to.rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.bind((DEVICE, 0))  # from the device's own address: the learning path too
            # The genuine trap first: its engine is learnt, so the mutations
            # meet both paths, ours (keys held) and pysnmp's (other engine ids).
            out.sendto(valid, ("127.0.0.1", port))
            await settle(got, 1)
            assert len(got) == 1 and receiver.stats.engines_learned == 1, receiver.stats
            for index, datagram in enumerate(hostile, 2):
                out.sendto(datagram, ("127.0.0.1", port))
                if index % 20 == 0:  # paced: the kernel's socket buffer must not drop any
                    await _until(lambda sent=index: receiver.stats.datagrams >= sent)
            await _until(lambda: receiver.stats.datagrams >= len(hostile) + 1)
            assert receiver.stats.datagrams == len(hostile) + 1  # none lost before the counter
            delivered = len(got)
            out.sendto(valid, ("127.0.0.1", port))  # a copy within the time window: accepted
            await settle(got, delivered + 1)
            assert len(got) == delivered + 1, receiver.stats  # still serving
        await send("snmpinform", [*ONE_INFORM, *v3_args(), to, "", *LINK_DOWN])  # and acknowledging

    receiver = run(scenario, tmp_path)
    stats = receiver.stats
    # Every datagram that reached the socket ends in exactly one counter.
    accounted = sum(stats.notifications.values()) + stats.discovery + sum(stats.rejected.values())
    assert stats.datagrams == accounted, stats
    assert (
        stats.datagrams >= len(hostile) + 4
    )  # the valid trap twice, the inform's probe and inform
    assert stats.rejected["oversized"] == 1
    assert stats.rejected["malformed"] + stats.rejected["wrong-digest"] > len(hostile) // 2, stats
    # Forged engine ids from a device's address are learnt only if they authenticate.
    assert stats.engines_learned <= ENGINES_PER_DEVICE


def test_informs_over_ipv6(tmp_path: Path) -> None:
    got: list[Notification] = []
    receiver = TrapReceiver(
        ReceiverSettings("::1", 0, state_file=tmp_path / "engine.json"), {"::1": ("r1", V3)},
        got.append,
    )  # fmt: skip

    async def main() -> None:
        _host, port = await receiver.start()
        try:
            to = f"udp6:[::1]:{port}"
            await send("snmpinform", [*ONE_INFORM, *v3_args(), to, "", *LINK_DOWN], "::1")
            await settle(got, 1)
        finally:
            receiver.close()

    asyncio.run(main())
    assert [(n.source, n.confirmed) for n in got] == [("::1", True)]


def test_an_engine_id_the_estate_declares_needs_no_learning(tmp_path: Path) -> None:
    """A device's declared engine id: its first trap is read by our codec,
    nothing is learnt; a trap from another engine id is still learnt."""
    got: list[Notification] = []
    declared = bytes.fromhex("80001f8880c0ffee06")
    receiver = TrapReceiver(
        ReceiverSettings("127.0.0.1", 0, state_file=tmp_path / "engine.json"),
        {DEVICE: ("r1", V3)}, got.append, engines={DEVICE: declared},
    )  # fmt: skip

    async def main() -> None:
        _host, port = await receiver.start()
        try:
            to = f"udp:127.0.0.1:{port}"
            await send("snmptrap", [*v3_args(), "-e", "0x" + declared.hex(), to, "", *LINK_DOWN])
            await settle(got, 1)
            assert receiver.stats.fast == 1 and receiver.stats.engines_learned == 0
            await send("snmptrap", [*v3_args(), "-e", "0x80001f8880c0ffee07", to, "", *LINK_DOWN])
            await settle(got, 2)
        finally:
            receiver.close()

    asyncio.run(main())
    assert [n.source for n in got] == [DEVICE, DEVICE]
    assert receiver.stats.engines_learned == 1 and not receiver.stats.rejected
