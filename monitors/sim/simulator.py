"""What both simulators share: the estate's devices, the scenario, the keys.

The snmpsim runner (runner.py) and the fast responders (fast.py) differ in
what serves the devices; which devices, which scenario, which v3 users (and
the demo keys for references nobody set), and the start/stop contract are
the same, so they live here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from estate import Estate
from estate.spec_types import Level
from monitors.sim import generator, scenarios
from monitors.sim.credentials import SimCredential, demo_keys, resolve
from monitors.sim.errors import SimError


class Simulator(ABC):
    """Use as a context manager: `start()` stops what it began if it fails."""

    def __init__(
        self,
        estate: Estate,
        scenario: scenarios.Scenario | str,
        levels: Iterable[Level] | None,
        host: str,
        flap_period_s: float,
        silent_after_s: float,
        start_timeout_s: float,
    ) -> None:
        self.estate = estate
        self.scenario = (
            scenario
            if isinstance(scenario, scenarios.Scenario)
            else scenarios.parse(scenario, estate, flap_period_s, silent_after_s)
        )
        self.levels: tuple[Level, ...] = tuple(levels or generator.LEVELS)
        unknown = [lv for lv in self.levels if lv not in generator.LEVELS]
        if unknown:
            raise SimError(
                f"levels: {', '.join(map(str, unknown))} (expected city, county, township or village)"
            )
        self.devices = generator.simulated_devices(estate, self.levels)
        if not self.devices:
            raise SimError(f"{estate.file}: no devices at levels {', '.join(self.levels)}")
        self.host = host
        self.start_timeout_s = start_timeout_s
        # Environment variable -> demo key, for the keys the estate references
        # but nobody set: pass it to the poller (`targets_from_estate(defaults=)`).
        self.demo_keys: dict[str, str] = {}
        self.credentials: dict[str, SimCredential] = {}
        self.startup_s: float | None = None

    # --- what the poller needs ----------------------------------------------

    @property
    def credential(self) -> SimCredential:
        """The estate's default credential (what most devices use), resolved at start."""
        if not self.credentials:
            raise SimError("the simulator is not running (use it as a context manager)")
        default = self.estate.monitoring.default_credential
        if default in self.credentials:
            return self.credentials[default]
        return self.credentials[self.devices[0].credential]

    def credential_for(self, device: str) -> SimCredential:
        return self.credentials[self.estate.device(device).credential]

    # --- lifecycle -------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _resolve_keys(self) -> None:
        """First thing in `_start`: the v3 users the devices answer to."""
        names = {d.credential for d in self.devices}
        self.demo_keys = demo_keys(self.estate, names)
        self.credentials = resolve(self.estate, names, self.demo_keys)

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Stop what `_start` began (by the pids it started); safe to call twice."""
