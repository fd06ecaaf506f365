"""pytest support: one real lab per test session, shared by every test that asks.

In a conftest.py:

    from lab.testing import lab_session
    lab = lab_session("examples/small.yaml", counties=2, townships=1)

then `def test_x(lab): lab.cut("hl/primary")`. Without root the fixture
skips with a reason; CI runs as root. Two fixtures asking for the same
estate and slice share one lab; it is torn down (`down`) when the session
ends, whatever the tests did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.api import Lab

# The estate's examples reference their SNMPv3 keys by environment variable;
# where those are unset the lab uses these (lab-only) values. They are handed
# to the lab, never written into os.environ, so other tests still see an
# unset variable as unset. `lab.snmp_v3(node)` tells a poller the keys.
TEST_SECRETS = {
    "YUNWANG_SNMP_AUTH": "yunwang-lab-auth-key",
    "YUNWANG_SNMP_PRIV": "yunwang-lab-priv-key",
}

_shared: dict[tuple[Any, ...], Lab] = {}


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces); CI runs these tests as root")


def lab_session(
    estate_path: str | Path,
    *,
    counties: int = 2,
    townships: int = 1,
    villages: int = 1,
    hosts: int = 4,
    bfd_ms: int = 100,
) -> Callable[..., Any]:
    """A session-scoped fixture bringing up (or reusing) one lab."""
    key = (str(Path(estate_path).resolve()), counties, townships, villages, hosts, bfd_ms)

    @pytest.fixture(scope="session")
    def _lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
        needs_root()
        owner = key not in _shared
        if owner:
            directory = tmp_path_factory.mktemp("lab")
            _shared[key] = Lab.up(
                estate_path,
                directory=directory,
                counties=counties,
                townships=townships,
                villages=villages,
                hosts=hosts,
                bfd_ms=bfd_ms,
                secrets=TEST_SECRETS,
            )
        try:
            yield _shared[key]
        finally:
            if owner:
                _shared.pop(key).down()

    return _lab
