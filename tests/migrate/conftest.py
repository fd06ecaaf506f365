"""IPv6 migration tests on one real lab whose hosts start IPv4-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# City, one county, one township; two hosts (one on the city's zone segment,
# one on the township's LAN); routers and hosts IPv4-only (no IPv6 on LANs and
# zones, no OSPFv3): the migration gives them both.
lab = lab_session(
    SMALL,
    counties=1,
    townships=1,
    villages=0,
    hosts=2,
    bfd_ms=300,
    hosts_ipv6=False,
    routers_ipv6=False,
    scope="package",
)


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI writes the audit trail and the migration record under $YUNWANG_HOME.
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))
