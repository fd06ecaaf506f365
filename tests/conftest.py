"""Shared test setup: paths to the examples, an isolated YUNWANG_HOME, no silent skips.

Under CI=true (how CI runs) a skipped test is a failure: the suite must not
pass with its real components (snmpd, Elasticsearch, namespaces) left out.
Every run ends with the count of skipped tests.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pluggy
import pytest
from scapy.config import conf
from scapy.layers.l2 import Neighbor

from tests.scheduling import make_scheduler, rank

# Network safety for every area: scapy fills in a missing destination MAC by
# asking the network (ARP/ND on the host's own interfaces). Our tests only
# build bytes or send inside namespaces they create, so resolution is off
# for the whole session: a missing destination becomes broadcast, offline.
conf.neighbor = Neighbor()

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
IN_CI = os.environ.get("CI", "").lower() == "true"
_SKIP_FAILED = "skipped under CI=true, where every test must run"


@pytest.fixture(autouse=True)
def yunwang_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep every test's stores and audit trail out of the user's home."""
    home = tmp_path_factory.mktemp("yunwang-home")
    old = os.environ.get("YUNWANG_HOME")
    os.environ["YUNWANG_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("YUNWANG_HOME", None)
    else:
        os.environ["YUNWANG_HOME"] = old


@pytest.fixture(scope="session")
def small_path() -> Path:
    return EXAMPLES / "small.yaml"


@pytest.fixture(scope="session")
def puyang_path() -> Path:
    return EXAMPLES / "puyang.yaml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The costliest files first, each file's tests still together and in order.
    items.sort(key=lambda item: rank(item.nodeid))
    # Lab tests need root for namespaces; CI runs as root and runs them all.
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root for network namespaces (CI runs these as root)")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, under `make test`
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    return make_scheduler(config, log) if config.getvalue("dist") == "loadscope" else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    result = yield
    report = result.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{_SKIP_FAILED}: {reason}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = len(terminalreporter.stats.get("skipped", []))
    line = f"skipped tests: {skipped}"
    if IN_CI:
        # Counted from the reports, which reach the terminal from xdist's workers too.
        # A skip in setup (a skip mark) is reported as an error, in the test as a failure.
        failed = [
            *terminalreporter.stats.get("failed", []),
            *terminalreporter.stats.get("error", []),
        ]
        tried = sum(str(report.longrepr).startswith(_SKIP_FAILED) for report in failed)
        line += f"; {tried} tried to skip and failed (CI=true: every test must run)"
    terminalreporter.write_line(line)
