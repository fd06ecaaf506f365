"""Hardening tests on real lab hosts: one small lab (one county, two hosts)."""

from __future__ import annotations

from pathlib import Path

from lab.testing import lab_session

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"

# jwzh-app-1 (a level-3 system in the gov-extranet zone) and a township LAN host.
lab = lab_session(SMALL, counties=1, townships=1, villages=1, hosts=2, bfd_ms=300, scope="package")
