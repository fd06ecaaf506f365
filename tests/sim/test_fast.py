"""The fast simulator (monitors/sim/fast.py, responder.py) through the
project's own poller and dual-link tracker, v3 authPriv and v2c, on
loopback: failover, flapping, silent failure and an isolated county, as
with snmpsim.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from estate import Estate
from monitors.sim.fast import FastSimulatedEstate
from monitors.snmp.collection import Collection

FLAP_S = 4.0  # a phase outlasts a cycle (~1 s with the sleep) several times over
# Counted from the simulator's start: the start and a first cycle (~1 s at load
# 9) must see the adjacency Full before it. Free up to ~16 s: seeing 4 flaps
# takes that long anyway.
SILENT_AFTER_S = 15.0


def _watch(small: Estate, sim: FastSimulatedEstate) -> tuple[dict[str, set[str]], dict[str, str]]:
    targets, problems = sim.poll_targets()
    assert not problems
    run = Collection(small, targets, sim.poller_settings(5.0))
    seen: dict[str, set[str]] = {}
    reasons: dict[str, str] = {}

    async def watch() -> None:
        deadline = time.monotonic() + 150  # a cap only: it ends once both are seen
        while time.monotonic() < deadline:
            first = not seen
            snapshot = await run.cycle()
            assert not snapshot.unmatched, [str(u) for u in snapshot.unmatched]
            assert all(p.state == "reachable" for p in snapshot.polls.values())
            assert len(snapshot.polls) == len(sim.devices)
            for view in snapshot.views:
                seen.setdefault(view.pair.id, set()).add(view.state)
                reasons[f"{view.pair.id}:{view.state}"] = view.reason
            # The premise: a poll saw qf-mzq healthy before its silent failure.
            assert not first or seen["qf-mzq"] == {"normal"}, (
                f"the first cycle saw qf-mzq {seen['qf-mzq']}: it came after the "
                f"{SILENT_AFTER_S:.0f} s onset, the machine is too slow"
            )
            if "flapping" in seen.get("qf-cgz", set()) and "failover" in seen.get("qf-mzq", set()):
                return
            await asyncio.sleep(max(0.0, 1.0 - snapshot.cycle_s))

    try:
        asyncio.run(watch())
    finally:
        run.close()
    return seen, reasons


@pytest.mark.parametrize("version", ["v3", "v2c"])
def test_poller_sees_failover_silent_failure_and_flapping(small: Estate, version: str) -> None:
    scenario = "demo+silent-failure:qf-mzq+county-isolated:qf"
    with FastSimulatedEstate(
        small, scenario, processes=2, version=version,  # type: ignore[arg-type]
        flap_period_s=FLAP_S, silent_after_s=SILENT_AFTER_S,
    ) as sim:  # fmt: skip
        assert len(set(sim.ports)) == 2
        seen, reasons = _watch(small, sim)
    assert seen["hl"] == {"failover"}  # from the first cycle on
    assert "flapping" in seen["qf-cgz"]
    assert "normal" in seen["qf-mzq"] and "failover" in seen["qf-mzq"]
    assert "silently dead" in reasons["qf-mzq:failover"]
    assert seen["qf"] == {"isolated"}  # both county links down
    for pair in ("hl-zyl", "hl-ycz"):
        assert seen[pair] == {"normal"}
