"""The lab's tests share one real lab, up for this package's tests (see lab/testing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# The default slice of the small estate: city, 2 counties, 1 township and
# 1 village each, 4 hosts (cloud zone, two township LANs, internet). Up in
# ~4 s, idle it costs a quarter of a core (BFD every 100 ms): down when this
# package ends, brought up again by the few modules elsewhere that use it.
lab = lab_session(SMALL, scope="package")


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI writes the audit trail under $YUNWANG_HOME: keep it per test.
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))
