"""The DR tests share the default lab of the small estate (see lab/testing.py)."""

from __future__ import annotations

from pathlib import Path

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# The same slice as tests/lab: one lab serves both when they run together.
lab = lab_session(SMALL)

# Lab-only DR passwords, handed over as reference defaults (never os.environ).
DR_TEST_SECRETS = {
    "YUNWANG_DR_REPLICATION_PASSWORD": "lab-replication-secret",
    "YUNWANG_DR_APP_PASSWORD": "lab-app-secret",
    "YUNWANG_RESTIC_PASSWORD": "lab-restic-secret",
}
