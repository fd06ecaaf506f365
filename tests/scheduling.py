"""How `make test` spreads the suite over pytest-xdist's workers.

A unit of work is a test file, or a whole folder where its files share a
real service started once per package or session (one Elasticsearch node
for tests/security, one Keystone/Neutron for tests/cloud): a unit runs on
one worker, so a module-scoped lab slice or snmpd, and those services,
start once as in a serial run. (xdist's own `--dist loadgroup` cannot be
used: it renames test ids in a way pytest 9.2 no longer reads.)

The costliest units go first, so that no worker starts a long lab file
while the other has nothing left to do.
"""

from __future__ import annotations

import os
from typing import Any

# Folders whose files share one service (see their conftest.py).
SHARED_SERVICE = ("tests/security/", "tests/cloud/")

# The costliest units, most first (seconds each took in session 39's runs):
# a unit not listed runs after these, in collection order.
COSTLIEST = (
    "tests/hardening/test_lab_hardening.py",  # ~330 s: the lab hosts fixed and checked
    "tests/security/",  # ~320 s: the fleet through an outage, Elasticsearch faults
    "tests/cloud/",  # ~250 s: Keystone and Neutron set up, then planned against
    "tests/dr/test_dr_lab.py",  # ~150 s
    "tests/migrate/test_migrate_lab.py",  # ~115 s
    "tests/cli/test_hostile_input.py",  # ~90 s
    "tests/sim/test_city.py",  # ~75 s
    "tests/watch/test_watch.py",  # ~60 s
    "tests/rollout/test_rollout_lab.py",  # ~50 s
    "tests/rollout/test_rollout_migrated_lab.py",  # ~40 s
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to, from its id alone (the scheduler
    runs in xdist's controller, which sees ids, not fixtures)."""
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in SHARED_SERVICE if path.startswith(folder)), path)


def rank(nodeid: str) -> int:
    """Where a test's unit comes in the run: the costliest first."""
    unit = unit_of(nodeid)
    return COSTLIEST.index(unit) if unit in COSTLIEST else len(COSTLIEST)


def make_scheduler(config: Any, log: Any) -> Any:
    """`--dist loadscope` with `unit_of` as its scope, units in collection
    order (which `rank` sets)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False  # by test count: lab files, few and slow, went last
    return ByUnit(config, log)


def worker_index() -> int:
    """0, 1, … for xdist's workers gw0, gw1, …; 0 in a serial run. For what
    must differ between tests running at once on one host, such as the
    addresses of a host-side veth."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0
