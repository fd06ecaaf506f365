"""A real snmpsim serving examples/small.yaml, shared by the tests of this folder.

Package-scoped, so one simulator start serves the folder. The flap period is short here (4 s) so
the flapping test is bounded; the default (17 s) is what `yunwang watch` shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from estate import Estate, load
from monitors.sim import SimulatedEstate

FLAP_PERIOD_S = 4.0


@contextmanager
def home(path: Path) -> Iterator[None]:
    """YUNWANG_HOME for a simulator that outlives one test (the audit trail and
    the sim cache go there, never into the user's home)."""
    old = os.environ.get("YUNWANG_HOME")
    os.environ["YUNWANG_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("YUNWANG_HOME", None)
        else:
            os.environ["YUNWANG_HOME"] = old


@pytest.fixture(scope="session")
def small(small_path: Path) -> Estate:
    return load(small_path)


@pytest.fixture(scope="session")
def sim_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim-home")


@pytest.fixture(scope="package")
def demo_sim(small: Estate, sim_home: Path) -> Iterator[SimulatedEstate]:
    sim = SimulatedEstate(small, "demo", flap_period_s=FLAP_PERIOD_S)
    with home(sim_home):
        sim.start()
    try:
        yield sim
    finally:
        with home(sim_home):
            sim.stop()


@pytest.fixture(scope="session")
def net_snmp() -> str:
    found = shutil.which("snmpbulkwalk")
    assert found, "net-snmp tools missing: apt-get install -y snmp (ci/setup.d/35-sim.sh)"
    return found


def bulkwalk(sim: SimulatedEstate, device: str, oid: str) -> dict[str, str]:
    """OID -> value text, as net-snmp's snmpbulkwalk sees the simulated device."""
    host, port, context = sim.targets()[device]
    cred = sim.credential_for(device)
    auth = {"sha": "SHA", "sha256": "SHA-256", "sha512": "SHA-512"}[cred.auth_protocol]
    priv = {"aes128": "AES", "aes256": "AES-256"}[cred.priv_protocol]
    out = subprocess.run(
        ["snmpbulkwalk", "-v3", "-l", "authPriv", "-u", cred.user, "-a", auth,
         "-A", cred.auth_key, "-x", priv, "-X", cred.priv_key, "-n", context,
         "-On", "-Oq", "-Oe", "-t", "2", "-r", "1",
         f"{host}:{port}", oid],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows: dict[str, str] = {}
    for line in out.stdout.splitlines():
        name, _, value = line.partition(" ")
        if "No more variables" in line or "No Such" in line:
            continue
        rows[name.lstrip(".")] = value.strip().strip('"')
    return rows
