"""pytest support: one real lab per test session, shared by every test that asks.

In a conftest.py:

    from lab.testing import lab_session
    lab = lab_session("examples/small.yaml", counties=2, townships=1)

then `def test_x(lab): lab.cut("hl/primary")`. Without root the fixture
skips with a reason; CI runs as root. Two fixtures asking for the same
estate and slice share one lab; it is torn down (`down`) when the last of
them ends, whatever the tests did. A lab that only one package (or module)
uses says so with `scope="package"` (`"module"`): it goes down when that
package's tests end, rather than idling (BFD, OSPF, snmpd, sshd) under every
later test until the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from lab.lab import Lab

# The estate's examples reference their SNMPv3 keys by environment variable;
# where those are unset the lab uses these (lab-only) values. They are handed
# to the lab, never written into os.environ, so other tests still see an
# unset variable as unset. `lab.snmp_v3(node)` tells a poller the keys.
TEST_SECRETS = {
    "YUNWANG_SNMP_AUTH": "yunwang-lab-auth-key",
    "YUNWANG_SNMP_PRIV": "yunwang-lab-priv-key",
}

_shared: dict[tuple[Any, ...], Lab] = {}
_holders: dict[tuple[Any, ...], int] = {}  # fixtures holding each shared lab now


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces); CI runs these tests as root")


def _session_dir() -> Path:
    """A lab directory named after this test process; labs of test processes
    that died without tearing down (a killed CI job) are taken down first."""
    parent = Path(tempfile.gettempdir()) / "yunwang-lab-tests"
    parent.mkdir(mode=0o700, exist_ok=True)
    for stale in parent.iterdir():
        owner_pid = stale.name.split("-", 1)[0]
        if owner_pid.isdigit() and not Path(f"/proc/{owner_pid}").exists():
            Lab(stale).down()
            shutil.rmtree(stale, ignore_errors=True)
    directory = parent / f"{os.getpid()}-{len(list(parent.glob(f'{os.getpid()}-*')))}"
    directory.mkdir(mode=0o700)
    return directory


def lab_session(
    estate_path: str | Path,
    *,
    counties: int = 2,
    townships: int = 1,
    villages: int = 1,
    hosts: int = 4,
    bfd_ms: int | None = 100,
    hosts_ipv6: bool = True,
    routing: bool = True,
    dr_hosts: int = 0,
    routers_ipv6: bool = True,
    scope: Literal["session", "package", "module"] = "session",
) -> Callable[..., Any]:
    """A fixture of `scope` bringing up (or reusing) one lab."""
    key = (
        str(Path(estate_path).resolve()),
        counties,
        townships,
        villages,
        hosts,
        bfd_ms,
        hosts_ipv6,
        routing,
        dr_hosts,
        routers_ipv6,
    )

    @pytest.fixture(scope=scope)
    def _lab() -> Iterator[Lab]:
        needs_root()
        if key not in _shared:
            directory = _session_dir()
            _shared[key] = Lab.up(
                estate_path,
                directory=directory,
                counties=counties,
                townships=townships,
                villages=villages,
                hosts=hosts,
                bfd_ms=bfd_ms,
                hosts_ipv6=hosts_ipv6,
                routing=routing,
                routers_ipv6=routers_ipv6,
                secrets=TEST_SECRETS,
                dr_hosts=dr_hosts,
            )
        _holders[key] = _holders.get(key, 0) + 1
        try:
            yield _shared[key]
        finally:
            _holders[key] -= 1
            if not _holders[key]:
                del _holders[key]
                lab = _shared.pop(key)
                lab.down()
                shutil.rmtree(lab.directory, ignore_errors=True)

    return _lab
