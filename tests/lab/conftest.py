"""The lab's tests share one real lab per session (see lab/testing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# The default slice of the small estate: city, 2 counties, 1 township and
# 1 village each, 4 hosts (cloud zone, two township LANs, internet).
lab = lab_session(SMALL)


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI writes the audit trail under $YUNWANG_HOME: keep it per test.
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))
