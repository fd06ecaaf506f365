"""Simulated devices for the estate: snmpsim serving generated recordings,
or, for the whole city, the fast responders (monitors/sim/fast.py).

from monitors.sim import SimulatedEstate
with SimulatedEstate(estate, scenario="demo") as sim:
    sim.targets()     # device name -> SimTarget(host, port, context)
    sim.credential    # the resolved SNMPv3 user the devices answer to

Names are imported on first use: a responder process
(`python -m monitors.sim.responder`) loads this package and must not pay
for the estate loader and snmpsim's runner it never uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitors.sim.credentials import SimCredential
    from monitors.sim.errors import SimError
    from monitors.sim.fast import FastSimulatedEstate
    from monitors.sim.generator import generate, simulated_devices
    from monitors.sim.runner import SimTarget, SimulatedEstate
    from monitors.sim.scenarios import Scenario, demo, parse

_WHERE = {
    "FastSimulatedEstate": "monitors.sim.fast",
    "Scenario": "monitors.sim.scenarios",
    "SimCredential": "monitors.sim.credentials",
    "SimError": "monitors.sim.errors",
    "SimTarget": "monitors.sim.runner",
    "SimulatedEstate": "monitors.sim.runner",
    "demo": "monitors.sim.scenarios",
    "generate": "monitors.sim.generator",
    "parse": "monitors.sim.scenarios",
    "simulated_devices": "monitors.sim.generator",
}
__all__ = [
    "FastSimulatedEstate",
    "Scenario",
    "SimCredential",
    "SimError",
    "SimTarget",
    "SimulatedEstate",
    "demo",
    "generate",
    "parse",
    "simulated_devices",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'monitors.sim' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
