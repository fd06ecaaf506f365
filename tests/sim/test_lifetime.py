"""A watch killed hard (SIGKILL, the OOM killer) runs no cleanup: the
simulated agents it started, snmpsim and the fast responders, must still
go (PR_SET_PDEATHSIG, monitors/sim/lifetime.py), not serve on forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sim.conftest import FLAP_PERIOD_S

# The parent: both simulators of examples/small.yaml, their agents' pids
# on stdout, then waiting to be killed.
PARENT = """
import json, sys, time
from estate import load
from monitors.sim import SimulatedEstate
from monitors.sim.fast import FastSimulatedEstate
estate = load(sys.argv[1])
snmpsim = SimulatedEstate(estate, "demo", flap_period_s=float(sys.argv[2]))
snmpsim.start()
fast = FastSimulatedEstate(estate, "demo").__enter__()
print(json.dumps([snmpsim.pid, *fast.pids]), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is left


def test_agents_end_when_their_parent_is_killed(small_path: Path, sim_home: Path) -> None:
    env = dict(os.environ, YUNWANG_HOME=str(sim_home))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(small_path), str(FLAP_PERIOD_S)],
        stdout=subprocess.PIPE, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        agents = json.loads(parent.stdout.readline())
        assert len(agents) >= 2 and all(_alive(pid) for pid in agents), agents
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only the kernel acts
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in agents) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in agents if _alive(pid)]
    for pid in left:  # never leave them serving, whatever the assertion says
        os.kill(pid, signal.SIGKILL)
    assert not left, f"agents outlived their parent: {left}"
