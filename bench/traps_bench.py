"""Traps: how fast a fault becomes a pair state and a warning, and how many
informs the receiver takes on one core.

    sudo .venv/bin/python bench/traps_bench.py storm [--devices 3100]
    sudo .venv/bin/python bench/traps_bench.py lab [--trials 3 --polling-trials 2]

storm: the whole city rebooting at once. Every simulated device is its own
SNMPv3 engine on its own loopback address (127.1.x.y) and does what an
agent does after a reboot: discover the receiver's engine id, then send a
coldStart inform (authPriv, SHA-256/AES-128), retransmitting after 1 s up
to 5 times. The receiver (pysnmp's notification receiver behind
yunwang's accounting) runs in its own process pinned to one core; the
senders (yunwang's own SNMPv3 codec) on the other. Reported: informs
acknowledged, time until the last one was, notifications the receiver
handled (retransmissions included) per CPU-second of the receiver.

lab: the default lab slice (FRR + snmpd sending v3 traps to the NMS), the
collector at the estate's 60 s interval. Time from `cut` of a county
primary and `blackhole` of a township primary to the pair's state and to
the YW-LINK-001 warning: with traps, and with polling alone (the fault
lands at a random moment of the cycle, as it would in production).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitors.snmp import ber, usm  # noqa: E402
from monitors.snmp.session import Credential  # noqa: E402

AUTH, PRIV = "bench-auth-key-1", "bench-priv-key-1"
USER = b"yunwang"
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
PDU_INFORM = 0xA6
ERRORS: dict[str, int] = {}  # send errors the devices' sockets saw


def device_address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


# --- storm: the receiver's side ---------------------------------------------


def receiver_main(devices: int, own_codec: bool) -> None:
    """Child process: the receiver on one core until stdin closes."""
    from monitors.traps.receiver import ReceiverSettings, TrapReceiver

    os.sched_setaffinity(0, {0})
    credential = Credential(3, user=USER.decode(), auth_protocol="sha256", auth_key=AUTH,
                            priv_protocol="aes128", priv_key=PRIV)  # fmt: skip
    known = {device_address(i): (f"device-{i}", credential) for i in range(devices)}
    handled: list[float] = []

    async def main() -> None:
        with tempfile.TemporaryDirectory() as state:
            receiver = TrapReceiver(
                ReceiverSettings(
                    "127.0.0.1", 0, state_file=Path(state) / "engine.json", own_codec=own_codec
                ),
                known,
                lambda _n: handled.append(time.monotonic()),
            )
            _host, port = await receiver.start()
            cpu_ready = time.process_time()
            print(json.dumps({"port": port}), flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)  # until the parent is done
            stats = receiver.stats
            print(json.dumps({
                "cpu_s": time.process_time() - cpu_ready,
                "datagrams": stats.datagrams,
                "informs": stats.notifications["inform"],
                "discovery": stats.discovery,
                "rejected": dict(stats.rejected),
                "span_s": (handled[-1] - handled[0]) if handled else 0.0,
                "kernel_drops": _drops(port),
            }), flush=True)  # fmt: skip
            receiver.close()

    asyncio.run(main())


def _drops(port: int) -> int:
    """Datagrams the kernel dropped on our socket (its buffer was full)."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return -1


# --- storm: the devices' side -------------------------------------------------


class Device(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        ERRORS[type(exc).__name__] = ERRORS.get(type(exc).__name__, 0) + 1


def inform_pdu(request_id: int, uptime: int) -> bytes:
    binds = ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 3, 0))
        + ber.tlv(ber.TAG_TIMETICKS, uptime.to_bytes(4, "big")),
    ) + ber.tlv(
        ber.TAG_SEQUENCE,
        ber.encode_oid((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)) + ber.encode_oid(COLD_START),
    )
    return ber.tlv(
        PDU_INFORM,
        ber.encode_integer(request_id) + ber.encode_integer(0) + ber.encode_integer(0)
        + ber.tlv(ber.TAG_SEQUENCE, binds),
    )  # fmt: skip


async def exchange(device: Device, build: object, to: tuple[str, int], tries: int) -> bytes | None:
    assert device.transport is not None and callable(build)
    for _ in range(tries):
        device.transport.sendto(build(), to)
        try:
            return await asyncio.wait_for(device.answers.get(), 1.0)
        except TimeoutError:
            continue
    return None


async def reboot(index: int, to: tuple[str, int], acked: list[float], sent: list[int]) -> None:
    loop = asyncio.get_running_loop()
    _t, device = await loop.create_datagram_endpoint(Device, local_addr=(device_address(index), 0))
    try:
        msg_id = index * 10 + 1

        def probe() -> bytes:
            sent[0] += 1
            return usm.encode(msg_id, ber.encode_pdu(ber.PDU_GET, msg_id, []), b"", None, None)

        report = await exchange(device, probe, to, 4)
        if report is None:
            return
        learnt = usm.decode(report, None)
        engine = usm.EngineState(learnt.engine_id, learnt.boots, learnt.engine_time,
                                 time.monotonic())  # fmt: skip
        keys = usm.localise("sha256", "aes128", AUTH, PRIV, learnt.engine_id)

        def inform() -> bytes:
            sent[0] += 1
            return usm.encode(msg_id + 1, inform_pdu(msg_id + 1, 100), USER, engine, keys)

        answer = await exchange(device, inform, to, 6)
        if answer is not None and usm.decode(answer, keys).pdu_type == ber.PDU_RESPONSE:
            acked.append(time.monotonic())
    finally:
        device.transport.close()


