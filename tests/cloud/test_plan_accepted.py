"""The program's resources for examples/small.yaml, accepted by a real Keystone, Neutron and
Cinder, in both regions (the main cloud and the DR centre)."""

from __future__ import annotations

from collections import Counter

from infra.planning import Plan
from infra.verify.desired import Desired
from tests.cloud.testcloud import DR_REGION, REGIONS
from tests.cloud.translate import NO_SERVICE, ORDER, TYPE, Outcome


def test_every_planned_resource_is_created_as_planned(deployed: Outcome, small_plan: Plan) -> None:
    assert deployed.defects == [], "\n".join(str(d) for d in deployed.defects)
    desired = Desired(small_plan)
    assert set(desired.regions) == set(REGIONS)
    wanted = Counter(kind for kind in ORDER for _ in small_plan.of_type(TYPE.format(kind)))
    assert deployed.kinds == dict(wanted)
    # The big kinds are really there: 110 matrix rules, dual-stack subnets, ports.
    assert deployed.kinds["networking/secGroupRule:SecGroupRule"] == 110
    assert deployed.kinds["networking/port:Port"] == 12
    # Cinder: a volume type per DR class in each region, a storage quota per tenant in each.
    assert deployed.kinds["blockstorage/volumeTypeV3:VolumeTypeV3"] == 6
    assert deployed.kinds["blockstorage/quoteSetV3:QuoteSetV3"] == 6
    # The DR centre's own networks (replication, standby) were created in its region.
    dr = [r for r in small_plan.of_type(TYPE.format("networking/network:Network"))]
    dr = [r for r in dr if desired.region_of(r) == DR_REGION]
    assert len(dr) == 7 and all(r.id in deployed.created for r in dr)


def test_what_is_not_created_says_why(deployed: Outcome, small_plan: Plan) -> None:
    reasons = set(deployed.skipped.values())
    assert reasons == {"no Nova in the test cloud", "no Cinder volume service in the test cloud"}
    for kind in NO_SERVICE:
        for r in small_plan.of_type(TYPE.format(kind)):
            assert r.id in deployed.skipped
    assert len(deployed.created) + len(deployed.skipped) == sum(
        1 for r in small_plan.resources if r.custom and not r.type.startswith("pulumi:providers")
    )
