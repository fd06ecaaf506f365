"""What `yunwang watch` is asked to do (`WatchOptions`), and how it says it cannot.

Apart from the job itself (yunwang/watch_job.py, which re-exports these)
so the options, and what the options alone get wrong (`check`), read on
one screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from estate import Estate
from estate.model import Sensor as SensorSpec
from monitors.packets import capture_problem
from monitors.sim import scenarios
from yunwang.watch_sensors import LiveSensorError, sensors_here

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "small.yaml"
OBSERVER = "yunwang-watch"


class WatchError(Exception):
    """The main job cannot start or go on; str() is one line naming the option at fault."""


@dataclass(frozen=True)
class WatchOptions:
    estate_path: Path | None = None  # None: the example city, simulated
    simulate: bool | None = None  # None: simulate exactly when no estate is given
    scenario: str = "demo"
    interval_s: float | None = None  # None: the estate's poll interval (5 s when simulated)
    pcap: Path | None = None  # replayed through the sensor; the demo writes its own
    store: str | None = None
    alertmanager: str | None = None
    webhook: str | None = None
    metrics_address: str = "127.0.0.1"
    metrics_port: int = 9464
    flap_period_s: float = 10.0  # demo: four transitions, hence "flapping", within a minute
    traps: bool = False  # receive SNMP traps/informs; a link trap re-polls its pair at once
    trap_address: str | None = None  # None: the estate's monitoring.traps (127.0.0.1:162)
    trap_port: int | None = None
    sensors: tuple[str, ...] = ()  # live: these declared sensors (default: this host's)
    cycles: int = 0  # stop after this many poll cycles (0: no limit)


@dataclass(frozen=True)
class Checked:
    """What `check` found the options to ask for."""

    scenario: scenarios.Scenario | None  # simulated: the faults
    live: list[SensorSpec]  # live, with no capture: the sensors to open on this host


def check(options: WatchOptions, estate: Estate, simulated: bool) -> Checked:
    """Refuse what the options alone get wrong (WatchError), before the store,
    the listener and the simulator open and their imports load: a mistake
    costs a moment."""
    if options.sensors and (simulated or options.pcap is not None):
        raise WatchError("--sensor: only with --live and no --pcap (it captures live)")
    if options.pcap is not None:
        if (problem := capture_problem(options.pcap)) is not None:  # at start, not later
            raise WatchError(f"--pcap: {problem}")
    if simulated:
        scenario = scenarios.parse(options.scenario, estate, flap_period_s=options.flap_period_s)
        return Checked(scenario, [])
    if options.pcap is not None:
        return Checked(None, [])
    try:
        return Checked(None, sensors_here(estate, options.sensors))
    except LiveSensorError as exc:
        raise WatchError(str(exc)) from None
