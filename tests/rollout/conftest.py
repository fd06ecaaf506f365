"""Rollout tests on one real lab whose routers start without routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# City, one county, one township: three routers, two dual links, no hosts.
# BFD at 300 ms (FRR's default: the role writes no timer lines).
lab = lab_session(
    SMALL, counties=1, townships=1, villages=0, hosts=0, bfd_ms=300, routing=False, scope="package"
)


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI writes the audit trail under $YUNWANG_HOME: keep it per test.
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))
