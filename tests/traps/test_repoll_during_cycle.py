"""A trap's re-poll does not wait for a scheduled cycle stuck on a dead device,
and the cycle's older answers, arriving later, do not undo what it found.

Real parts: the project's fast SNMPv3 responders serving examples/small.yaml
with a silent failure of qf-mzq's primary (IF-MIB up, the OSPF neighbour
leaves Full `SILENT_AFTER_S` after the simulator starts); a device that never
answers (a loopback UDP socket nobody reads); the trap receiver on loopback
and net-snmp's `snmptrap` sending a v3 authPriv BFD session-down as
qf-mzq-r1, which names every pair at its node.

The scheduled cycle is sent before the fault and waits on the dead device
for `CYCLE_DEADLINE_S`; the trap comes after the fault, inside that cycle.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from estate import load
from monitors.sim.fast import FastSimulatedEstate
from monitors.snmp.collection import Collection
from monitors.snmp.poller import PollerSettings
from monitors.traps.receiver import ReceiverSettings
from monitors.traps.service import TrapService
from security.events import Event

# The fault, after the simulator starts: the start and the first cycle (~3 s
# at load 9) must come well before it, on a loaded machine too.
SILENT_AFTER_S = 20.0
FIRST_DEADLINE_S = 1.5  # the first cycle gives up on the dead device quickly ...
# ... the one in flight during the trap does not: sent before the fault, it
# still waits >= 15 s after it, for the trap and its re-poll to land inside.
CYCLE_DEADLINE_S = SILENT_AFTER_S + 15
SENDER = "qf-mzq-r1"
PAIR = "qf-mzq"
BFD_SESS_DOWN = "1.3.6.1.2.1.222.0.2"
AUTH = {"sha": "SHA", "sha256": "SHA-256"}
PRIV = {"aes128": "AES", "aes256": "AES-256"}


def test_a_trap_repolls_at_once_while_a_cycle_waits_on_a_dead_device(
    small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("snmptrap") is None:
        pytest.fail("snmptrap is missing: run ci/setup.d/30-snmp.sh")
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    estate = load(small_path)
    before_start = time.time()
    scenario = f"silent-failure:{PAIR}"
    with (
        FastSimulatedEstate(estate, scenario, silent_after_s=SILENT_AFTER_S) as sim,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead,
    ):
        onset = time.time() + SILENT_AFTER_S  # the simulator's clock started before this
        dead.bind(("127.0.0.2", 0))  # never read: every request to it is lost
        targets, problems = sim.poll_targets()
        assert not problems
        sender = next(t for t in targets if t.name == SENDER)
        # The receiver names a sender by address: all simulated devices share
        # 127.0.0.1, the last target there is the one it knows.
        targets = [t for t in targets if t is not sender] + [sender]
        targets.append(replace(sender, name="dead-router", host="127.0.0.2",
                               port=dead.getsockname()[1]))  # fmt: skip
        settings = PollerSettings(
            timeout_s=CYCLE_DEADLINE_S + 5, retries=0, deadline_s=FIRST_DEADLINE_S, slow_s=5.0
        )
        timeline: list[Event | str] = []
        collection = Collection(estate, targets, settings, sink=timeline.append)
        service = TrapService(
            collection,
            ReceiverSettings("127.0.0.1", 0, state_file=tmp_path / "engine.json"),
            sink=timeline.append,
        )
        credential = sender.credential

        async def main() -> None:
            host, port = await service.start()
            assert service.receiver.users.devices["127.0.0.1"][0] == SENDER
            await collection.cycle()
            assert collection.tracker.states[PAIR] == "normal"
            settings.deadline_s = CYCLE_DEADLINE_S
            cycle_sent = time.time()
            cycle = asyncio.create_task(collection.cycle())
            cycle.add_done_callback(lambda _: timeline.append("cycle finished"))
            # The premise: the cycle asked qf-mzq's devices before the fault.
            assert cycle_sent < before_start + SILENT_AFTER_S - 2, "the machine is too slow"
            await asyncio.sleep(onset + 0.3 - time.time())
            assert not cycle.done()
            trap = await asyncio.create_subprocess_exec(
                "snmptrap", "--clientaddr=127.0.0.1", "-v3", "-l", "authPriv",
                "-u", credential.user or "",
                "-a", AUTH[credential.auth_protocol or ""], "-A", credential.auth_key or "",
                "-x", PRIV[credential.priv_protocol or ""], "-X", credential.priv_key or "",
                f"udp:{host}:{port}", "", BFD_SESS_DOWN,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _out, err = await trap.communicate()
            assert trap.returncode == 0, err.decode()
            await cycle
            for _ in range(100):  # a re-poll held up by the cycle runs after it
                if service.counters.repolls:
                    break
                await asyncio.sleep(0.05)

        try:
            asyncio.run(main())
        finally:
            service.close()
            collection.close()

    changes = [e for e in timeline if isinstance(e, Event) and e.dataset == "yunwang.links"
               and e.context.pair == PAIR]  # fmt: skip
    assert [e.context.state for e in changes] == ["failover"], changes
    failover = timeline.index(changes[0])
    trap_event = next(i for i, e in enumerate(timeline)
                      if isinstance(e, Event) and e.dataset == "yunwang.traps")  # fmt: skip
    # The re-poll's judgment came between the trap and the end of the cycle
    # that was in flight, and the cycle's older answers did not undo it.
    assert trap_event < failover < timeline.index("cycle finished"), timeline
    assert "silently dead" in changes[0].message
    assert collection.tracker.states[PAIR] == "failover"
    assert service.counters.confirmed == 1 and service.counters.repolls == 1
    dead_polls = [e for e in timeline if isinstance(e, Event) and e.context.device == "dead-router"]
    assert not dead_polls  # no estate device: nothing to place its events in
