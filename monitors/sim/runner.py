"""Run snmpsim as the estate's devices, on loopback, without root.

    with SimulatedEstate(estate, scenario="demo", levels=("city", "county", "township")) as sim:
        for device, (host, port, context) in sim.targets().items():
            ...  # poll host:port with SNMPv3 context `context` and sim.credential

One `snmpsim-command-responder` process (from the running interpreter's
environment) serves every device file in a data directory; the v3 context
name is the device name. Keys reach it through a 0600 args file, never the
command line. The generated data and snmpsim's indexes are cached in
$YUNWANG_HOME/sim-cache, keyed by content, so a second start skips indexing.
The process is stopped by the pid we started, never by name.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from estate import Estate
from estate.home import yunwang_home
from estate.spec_types import Level
from monitors.sim import generator, scenarios
from monitors.sim.errors import SimError
from monitors.sim.lifetime import die_with_parent
from monitors.sim.probe import answers
from monitors.sim.simulator import Simulator
from monitors.snmp.collection import TargetProblem, targets_from_estate
from monitors.snmp.poller import PollerSettings
from monitors.snmp.session import Target
from security.audit import record

KEEP_DATA_SETS = 6  # cached data directories kept besides the one in use


class SimTarget(NamedTuple):
    host: str
    port: int
    context: str


def free_udp_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def responder_binary() -> str:
    beside = Path(sys.executable).parent / "snmpsim-command-responder"
    found = str(beside) if beside.exists() else shutil.which("snmpsim-command-responder")
    if found is None:
        raise SimError(
            "snmpsim-command-responder not found: pip install 'snmpsim>=1.1,<2' 'snmpsim-data>=1,<2'"
        )
    return found


class SimulatedEstate(Simulator):
    def __init__(
        self,
        estate: Estate,
        scenario: scenarios.Scenario | str = "demo",
        levels: Iterable[Level] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        flap_period_s: float = scenarios.DEFAULT_FLAP_PERIOD_S,
        silent_after_s: float = scenarios.DEFAULT_SILENT_AFTER_S,
        start_timeout_s: float = 180.0,
    ) -> None:
        super().__init__(
            estate, scenario, levels, host, flap_period_s, silent_after_s, start_timeout_s
        )
        self._port = port
        self.port = 0
        self.data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None

    # --- what the poller needs ----------------------------------------------

    def targets(self) -> dict[str, SimTarget]:
        if self._process is None:
            raise SimError("the simulator is not running (use it as a context manager)")
        return {d.name: SimTarget(self.host, self.port, d.name) for d in self.devices}

    def poll_targets(self) -> tuple[list[Target], list[TargetProblem]]:
        """The estate's devices as this simulator serves them, for the poller:
        one snmpsim answers for all, the v3 context name picks the device."""
        at = {name: (t.host, t.port) for name, t in self.targets().items()}
        targets, problems = targets_from_estate(self.estate, at, defaults=self.demo_keys)
        served = [
            replace(t, credential=replace(t.credential, context=t.name))
            for t in targets
            if t.name in at
        ]
        return served, problems

    def poller_settings(self, interval_s: float) -> PollerSettings:
        """One simulator process answers for every device: keep it ahead of the poller."""
        return PollerSettings(timeout_s=3.0, retries=1, concurrency=4, deadline_s=interval_s * 2)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- lifecycle -------------------------------------------------------------

    def _start(self) -> None:
        began = time.monotonic()
        self._resolve_keys()
        cache = yunwang_home() / "sim-cache"
        self.data_dir = self._prepare_data(cache)
        index = cache / "index"
        index.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self.port = self._port or free_udp_port(self.host)
            if self._launch(cache, index, began):
                break
            if self._port is not None or attempt == 2:
                raise SimError(
                    f"snmpsim did not start on {self.host}:{self.port}: {self._log_tail()}"
                )
        self.startup_s = time.monotonic() - began
        record(
            action="sim.start",
            target=self.estate.file,
            detail={
                "scenario": self.scenario.name,
                "levels": list(self.levels),
                "devices": len(self.devices),
                "endpoint": f"{self.host}:{self.port}",
                "pid": self.pid,
                "startup_s": round(self.startup_s, 2),
                "demo_keys_for": sorted(self.demo_keys),
            },
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
        if process is not None:
            record(action="sim.stop", target=self.estate.file, detail={"pid": process.pid})

    # --- internals -------------------------------------------------------------

    def _prepare_data(self, cache: Path) -> Path:
        files = generator.generate(self.estate, self.scenario, self.levels)
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
        key = digest.hexdigest()[:16]
        root = cache / "data"
        target = root / key
        if not target.exists():
            partial = root / f".{key}.{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            generator.write(files, partial)
            try:
                partial.rename(target)
            except OSError:  # another process wrote the same data meanwhile
                shutil.rmtree(partial, ignore_errors=True)
        os.utime(target)
        self._prune(cache, keep=target)
        return target

    def _prune(self, cache: Path, keep: Path) -> None:
        sets = sorted(
            (p for p in (cache / "data").iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in [s for s in sets if s != keep][KEEP_DATA_SETS:]:
            shutil.rmtree(old, ignore_errors=True)
            for stale in (cache / "index").glob(f"*_{old.name}_*"):
                stale.unlink(missing_ok=True)

    def _launch(self, cache: Path, index: Path, began: float) -> bool:
        assert self.data_dir is not None
        if self._run_dir is not None:  # a previous attempt's port was taken
            shutil.rmtree(self._run_dir, ignore_errors=True)
        self._run_dir = cache / "run" / f"{os.getpid()}-{self.port}"
        self._run_dir.mkdir(parents=True, exist_ok=True)
        args_file = self._run_dir / "engine.args"
        fd = os.open(args_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            for credential in self.credentials.values():
                out.write(" ".join(credential.snmpsim_args()) + "\n")
            if ":" in self.host:
                out.write(f"--agent-udpv6-endpoint=[{self.host}]:{self.port}\n")
            else:
                out.write(f"--agent-udpv4-endpoint={self.host}:{self.port}\n")
        env = dict(os.environ)
        if os.geteuid() == 0:
            # snmpsim refuses root unless told to drop privileges; as root (CI) the
            # interpreter may live where no unprivileged user can read it, and the
            # agent only listens on loopback, so it keeps root there.
            env["SNMPSIM_ALLOW_ROOT"] = "true"
        log = (self._run_dir / "snmpsim.log").open("wb")
        self._process = subprocess.Popen(
            [
                responder_binary(),
                f"--data-dir={self.data_dir}",
                f"--cache-dir={index}",
                "--v3-only",
                "--log-level=error",
                f"--args-from-file={args_file}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop it
            preexec_fn=die_with_parent(),  # and a hard kill of us ends it too
        )
        log.close()
        atexit.register(self.stop)
        probe_device = self.devices[0]
        credential = self.credential_for(probe_device.name)
        while time.monotonic() - began < self.start_timeout_s:
            if self._process.poll() is not None:
                self._process = None
                return False
            if answers(self.host, self.port, credential, probe_device.name):
                args_file.unlink()  # read at start-up; the keys need not stay on disk
                return True
            time.sleep(0.2)
        tail = self._log_tail()
        raise SimError(f"snmpsim did not answer within {self.start_timeout_s:.0f}s: {tail}")

    def _log_tail(self) -> str:
        if self._run_dir is None:
            return ""
        try:
            lines = (self._run_dir / "snmpsim.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"
