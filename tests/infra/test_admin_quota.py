"""The admin project's network quota holds everything the program puts in the admin project.

Neutron counts the admin's zone groups, matrix rules, extranet networks and
subnets and RBAC shares against the admin project; with Neutron's defaults
(10 RBAC policies, 100 subnets, 100 rules) the full Puyang deploy was
refused `OverQuota` at its 11th share (58 of 68 shares missing).
"""

from __future__ import annotations

from collections import Counter

import pytest

from estate import Estate
from infra.admin_quota import NEUTRON_DEFAULTS, admin_needs
from infra.planning import Plan
from infra.verify.desired import Desired

QUOTA = "openstack:networking/quotaV2:QuotaV2"
# Quota field -> the plan's resource kind it counts.
COUNTED = {
    "network": "Network",
    "subnet": "Subnet",
    "security_group": "SecGroup",
    "security_group_rule": "SecGroupRule",
    "rbac_policy": "RbacPolicyV2",
}


def camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(p.title() for p in rest)


def assert_admin_quota_holds_the_admins_objects(plan: Plan) -> dict[str, int]:
    desired = Desired(plan)
    (quota,) = [r for r in plan.of_type(QUOTA) if r.name == "admin-network-quota"]
    region = desired.region_of(quota)
    assert quota.inputs["projectId"] == f"getProject-{desired.admin_project}"
    owned: Counter[str] = Counter()
    for r in plan.resources:
        kind = r.type.rsplit(":", 1)[-1]
        if r.custom and desired.region_of(r) == region and desired.project_of(r) == "admin":
            owned[kind] += 1
    owned["SecGroup"] += 1  # Neutron's `default` group of the project
    owned["SecGroupRule"] += 4  # and its rules
    fields = {f: quota.inputs[camel(f)] for f in NEUTRON_DEFAULTS}
    for field, kind in COUNTED.items():
        # The program's objects, and Neutron's default room on top for the admin's own.
        room = fields[field] - owned[kind]
        assert room >= NEUTRON_DEFAULTS[field], (field, fields[field], owned[kind])
    assert all(fields[f] >= d or d < 0 for f, d in NEUTRON_DEFAULTS.items())
    return {kind: owned[kind] for kind in COUNTED.values()}


def test_the_small_citys_admin_quota_covers_the_admins_objects(small_plan: Plan) -> None:
    owned = assert_admin_quota_holds_the_admins_objects(small_plan)
    assert owned["SecGroupRule"] == 114  # already above Neutron's default of 100


def test_puyangs_shares_are_counted_without_planning_it(puyang: Estate) -> None:
    needs = admin_needs(puyang, (), rules=110)
    assert needs["rbac_policy"] == 68 > NEUTRON_DEFAULTS["rbac_policy"]  # 34 tenants x 2 zones
    assert needs["subnet"] == 182 > NEUTRON_DEFAULTS["subnet"]  # 91 extranet segments
    # Extranet tenants add one share per segment each.
    assert admin_needs(puyang, ("gaj",), rules=110)["rbac_policy"] == 68 + 91


@pytest.mark.slow
def test_puyangs_admin_quota_covers_the_admins_objects(puyang_plan: Plan) -> None:
    owned = assert_admin_quota_holds_the_admins_objects(puyang_plan)
    assert owned["RbacPolicyV2"] == 68
