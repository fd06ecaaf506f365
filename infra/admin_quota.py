"""The admin project's network quota, sized for what the program itself puts there.

The admin owns the zone security groups and their matrix rules, the
extranet segments' networks and subnets, and one RBAC share per tenant zone
network and per extranet tenant and segment. Neutron counts all of them
against the admin project like anything else, and its defaults (10 RBAC
policies, 100 subnets, 100 rules) are below what a city of Puyang's size
needs: without this quota `pulumi up` is refused `OverQuota` part-way (the
test cloud's deploy of examples/puyang.yaml was, on its 11th share). Each
field is what the program puts there plus Neutron's default, so the admin
keeps the room a stock cloud gives it for its own changes (a quota exactly
at the program's count refused the first rule an admin added by hand).
Every field is set because the provider would zero a field it is not given.
"""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack

from estate import Estate
from infra.extranet import SEGMENT_LEVELS

# Neutron's own defaults ([quotas] in neutron.conf); the admin's quota never drops below them.
NEUTRON_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
    "subnetpool": -1,
}
DEFAULT_GROUP_RULES = 4  # Neutron's `default` group of the admin project: v4/v6, in and out


def admin_needs(estate: Estate, extranet_tenants: tuple[str, ...], rules: int) -> dict[str, int]:
    """What the program creates in the admin project of the main region, by quota field."""
    zone_networks = sum(len({s.zone for s in t.systems}) for t in estate.tenants)
    segments = sum(1 for n in estate.nodes() if n.level in SEGMENT_LEVELS)
    shared_with = sum(1 for t in estate.tenants if t.code in extranet_tenants)
    return {
        "network": segments,
        "subnet": 2 * segments,
        "security_group": len(estate.zones) + 1,
        "security_group_rule": rules + DEFAULT_GROUP_RULES,
        "rbac_policy": zone_networks + segments * shared_with,
    }


def admin_network_quota(
    estate: Estate,
    extranet_tenants: tuple[str, ...],
    rules: int,
    admin_project: str,
    region: str,
    admin: openstack.Provider,
) -> openstack.networking.QuotaV2:
    needs = admin_needs(estate, extranet_tenants, rules)
    limits = {f: d + needs.get(f, 0) if d >= 0 else d for f, d in NEUTRON_DEFAULTS.items()}
    project = openstack.identity.get_project_output(
        name=admin_project, opts=pulumi.InvokeOptions(provider=admin)
    )
    return openstack.networking.QuotaV2(
        "admin-network-quota",
        project_id=project.id,
        region=region,
        opts=pulumi.ResourceOptions(provider=admin),
        **limits,
    )
