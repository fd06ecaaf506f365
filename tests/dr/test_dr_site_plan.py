"""The lab's DR-centre site as planned (pure data, no root): its router, the
line to the city, the replication zone behind it, its hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.addressing import AddressMap
from lab.blueprint import plan_slice
from lab.drsite import LINK, NODE, ZONE, add_dr_site
from lab.errors import LabError
from lab.lab import load_estate
from lab.placement import Slice
from tests.dr.conftest import SMALL


def test_the_dr_centre_sits_behind_its_own_router_on_one_line() -> None:
    estate = load_estate(SMALL)
    plan = plan_slice(estate, Slice(1, 1, 0, 2, 2), "t000")
    city = plan.routers[0]
    assert any(i.alias == f"zone {ZONE}" for i in city.interfaces)
    add_dr_site(estate, plan, 2, AddressMap.from_dict(plan.addresses))
    dr = plan.router(NODE)
    assert dr.name == estate.sites.dr.name
    cable = plan.cable(LINK)
    assert (cable.child, cable.parent) == (NODE, city.node)
    # The replication zone's gateway moved from the city router to the DR router.
    assert not any(i.alias == f"zone {ZONE}" for i in city.interfaces)
    assert any(i.alias == f"zone {ZONE}" for i in dr.interfaces)
    segment = next(s for s in plan.segments if s.zone == ZONE)
    assert segment.router == NODE
    hosts = [h for h in plan.hosts if h.router == NODE]
    assert [h.name for h in hosts] == ["dr-h1", "dr-h2"]
    assert {h.zone for h in hosts} == {ZONE} and len({h.port for h in hosts}) == 2
    gateway = next(a for a in dr.interfaces if a.alias == f"zone {ZONE}").addresses[0]
    assert hosts[0].gateway4 == gateway.split("/")[0]
    assert all(h.address4.startswith(("198.18.", "198.19.")) for h in hosts)  # test ranges only


def test_an_estate_without_a_replication_zone_is_one_line(tmp_path: Path) -> None:
    text = SMALL.read_text()
    assert "dr-replication" in text
    other = tmp_path / "no-dr.yaml"
    # The zone renamed everywhere: the estate is still whole, only the DR zone is gone.
    other.write_text(text.replace("dr-replication", "standby-net"))
    estate = load_estate(other)
    plan = plan_slice(estate, Slice(1, 1, 0, 2, 2), "t000")
    with pytest.raises(LabError, match=f"--dr-hosts: .* has no {ZONE} zone"):
        add_dr_site(estate, plan, 1, AddressMap.from_dict(plan.addresses))
