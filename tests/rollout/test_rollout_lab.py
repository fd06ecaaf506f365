"""`yunwang rollout dual-links` against real FRR routers in the lab.

The lab starts with interfaces and addresses only (`--no-routing`); the
rollout gives the routers their routing through Ansible and frr-reload.py,
verifies it from the routers, and then a cut primary fails over as in a lab
that rendered its routing itself. A second run changes nothing; a silent
failure stops the rollout at its batch, naming node, link and what was seen.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from lab.lab import Lab
from security.events import utcnow
from security.store import open_store
from tests.rollout.helpers import vtysh_json, yunwang

pytestmark = [pytest.mark.lab, pytest.mark.slow]
SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"


def _route_leaves_by(lab: Lab, node: str, address: str) -> list[str]:
    routes = vtysh_json(lab, node, f"show ip route {address} json")
    assert isinstance(routes, dict)
    return [
        hop["interfaceName"]
        for entries in routes.values()
        for route in entries
        if route.get("selected")
        for hop in route["nexthops"]
        if hop.get("active")
    ]


def test_rollout_gives_routing_that_fails_over_and_a_second_run_changes_nothing(
    lab: Lab, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    city = lab.routers[0]
    # No routing yet: no OSPF instance, no route to the city.
    assert vtysh_json(lab, "hl", "show ip ospf neighbor json") == {}
    assert _route_leaves_by(lab, "hl", city.router_id) == []

    check = yunwang(
        "rollout", "dual-links", str(SMALL), "--lab-dir", str(lab.directory), "--store", store,
        "--level", "county", "--check", "--json",
    )  # fmt: skip
    assert check.returncode == 0, check.stderr + check.stdout
    (hl,) = json.loads(check.stdout)["batches"][0]["routers"].values()
    assert hl["pending_lines"] > 20 and not hl["reloaded"]
    assert vtysh_json(lab, "hl", "show ip ospf neighbor json") == {}  # --check changed nothing

    first = yunwang(
        "rollout", "dual-links", str(SMALL), "--lab-dir", str(lab.directory), "--store", store,
        "--json",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr + first.stdout
    report = json.loads(first.stdout)
    assert [b["level"] for b in report["batches"]] == ["city", "county", "township"]
    assert all(r["reloaded"] for b in report["batches"] for r in b["routers"].values())
    # Non-tty progress: one timestamped line per step, no redrawn bar.
    assert "batch 3/3 (township): applying to hl-zyl" in first.stderr
    lab.wait_converged(timeout_s=90)  # returns once converged; every router was reloaded
    assert _route_leaves_by(lab, "hl", city.router_id) == ["up-p"]

    # The cut primary fails over to the backup, as the lab's own routing does.
    lab.cut("hl/primary")
    try:
        deadline = time.monotonic() + 30  # each check is a process in a namespace
        while _route_leaves_by(lab, "hl", city.router_id) != ["up-b"]:
            assert time.monotonic() < deadline, "hl did not fail over to its backup"
            time.sleep(0.1)
        lab.run("hl-zyl", f"ping -c 2 -W 1 -i 0.2 {city.router_id}")
    finally:
        lab.restore("hl/primary", wait=True)

    second = yunwang(
        "rollout", "dual-links", str(SMALL), "--lab-dir", str(lab.directory), "--store", store,
        "--json",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr + second.stdout
    routers = [r for b in json.loads(second.stdout)["batches"] for r in b["routers"].values()]
    assert len(routers) == 3
    assert all(r["changed"] == 0 and not r["reloaded"] for r in routers)

    events = list(open_store(store).iter_events(["yunwang.rollout"], utcnow() - timedelta(hours=1)))
    per_router = [e for e in events if e.action == "router-rolled-out"]
    assert len(per_router) == 7 and all(e.outcome == "success" for e in per_router)
    assert sum(e.action == "rollout-finished" for e in events) == 3
    trail = (Path(os.environ["YUNWANG_HOME"]) / "audit.jsonl").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in trail]
    assert actions.count("rollout.dual-links.apply.batch") == 6
    assert actions.count("rollout.dual-links.apply") == 2
    assert actions.count("rollout.dual-links.check") == 1


def test_a_failing_batch_stops_the_rollout_naming_node_link_and_what_was_seen(
    lab: Lab, tmp_path: Path
) -> None:
    # A silent failure of hl's backup: the link stays up, nothing passes.
    lab.blackhole("hl/backup")
    try:
        done = yunwang(
            "rollout", "dual-links", str(SMALL), "--lab-dir", str(lab.directory),
            "--store", f"sqlite:///{tmp_path / 'events.db'}", "--level", "county",
            "--settle", "8", "--json",
        )  # fmt: skip
    finally:
        lab.restore("hl/backup")
    assert done.returncode == 1, done.stderr + done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rollout stopped at batch 1: ")
    assert "hl hl/backup: OSPFv2 neighbour on up-b is" in last and "expected Full" in last
    report = json.loads(done.stdout)
    assert not report["ok"] and report["batches"][0]["findings"]
