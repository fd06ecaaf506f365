"""Which pytest-xdist worker this is (`make test` runs the suite on several)."""

from __future__ import annotations

import os


def worker_index() -> int:
    """0, 1, … for xdist's workers gw0, gw1, …; 0 in a serial run. For what
    must differ between tests running at once on one host, such as the
    addresses of a host-side veth."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0
