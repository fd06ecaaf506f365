"""The simulator through the project's own poller and dual-link tracker
(monitors/snmp, monitors/links.py): the warnings a newcomer should see.
"""

from __future__ import annotations

import asyncio
import time

from estate import Estate
from monitors.sim import SimulatedEstate
from monitors.snmp.collection import Collection
from monitors.snmp.poller import PollerSettings

# Each flap phase outlasts a slow cycle (3-6 s at load 10), so every phase is
# sampled and no change aliases away.
FLAP_S = 10.0
# Counted from the simulator's boot: its start (~4 s) and a first cycle (~5 s)
# must see the adjacency Full before it, on a loaded machine too.
SILENT_AFTER_S = 30.0


def test_poller_sees_failover_silent_failure_and_flapping(small: Estate) -> None:
    scenario = "demo+silent-failure:qf-mzq"
    with SimulatedEstate(
        small, scenario, flap_period_s=FLAP_S, silent_after_s=SILENT_AFTER_S
    ) as sim:
        targets, problems = sim.poll_targets()
        assert not problems
        # One snmpsim answers every device: a few requests at a time keep it responsive.
        settings = PollerSettings(timeout_s=3, retries=1, concurrency=4)
        run = Collection(small, targets, settings)
        seen: dict[str, set[str]] = {}
        reasons: dict[str, str] = {}

        async def watch() -> None:
            # A cap only: it ends once both are seen (~45 s), later when loaded.
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                first = not seen
                snapshot = await run.cycle()
                assert not snapshot.unmatched, [str(u) for u in snapshot.unmatched]
                for view in snapshot.views:
                    seen.setdefault(view.pair.id, set()).add(view.state)
                    reasons[f"{view.pair.id}:{view.state}"] = view.reason
                # The premise: a poll saw qf-mzq healthy before its silent failure.
                assert not first or seen["qf-mzq"] == {"normal"}, (
                    f"the first cycle saw qf-mzq {seen['qf-mzq']}: it came after the "
                    f"{SILENT_AFTER_S:.0f} s onset, the machine is too slow"
                )
                if "flapping" in seen.get("qf-cgz", set()) and "failover" in seen.get(
                    "qf-mzq", set()
                ):
                    return
                await asyncio.sleep(max(0.0, 1.0 - snapshot.cycle_s))

        try:
            asyncio.run(watch())
        finally:
            run.close()
    assert seen["hl"] == {"failover"}  # from the first cycle on
    assert "flapping" in seen["qf-cgz"]
    assert "normal" in seen["qf-mzq"] and "failover" in seen["qf-mzq"]
    assert "silently dead" in reasons["qf-mzq:failover"]
    for pair in ("hl-zyl", "hl-ycz", "qf"):
        assert seen[pair] == {"normal"}
