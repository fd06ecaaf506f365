"""The whole Puyang estate polled against the fast simulator: cycle time,
poller CPU and simulator CPU per cycle, for v3 authPriv and v2c.

The simulator is monitors/sim/fast.py (one responder per core, each on its
own loopback port). Every cycle polls every device with the watch's settings
(`FastSimulatedEstate.poller_settings`); poller CPU is this process's
process_time over the cycle, simulator CPU the responders' utime+stime
(/proc) over the same cycle. Reports medians over CYCLES cycles (the first
cycle, which includes v3 engine discovery, is reported on its own).

    .venv/bin/python bench/sim_city.py [--estate examples/puyang.yaml] [--cycles 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estate import load  # noqa: E402
from monitors.sim.fast import FastSimulatedEstate  # noqa: E402
from monitors.snmp.collection import Collection  # noqa: E402


def run(estate_path: Path, version: str, cycles: int) -> dict[str, float]:
    estate = load(estate_path)
    with FastSimulatedEstate(estate, "demo", version=version) as sim:  # type: ignore[arg-type]
        targets, _ = sim.poll_targets()
        collection = Collection(estate, targets, sim.poller_settings(60.0))
        rows: list[tuple[float, float, float, int]] = []

        async def poll() -> None:
            for _ in range(cycles + 1):
                cpu, sim_cpu = time.process_time(), sim.cpu_seconds()
                snapshot = await collection.cycle()
                ok = sum(p.state != "unreachable" for p in snapshot.polls.values())
                kinds = Counter(p.error_kind for p in snapshot.polls.values() if p.error_kind)
                states = Counter(p.state for p in snapshot.polls.values())
                print(f"  {version} cycle {snapshot.cycle_s:.1f} s, {dict(states)}, {dict(kinds)}")
                rows.append(
                    (snapshot.cycle_s, time.process_time() - cpu, sim.cpu_seconds() - sim_cpu, ok)
                )

        try:
            asyncio.run(poll())
        finally:
            collection.close()
        first, rest = rows[0], rows[1:]
        return {
            "devices": len(targets),
            "processes": sim.processes,
            "startup_s": sim.startup_s or 0.0,
            "first_cycle_s": first[0],
            "cycle_s": statistics.median(r[0] for r in rest),
            "poller_cpu_s": statistics.median(r[1] for r in rest),
            "sim_cpu_s": statistics.median(r[2] for r in rest),
            "reachable_min": min(r[3] for r in rows),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--cycles", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("YUNWANG_HOME", tempfile.mkdtemp(prefix="yw-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for version in ("v3", "v2c"):
        r = run(args.estate, version, args.cycles)
        print(
            f"{version}: {r['devices']:.0f} devices on {r['processes']:.0f} responders, "
            f"start-up {r['startup_s']:.1f} s, first cycle {r['first_cycle_s']:.1f} s; "
            f"median cycle {r['cycle_s']:.1f} s, poller CPU {r['poller_cpu_s']:.1f} s/cycle "
            f"({r['poller_cpu_s'] / 60:.2f} core at one cycle a minute), "
            f"simulator CPU {r['sim_cpu_s']:.1f} s/cycle, "
            f"fewest answering {r['reachable_min']:.0f}"
        )


if __name__ == "__main__":
    main()