def storm(devices: int, own_codec: bool) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, devices + 256)), hard))
    child = subprocess.Popen(
        [sys.executable, __file__, "receiver", "--devices", str(devices)]
        + ([] if own_codec else ["--pysnmp-only"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    port = json.loads(child.stdout.readline())["port"]
    os.sched_setaffinity(0, {1})
    acked: list[float] = []
    sent = [0]

    async def main() -> float:
        started = time.monotonic()
        await asyncio.gather(*(reboot(i, ("127.0.0.1", port), acked, sent)
                               for i in range(devices)))  # fmt: skip
        return started

    started = asyncio.run(main())
    child.stdin.close()
    receiver = json.loads(child.stdout.readline())
    child.wait(30)
    return {
        "receiver_path": "yunwang codec (pysnmp for the rest)" if own_codec else "pysnmp only",
        "devices": devices,
        "acknowledged": len(acked),
        "last_ack_s": round(max(acked) - started, 2) if acked else None,
        "datagrams_sent": sent[0],
        "send_errors": ERRORS,
        "receiver": receiver,
        "handled_per_cpu_s": round(
            (receiver["informs"] + receiver["discovery"]) / max(receiver["cpu_s"], 1e-9)
        ),
    }


# --- lab: fault to pair state and warning ------------------------------------


def lab_timings(trials: int, polling_trials: int) -> dict[str, object]:
    from lab.lab import Lab
    from lab.testing import TEST_SECRETS
    from monitors.links import Thresholds
    from tests.traps.test_lab_traps import SMALL, TrapDriver

    os.environ.update({k: os.environ.get(k) or v for k, v in TEST_SECRETS.items()})
    directory = Path(tempfile.mkdtemp(prefix="yw-traps-bench-"))
    lab = Lab.up(SMALL, directory=directory, counties=2, townships=1, villages=1, hosts=0,
                 secrets=TEST_SECRETS)  # fmt: skip
    results: dict[str, list[dict[str, float]]] = {}
    faults = (("cut", "hl", "hl/primary", lab.cut), ("blackhole", "hl-zyl", "hl-zyl/primary",
              lab.blackhole))  # fmt: skip
    try:
        for traps, count in ((True, trials), (False, polling_trials)):
            # Repeated trials on one pair are not a flapping link.
            calm = Thresholds(flap_transitions=1000)
            driver = TrapDriver(lab, directory / f"events-{traps}.db", traps, calm)
            driver.start()
            driver.until(lambda d=driver: d.collection.cycles >= 1, 60, "the first cycle")
            try:
                for name, pair, link, fault in faults:
                    key = f"{name} ({'traps' if traps else 'polling alone'})"
                    for _ in range(count):
                        if not traps:  # the fault lands anywhere in the 60 s cycle
                            time.sleep(random.uniform(0, 60))
                        seen = len(driver.events)
                        started, wall = time.monotonic(), time.time()
                        fault(link)
                        to_state = driver.until(lambda p=pair, d=driver: d.state(p) == "failover",
                                                90, "failover", started)  # fmt: skip
                        to_warning = driver.until(
                            lambda p=pair, d=driver: d.warning("YW-LINK-001", p) is not None,
                            to_state + 5, "warning", started,
                        )  # fmt: skip
                        stages = _stages(driver.events[seen:], pair, wall)
                        results.setdefault(key, []).append(
                            {"to_state_s": to_state, "to_warning_s": to_warning, **stages}
                        )
                        lab.restore(link, wait=True)
                        driver.until(lambda p=pair, d=driver: d.state(p) == "normal", 90, "normal")
                        _settled(driver)
                        print(key, f"{to_state:.2f}s / {to_warning:.2f}s", stages, flush=True)
            finally:
                driver.stop()
    finally:
        lab.down()
    return {
        key: {"trials": len(values)}
        | {
            f"{stage}_median": round(statistics.median(v[stage] for v in values), 3)
            for stage in values[0]
        }
        | {"to_warning_max_s": round(max(v["to_warning_s"] for v in values), 3)}
        for key, values in results.items()
    }


def _stages(events: list[Any], pair: str, fault_at: float) -> dict[str, float]:
    """Where the time went, from the events' own timestamps (the product's
    clock; the bench's observing thread adds its own lag on a loaded
    machine): fault to the pair's state event; fault to the first trap
    about the pair (the router's side: OSPF, BFD, AgentX, snmpd); that trap
    to the pair's new state (the re-poll and the judgment)."""
    trap = next((e for e in events if e.dataset == "yunwang.traps" and e.context.pair == pair
                 and e.context.state == "down"), None)  # fmt: skip
    state = next(e for e in events
                 if e.action == "pair-state-changed" and e.context.pair == pair)  # fmt: skip
    product = {"fault_to_state_event_s": state.timestamp.timestamp() - fault_at}
    if trap is None:  # polling alone
        return product
    return product | {
        "fault_to_trap_s": trap.timestamp.timestamp() - fault_at,
        "trap_to_state_s": (state.timestamp - trap.timestamp).total_seconds(),
    }


def _settled(driver: Any, quiet_s: float = 6.0) -> None:
    """Until no re-poll ran for `quiet_s`: snmpd's late linkUp of the restore
    re-polls the pair, and the next trial starts from a quiet receiver."""
    counters = driver.service.counters
    last, since = counters.repolls, time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.1)
        if counters.repolls != last:
            last, since = counters.repolls, time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["storm", "lab", "receiver"])
    parser.add_argument("--devices", type=int, default=3100)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--polling-trials", type=int, default=2)
    parser.add_argument("--pysnmp-only", action="store_true", help="receiver: no own codec")
    args = parser.parse_args()
    if args.part == "receiver":
        receiver_main(args.devices, not args.pysnmp_only)
        return
    if args.part == "storm":  # the peer first, then ours, in the same run
        result: object = [storm(args.devices, own_codec=False), storm(args.devices, own_codec=True)]
    else:
        result = lab_timings(args.trials, args.polling_trials)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
