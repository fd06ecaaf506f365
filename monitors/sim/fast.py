"""The whole estate simulated at the poller's pace: one responder per core.

    with FastSimulatedEstate(estate, scenario="demo") as sim:
        targets, problems = sim.poll_targets()   # for the poller, v3 (or v2c)

The same generated records as the snmpsim runner (monitors/sim/runner.py),
served by monitors/sim/responder.py: devices are dealt round-robin to
`processes` responders (default: one per core), each on its own loopback
port, so the load splits evenly whatever the poller's source ports. All
responders share the scenario's clock, so a flapping link flaps in step at
both ends. Processes are stopped by the pids we started.
"""

from __future__ import annotations

import atexit
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from estate import Estate
from estate.spec_types import Level
from monitors.sim import generator, scenarios
from monitors.sim.errors import SimError
from monitors.sim.lifetime import die_with_parent
from monitors.sim.responder import Config
from monitors.sim.runner import SimTarget
from monitors.sim.simulator import Simulator
from monitors.snmp.collection import TargetProblem, targets_from_estate
from monitors.snmp.poller import PollerSettings
from monitors.snmp.session import Credential, Target
from monitors.snmp.usm import localise
from security.audit import record

Version = Literal["v3", "v2c"]
_ROOT = Path(__file__).resolve().parents[2]


class FastSimulatedEstate(Simulator):
    def __init__(
        self,
        estate: Estate,
        scenario: scenarios.Scenario | str = "demo",
        levels: Iterable[Level] | None = None,
        *,
        host: str = "127.0.0.1",
        processes: int | None = None,
        version: Version = "v3",
        flap_period_s: float = scenarios.DEFAULT_FLAP_PERIOD_S,
        silent_after_s: float = scenarios.DEFAULT_SILENT_AFTER_S,
        start_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(
            estate, scenario, levels, host, flap_period_s, silent_after_s, start_timeout_s
        )
        if version not in ("v3", "v2c"):
            raise SimError(f"version {version!r}: expected v3 or v2c")
        self.version = version
        self.processes = max(1, min(processes or os.cpu_count() or 1, len(self.devices)))
        self.ports: list[int] = []
        self._children: list[subprocess.Popen[bytes]] = []
        self._home: dict[str, int] = {}  # device -> index of its responder

    # --- what the poller needs ----------------------------------------------

    def targets(self) -> dict[str, SimTarget]:
        if not self._children:
            raise SimError("the simulator is not running (use it as a context manager)")
        return {
            d.name: SimTarget(self.host, self.ports[self._home[d.name]], d.name)
            for d in self.devices
        }

    def poll_targets(self) -> tuple[list[Target], list[TargetProblem]]:
        """The devices as served here: v3 picks the device by context name,
        v2c by community (the device name)."""
        at = {name: (t.host, t.port) for name, t in self.targets().items()}
        targets, problems = targets_from_estate(self.estate, at, defaults=self.demo_keys)
        served = []
        for t in targets:
            if t.name not in at:
                continue
            credential = (
                replace(t.credential, context=t.name)
                if self.version == "v3"
                else Credential(version=2, community=t.name)
            )
            served.append(replace(t, credential=credential))
        return served, problems

    def poller_settings(self, interval_s: float) -> PollerSettings:
        """Loopback answers come in milliseconds, unless the machine is busy:
        a generous timeout, few enough requests in flight that the
        responders' queues stay short, and a wait in those queues is the
        machine's slowness, not the device's (`slow_s`)."""
        return PollerSettings(
            timeout_s=5.0,
            retries=1,
            concurrency=32,
            deadline_s=max(interval_s * 0.9, 12.0),
            slow_s=5.0,
        )

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def cpu_seconds(self) -> float:
        """User plus system CPU the responders have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    # --- lifecycle -------------------------------------------------------------

    def _start(self) -> None:
        began = time.monotonic()
        self._resolve_keys()
        plan = generator.build_plan(self.estate, self.scenario)
        shares: list[dict[str, list[generator.Record]]] = [{} for _ in range(self.processes)]
        for i, device in enumerate(self.devices):
            self._home[device.name] = i % self.processes
            shares[i % self.processes][device.name] = generator.device_records(device, plan)
        started = time.time()
        atexit.register(self.stop)
        for k, share in enumerate(shares):
            engine_id = b"\x80\x00\x1f\x88\x04yw-sim-%d" % k
            keys = {
                c.user: localise(
                    c.auth_protocol, c.priv_protocol, c.auth_key, c.priv_key, engine_id
                )
                for c in self.credentials.values()
            }
            self._launch(k, Config(share, keys, engine_id, started))
        for child in self._children:
            assert child.stdout is not None
            line = child.stdout.readline()  # blocks until the agent has compiled its share
            if line.strip() != b"ready":
                raise SimError(f"responder {child.pid} did not start (exit {child.poll()})")
        self.startup_s = time.monotonic() - began
        record(
            action="sim.start",
            target=self.estate.file,
            detail={
                "engine": "fast",
                "scenario": self.scenario.name,
                "version": self.version,
                "devices": len(self.devices),
                "endpoints": [f"{self.host}:{p}" for p in self.ports],
                "pids": self.pids,
                "startup_s": round(self.startup_s, 2),
                "demo_keys_for": sorted(self.demo_keys),
            },
        )

    def _launch(self, k: int, config: Config) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((self.host, 0))
            self.ports.append(int(sock.getsockname()[1]))
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitors.sim.responder",
                    str(sock.fileno()),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=[sock.fileno()],
                cwd=_ROOT,
                start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop it
                preexec_fn=die_with_parent(),  # and a hard kill of us ends them too
            )
        self._children.append(child)
        assert child.stdin is not None
        child.stdin.write(pickle.dumps(config))  # keys travel over the pipe only
        child.stdin.close()

    def stop(self) -> None:
        children, self._children = self._children, []
        atexit.unregister(self.stop)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        if children:
            record(
                action="sim.stop",
                target=self.estate.file,
                detail={"engine": "fast", "pids": [c.pid for c in children]},
            )
