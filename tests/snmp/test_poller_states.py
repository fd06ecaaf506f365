"""A dead agent and a slow one cost their own poll, not the others'."""

from __future__ import annotations

import asyncio
import time

from monitors.snmp.poller import Poller, PollerSettings
from monitors.snmp.session import Credential, Target
from tests.snmp.agents import Snmpsim, free_udp_port
from tests.snmp.conftest import SLOW_WAIT_MS


def test_unreachable_and_slow_devices_do_not_delay_the_others(
    snmpsim: Snmpsim, slow_snmpsim: Snmpsim
) -> None:
    fast = [Target(stem, "127.0.0.1", Credential(2, community=stem), snmpsim.port)
            for stem in ("huawei-s5720", "ruijie-s5750", "zte-zxr10")]  # fmt: skip
    slow = Target("slow", "127.0.0.1", Credential(2, community="slow"), slow_snmpsim.port)
    dead = Target("dead", "127.0.0.1", Credential(2, community="x"), free_udp_port())
    # The slow agent answers within the timeout, but past slow_s.
    settings = PollerSettings(timeout_s=8.0, retries=1, slow_s=4.0, routing=False)
    poller = Poller([slow, dead, *fast], settings)
    started = time.monotonic()
    polls = {p.device: p for p in asyncio.run(poller.poll())}
    cycle = time.monotonic() - started
    poller.close()

    assert polls["dead"].state == "unreachable"
    assert polls["dead"].error_kind == "timeout"
    assert polls["slow"].state == "slow", polls["slow"].error
    assert polls["slow"].interfaces
    for target in fast:
        assert polls[target.name].state == "reachable"
        # Each fast device finished before the slow agent's first answer came.
        assert polls[target.name].duration_s < SLOW_WAIT_MS / 1000
    # Concurrent, not serial: the cycle is the slowest device, not the sum.
    assert cycle < polls["dead"].duration_s + polls["slow"].duration_s
    assert poller.errors[("dead", "timeout")] == 1
