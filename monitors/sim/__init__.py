"""Simulated devices for the estate: snmpsim serving generated recordings.

from monitors.sim import SimulatedEstate
with SimulatedEstate(estate, scenario="demo") as sim:
    sim.targets()     # device name -> SimTarget(host, port, context)
    sim.credential    # the resolved SNMPv3 user the devices answer to
"""

from monitors.sim.credentials import SimCredential
from monitors.sim.errors import SimError
from monitors.sim.generator import generate, simulated_devices
from monitors.sim.runner import SimTarget, SimulatedEstate
from monitors.sim.scenarios import Scenario, demo, parse

__all__ = [
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
