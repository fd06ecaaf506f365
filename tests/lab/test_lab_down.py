"""`down` leaves nothing behind: no namespace, veth, process, mount or run dir.

These tests build their own small labs (not the package's shared lab): one torn
down normally, one whose `up` is killed half-way, as a crash would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import Lab, LabError
from lab.netns import list_namespaces
from lab.proc import alive
from lab.state import LabState, lab_tag
from lab.testing import TEST_SECRETS, needs_root

pytestmark = pytest.mark.lab
SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
TINY = {"counties": 1, "townships": 1, "villages": 0, "hosts": 1}


def root_veths() -> set[str]:
    out = subprocess.run(
        ["ip", "-j", "link", "show", "type", "veth"], capture_output=True, text=True, check=True
    ).stdout
    return {link["ifname"] for link in json.loads(out or "[]")}


def leftovers(directory: Path, recorded: LabState) -> list[str]:
    tag = lab_tag(directory)
    marker = f"ywlab-{tag}-"
    found = [f"namespace {n}" for n in list_namespaces(marker)]
    found += [f"process {p.pid} ({p.what})" for p in recorded.processes if alive(p.pid, p.started)]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline or str(directory) in cmdline:
            found.append(f"process {proc.name}: {cmdline[:80]}")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if marker in line or str(directory) in line:
            found.append(f"mount {line.split()[4]}")
    found += [f"run dir {p}" for p in Path("/var/run/frr").glob(f"{marker}*")]
    found += [f"dir {d}" for d in recorded.dirs if Path(d).exists()]
    return found


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    needs_root()
    return tmp_path / "lab"


def test_down_leaves_nothing_behind_and_is_idempotent(lab_dir: Path) -> None:
    veths_before = root_veths()
    lab = Lab.up(SMALL, directory=lab_dir, secrets=TEST_SECRETS, hosts_ipv6=False, **TINY)
    recorded = lab.state
    # (this lab's hosts start IPv4-only: the starting point of an IPv6 migration)
    host = lab.hosts[0]
    assert lab.run(host.name, ["ip", "-6", "addr", "show", "scope", "global"]).stdout == ""
    assert "inet " in lab.ssh(host.name, "ip -4 -o addr show dev eth0").stdout
    assert recorded.processes and recorded.namespaces and recorded.dirs
    assert leftovers(lab_dir, recorded) != []  # the check sees a running lab
    with pytest.raises(LabError, match="already up"):
        Lab.up(SMALL, directory=lab_dir, secrets=TEST_SECRETS, **TINY)
    lab.down()
    assert leftovers(lab_dir, recorded) == []
    assert root_veths() == veths_before  # no cable end ever lived in the machine's namespace
    lab.down()  # again: nothing to do, no error
    assert lab.state.is_empty()


def test_down_after_a_crash_half_way_through_up(lab_dir: Path) -> None:
    script = (
        "import sys; from lab import Lab; from lab.testing import TEST_SECRETS; "
        f"Lab.up({str(SMALL)!r}, directory=__import__('pathlib').Path({str(lab_dir)!r}), "
        f"secrets=TEST_SECRETS, **{TINY!r})"
    )
    builder = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    state_file = lab_dir / "state.json"
    deadline = time.monotonic() + 60
    # Kill it once daemons are running but before it finished.
    while time.monotonic() < deadline:
        if state_file.exists():
            try:
                state = json.loads(state_file.read_text())
            except json.JSONDecodeError:
                state = {}
            if len(state.get("processes", [])) >= 3 or state.get("phase") == "up":
                break
        time.sleep(0.01)
    os.killpg(builder.pid, signal.SIGKILL)
    builder.wait()
    recorded = LabState.load(lab_dir)
    assert recorded.namespaces, "the crash left a record to clean from"
    Lab(lab_dir).down()
    assert leftovers(lab_dir, recorded) == []


def test_a_new_test_session_takes_down_labs_of_dead_sessions() -> None:
    """A CI job killed mid-run leaves its session lab up; the next one cleans it."""
    needs_root()
    from lab.testing import _session_dir

    script = (
        "import os, pathlib; from lab import Lab; from lab.testing import TEST_SECRETS; "
        "d = pathlib.Path('/tmp/yunwang-lab-tests') / f'{os.getpid()}-0'; d.mkdir(parents=True); "
        f"Lab.up({str(SMALL)!r}, directory=d, secrets=TEST_SECRETS, **{TINY!r}); print(d)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    stale = Path(done.stdout.strip().splitlines()[-1])
    recorded = LabState.load(stale)
    assert recorded.phase == "up" and list_namespaces(f"ywlab-{recorded.tag}-")
    fresh = _session_dir()  # the session that died is gone: its lab goes with it
    try:
        assert not stale.exists()
        assert leftovers(stale, recorded) == []
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
