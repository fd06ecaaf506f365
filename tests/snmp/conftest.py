from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduling import worker_index
from tests.snmp.agents import NamespaceSnmpd, Snmpsim, recordings_cache

# Far enough above slow_s (test_poller_states) that a fast device still reads
# as fast while the other test worker loads the machine.
SLOW_WAIT_MS = 6000


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.fail(f"{binary} is missing: run ci/setup.d/30-snmp.sh")


@pytest.fixture(scope="session")
def recordings() -> Path:
    return recordings_cache()


@pytest.fixture(scope="session")
def snmpsim(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    """One snmpsim serving the six vendor recordings (community = stem)."""
    _need("snmpget")
    agent = Snmpsim(recordings, tmp_path_factory.mktemp("snmpsim")).start("huawei-s5720")
    yield agent
    agent.stop()


@pytest.fixture(scope="session")
def slow_snmpsim(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    """A device whose agent takes 2.5 s to answer sysUpTime (snmpsim's delay variation:
    the kernel has no netem). Its own process, since snmpsim sleeps inline."""
    work = tmp_path_factory.mktemp("slow")
    data = work / "data"
    data.mkdir()
    lines = (recordings / "ruijie-s5750.snmprec").read_text().splitlines()
    delayed = []
    for line in lines:
        oid, tag, value = line.split("|", 2)
        if oid == "1.3.6.1.2.1.1.3.0":
            line = f"{oid}|{tag}:delay|value={value},wait={SLOW_WAIT_MS}"
        delayed.append(line)
    (data / "slow.snmprec").write_text("\n".join(delayed) + "\n")
    # The readiness probe reads sysUpTime too: it just waits the delay out.
    agent = Snmpsim(data, work).start("slow")
    yield agent
    agent.stop()


def _root() -> bool:
    return os.geteuid() == 0


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespaceSnmpd]:
    if not _root():
        pytest.skip("needs root for network namespaces (CI runs as root)")
    _need("snmpd")
    # Its host side holds 198.19.<subnet>.1: one subnet a worker running at once.
    agent = NamespaceSnmpd(
        f"ywsnmp-t{os.getpid() % 100000}",
        tmp_path_factory.mktemp("snmpd"),
        subnet=241 + worker_index(),
    )
    try:
        agent.start()
    except Exception:
        agent.stop()
        raise
    yield agent
    agent.stop()
