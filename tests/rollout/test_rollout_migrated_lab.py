"""A dual-link rollout of routers the IPv6 migration has made dual-stack.

The lab's routers start with routing but IPv4-only (`--no-router-ipv6`). The
migration gives the city and the county their LAN prefixes, RA and OSPFv3;
the township stays IPv4-only. An operator's cost change on the county (the
kind of drift a rollout exists to undo) is rolled back by the rollout, which
must keep what the migration gave the county: its IPv6 address, RA and
OSPFv3 Full to the city, while the IPv4-only township is judged on IPv4
alone. A second rollout and a second migration run change nothing: the two
render the same configuration.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab.lab import Lab
from lab.testing import lab_session
from tests.rollout.helpers import vtysh_json, yunwang

pytestmark = [pytest.mark.lab, pytest.mark.slow]
SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"

# City, one county, one township, no hosts; routing on, IPv4-only routers.
lab = lab_session(
    SMALL,
    counties=1,
    townships=1,
    villages=0,
    hosts=0,
    bfd_ms=300,
    hosts_ipv6=False,
    routers_ipv6=False,
    scope="module",
)


def _running(lab: Lab, node: str) -> str:
    done = subprocess.run(
        ["vtysh", "-N", lab.namespace(node), "-c", "show running-config"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _full6(lab: Lab, node: str) -> set[str]:
    raw = vtysh_json(lab, node, "show ipv6 ospf6 neighbor json")
    assert isinstance(raw, dict)
    return {n["interfaceName"] for n in raw.get("neighbors", []) if n["state"] == "Full"}


def _lan6(lab: Lab, node: str) -> str:
    """The router's LAN IPv6 gateway address as the kernel has it (from zebra)."""
    return str(lab.run(node, ["ip", "-6", "-o", "addr", "show", "scope", "global"]).stdout)


def test_a_rollout_keeps_what_the_migration_gave_a_router(lab: Lab, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    where = ["--lab-dir", str(lab.directory), "--store", store, "--json"]
    for stage in ("city", "county"):
        done = yunwang("migrate", "ipv6", str(SMALL), "run", "--stage", stage, *where)
        assert done.returncode == 0, done.stderr + done.stdout
    planned = lab.plan.router("hl").interfaces
    lan6 = next(a for i in planned if i.kind == "lan" for a in i.addresses if ":" in a)
    assert lan6 in _lan6(lab, "hl") and _full6(lab, "hl") == {"up-p", "up-b"}
    assert "router ospf6" not in _running(lab, "hl-zyl")  # the township is IPv4-only

    # Drift: someone changed the county's primary cost by hand.
    lab.run("hl", ["vtysh", "-N", lab.namespace("hl"), "-c", "configure terminal",
                   "-c", "interface up-p", "-c", "ip ospf cost 50", "-c", "ipv6 ospf6 cost 50"])  # fmt: skip
    first = yunwang("rollout", "dual-links", str(SMALL), *where, "--settle", "30")
    assert first.returncode == 0, first.stderr + first.stdout
    routers = {n: r for b in json.loads(first.stdout)["batches"] for n, r in b["routers"].items()}
    assert routers["hl"]["reloaded"] and not routers["py"]["reloaded"]
    assert not routers["hl-zyl"]["reloaded"]  # IPv4-only, verified on IPv4 alone

    running = _running(lab, "hl")
    assert " ip ospf cost 10" in running and " ipv6 ospf6 cost 50" not in running
    assert f" ipv6 address {lan6}" in running and " no ipv6 nd suppress-ra" in running
    assert "router ospf6" in running
    assert lan6 in _lan6(lab, "hl") and _full6(lab, "hl") == {"up-p", "up-b"}

    second = yunwang("rollout", "dual-links", str(SMALL), *where)
    assert second.returncode == 0, second.stderr + second.stdout
    again = [r for b in json.loads(second.stdout)["batches"] for r in b["routers"].values()]
    assert len(again) == 3 and all(r["changed"] == 0 and not r["reloaded"] for r in again)
    # ... and the migration, run again on the county, finds it migrated as it left it.
    rerun = yunwang("migrate", "ipv6", str(SMALL), "run", "--stage", "county", *where)
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    (batch,) = json.loads(rerun.stdout)["batches"]
    assert batch["targets"]["hl"]["added"] == []
