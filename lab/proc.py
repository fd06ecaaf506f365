"""Running commands and tracking the daemons the lab starts.

Every process the lab starts is recorded with its start time (from
/proc/PID/stat) so that `down` after a crash never signals a recycled pid
that belongs to someone else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input_text: str | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; on failure raise LabError with stderr."""
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]}: not installed (run ci/setup.d/20-lab.sh)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: no answer after {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        detail = message[-1] if message else f"exit {done.returncode}"
        raise LabError(f"{' '.join(argv)}: {detail}")
    return done


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """True if pid runs and (when given) is the same process we started."""
    now = start_time(pid)
    if now is None:
        return False
    if started is not None and now != started:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(pid: int, started: int | None, *, grace_s: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after a grace period; only if pid is still ours."""
    if not alive(pid, started):
        _reap(pid)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, started):
            return
        time.sleep(0.02)
    if alive(pid, started):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(100):
            _reap(pid)
            if not alive(pid, started):
                return
            time.sleep(0.02)


def stop_all(processes: Sequence[tuple[int, int | None]], *, grace_s: float = 3.0) -> None:
    """SIGTERM every process at once, wait for all, SIGKILL what is left.

    Daemons take a few hundred ms each to exit: signalling them one after
    another made `down` of a small lab take 13 s.
    """
    ours = [(pid, started) for pid, started in processes if alive(pid, started)]
    for pid, _ in ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while ours and time.monotonic() < deadline:
        for pid, _ in ours:
            _reap(pid)
        ours = [(pid, started) for pid, started in ours if alive(pid, started)]
        time.sleep(0.02)
    for pid, _started in ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        for pid, _ in ours:
            _reap(pid)
        ours = [(pid, started) for pid, started in ours if alive(pid, started)]
        if not ours:
            return
        time.sleep(0.02)


def _reap(pid: int) -> None:
    """Collect a child of this process so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def spawn(argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None) -> int:
    """Start a long-running daemon in its own session, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        except FileNotFoundError as exc:
            raise LabError(f"{argv[0]}: not installed (run ci/setup.d/20-lab.sh)") from exc
    return child.pid


def wait_for(predicate_path: Path, *, timeout_s: float, what: str) -> None:
    """Wait until a path exists (a socket, a pid file), or raise LabError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate_path.exists():
            return
        time.sleep(0.02)
    raise LabError(f"{what}: {predicate_path} did not appear within {timeout_s:.0f} s")
