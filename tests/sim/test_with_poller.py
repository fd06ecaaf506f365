"""The simulator through the project's own poller and dual-link tracker
(monitors/snmp, monitors/links.py): the warnings a newcomer should see."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from estate import Estate
from monitors.sim import SimulatedEstate
from monitors.snmp import collection, poller

FLAP_S = 4.0
SILENT_AFTER_S = 6.0


def test_poller_sees_failover_silent_failure_and_flapping(small: Estate) -> None:
    scenario = "demo+silent-failure:qf-mzq"
    with SimulatedEstate(
        small, scenario, flap_period_s=FLAP_S, silent_after_s=SILENT_AFTER_S
    ) as sim:
        addresses = {name: (t.host, t.port) for name, t in sim.targets().items()}
        targets, problems = collection.targets_from_estate(small, addresses)
        assert not problems
        targets = [
            dataclasses.replace(t, credential=dataclasses.replace(t.credential, context=t.name))
            for t in targets
        ]
        # One snmpsim answers every device: a few requests at a time keep it responsive.
        settings = poller.PollerSettings(timeout_s=3, retries=1, concurrency=4)
        run = collection.Collection(small, targets, settings)
        seen: dict[str, set[str]] = {}
        reasons: dict[str, str] = {}

        async def watch() -> None:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                snapshot = await run.cycle()
                assert not snapshot.unmatched, [str(u) for u in snapshot.unmatched]
                for view in snapshot.views:
                    seen.setdefault(view.pair.id, set()).add(view.state)
                    reasons[f"{view.pair.id}:{view.state}"] = view.reason
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
