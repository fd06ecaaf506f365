"""The DR tests run in a lab of the small estate with its DR centre as a site
of its own (lab/drsite.py): the city cloud's host is the primary, `dr-h1`
in the DR centre the standby and the backup repository, `dr-h2` the scratch
host restores land on; a township host stands for a stranger."""

from __future__ import annotations

from pathlib import Path

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

lab = lab_session(
    SMALL, counties=1, townships=1, villages=0, hosts=2, bfd_ms=300, dr_hosts=2, scope="package"
)
STANDBY, SCRATCH = "dr-h1", "dr-h2"

# Lab-only DR passwords, handed over as reference defaults (never os.environ).
DR_TEST_SECRETS = {
    "YUNWANG_DR_REPLICATION_PASSWORD": "lab-replication-secret",
    "YUNWANG_DR_APP_PASSWORD": "lab-app-secret",
    "YUNWANG_RESTIC_PASSWORD": "lab-restic-secret",
}
