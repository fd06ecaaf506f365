"""Shared test setup: paths to the examples and an isolated YUNWANG_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.config import conf
from scapy.layers.l2 import Neighbor

# Network safety for every area: scapy fills in a missing destination MAC by
# asking the network (ARP/ND on the host's own interfaces). Our tests only
# build bytes or send inside namespaces they create, so resolution is off
# for the whole session: a missing destination becomes broadcast, offline.
conf.neighbor = Neighbor()

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


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
    # Lab tests need root for namespaces; CI runs as root and runs them all.
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root for network namespaces (CI runs these as root)")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)
