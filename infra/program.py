"""The whole program: the estate in, the city's cloud resources out.

`build` is what `infra/__main__.py` runs under the real engine and what
`yunwang plan` runs under Pulumi's mock runtime; both see the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from estate import Estate
from infra.admin_quota import admin_network_quota
from infra.dr import DrCentre
from infra.extranet import SEGMENT_LEVELS, ExtranetQos, ExtranetSegment
from infra.identity import DUTY_ROLES, CityIdentity, Tenant
from infra.settings import CloudSettings, admin_provider
from infra.system import System
from infra.zones import CityZones, ZoneNetwork


@dataclass
class City:
    tenants: dict[str, Tenant]
    zones: CityZones
    networks: dict[tuple[str, str], ZoneNetwork]
    segments: dict[str, ExtranetSegment]
    systems: dict[tuple[str, str], System]
    dr: DrCentre


@dataclass(frozen=True)
class Shard:
    """Part `index` of `count`: lets `yunwang plan` spread one program over processes.

    Tenants and extranet segments are dealt round-robin; everything
    city-wide, and every tenant the extranet segments are shared with, is
    built in every shard. Each shard registers exactly the resources the
    whole program would (same names, same inputs), so the union of the shards
    is the whole program.
    """

    index: int = 0
    count: int = 1

    def takes(self, position: int) -> bool:
        return position % self.count == self.index


def city_identity(settings: CloudSettings, admin: openstack.Provider) -> CityIdentity:
    invoke = pulumi.InvokeOptions(provider=admin)
    roles: dict[str, pulumi.Input[str]] = {}
    for role in sorted(set(DUTY_ROLES.values())):
        if role.startswith("yunwang-"):
            roles[role] = openstack.identity.Role(
                role, name=role, opts=pulumi.ResourceOptions(provider=admin)
            ).id
        else:
            roles[role] = openstack.identity.get_role_output(name=role, opts=invoke).id
    deployer = openstack.identity.get_user_output(name=settings.user_name, opts=invoke)
    return CityIdentity(roles=roles, deployer_id=deployer.id)


def check_settings(estate: Estate, settings: CloudSettings) -> None:
    codes = {t.code for t in estate.tenants}
    unknown = [t for t in settings.extranet_tenants if t not in codes]
    if unknown:
        raise ValueError(
            f"config yunwang:extranetTenants names no tenant of {estate.file}: {', '.join(unknown)}"
        )


def build(estate: Estate, settings: CloudSettings, shard: Shard | None = None) -> City:
    shard = shard or Shard()
    check_settings(estate, settings)
    region = estate.sites.main.region
    admin = admin_provider(settings, region)
    identity = city_identity(settings, admin)
    zones = CityZones(estate, region, admin)
    dr = DrCentre(estate, settings, admin)
    # Every shard declares it alike (like the zones): it depends on the whole estate only.
    admin_network_quota(
        estate,
        settings.extranet_tenants,
        len(zones.rules),
        settings.admin_project,
        region,
        admin,
    )

    tenants: dict[str, Tenant] = {}
    networks: dict[tuple[str, str], ZoneNetwork] = {}
    systems: dict[tuple[str, str], System] = {}
    for position, spec in enumerate(estate.tenants):
        if not (shard.takes(position) or spec.code in settings.extranet_tenants):
            continue
        tenant = Tenant(spec, identity, settings, region, admin)
        tenants[spec.code] = tenant
        dr.protect(spec, tenant.project.id)
        for zone_name in dict.fromkeys(s.zone for s in spec.systems):
            zone = estate.zone(zone_name)
            networks[(spec.code, zone_name)] = ZoneNetwork(
                spec.code,
                zone,
                estate.tenant_prefix(spec.code, zone_name),
                tenant.project.id,
                zones.security_groups[zone_name],
                tenant.provider,
                admin,
                opts=pulumi.ResourceOptions(parent=tenant),
            )
        for system in spec.systems:
            net = networks[(spec.code, system.zone)]
            systems[(spec.code, system.code)] = System(
                system,
                estate.zone(system.zone),
                net.network,
                net.subnet4,
                net.subnet6,
                zones.security_groups[system.zone].id,
                dr.main_volume_types,
                tenant.provider,
                key_pair=settings.key_pair,
                opts=pulumi.ResourceOptions(parent=tenant),
            )

    qos = {
        level: ExtranetQos(level, estate.owed_bandwidth(level), region, admin)  # type: ignore[arg-type]
        for level in SEGMENT_LEVELS
    }
    shared = {t: tenants[t].project.id for t in settings.extranet_tenants if t in tenants}
    segments: dict[str, ExtranetSegment] = {}
    attached = [n for n in estate.nodes() if n.level in SEGMENT_LEVELS]
    for position, node in enumerate(attached):
        if not shard.takes(position):
            continue
        vlan = settings.vlan_start + position
        segments[node.id] = ExtranetSegment(
            node, vlan, settings.physical_network, qos[node.level], shared, region, admin
        )

    dr.finish()
    return City(
        tenants=tenants,
        zones=zones,
        networks=networks,
        segments=segments,
        systems=systems,
        dr=dr,
    )
