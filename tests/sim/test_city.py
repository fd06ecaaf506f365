"""The whole Puyang estate (3,079 devices) under `yunwang watch --simulate`
with the fast simulator, for a few cycles: every device answers in every
cycle, and the warnings are the demo scenario's and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CYCLES = 3
BOUND_S = 300  # a failure bound only: the watch ends once its cycles are done


@pytest.mark.slow
def test_full_city_is_polled_every_cycle_and_shows_the_demo_scenario(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_SNMP")}
    env["YUNWANG_HOME"] = str(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "yunwang", "watch", str(ROOT / "examples" / "puyang.yaml"),
         "--simulate", "--cycles", str(CYCLES), "--duration", str(BOUND_S), "--interval", "5",
         "--json", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=BOUND_S + 120, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    summary = json.loads(run.stdout)
    assert summary["mode"] == "simulated" and summary["cycles"] == CYCLES
    devices = summary["devices"]
    assert "unreachable" not in devices and sum(devices.values()) == 3079, devices
    rules = {w["rule"] for w in summary["warnings"]}
    # A device that missed a cycle would open YW-SNMP-001; none may.
    assert not {r for r in rules if r.startswith("YW-SNMP")}, summary["warnings"]
    assert "YW-LINK-001" in rules  # county hl on its backup links
    states = {p["pair"]: p["state"] for p in summary["pairs"]}
    assert states["hl"] == "failover"
    assert states["pyx-t01"] in {"flapping", "failover", "normal"}  # sampled mid-flap
    others = {pair: state for pair, state in states.items() if pair not in {"hl", "pyx-t01"}}
    assert len(others) >= 80 and set(others.values()) == {"normal"}, {  # 91 county+township pairs
        p: s for p, s in others.items() if s != "normal"
    }
    link_warnings = [w for w in summary["warnings"] if w["rule"].startswith("YW-LINK")]
    assert all("hl" in json.dumps(w) or "pyx-t01" in json.dumps(w) for w in link_warnings)
