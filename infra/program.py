"""The whole program: the estate in, the city's cloud resources out.

`build` is what `infra/__main__.py` runs under the real engine and what
`yunwang plan` runs under Pulumi's mock runtime; both see the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from estate import Estate
from infra.dr import DrCentre, volume_types
from infra.extranet import SEGMENT_LEVELS, ExtranetQos, ExtranetSegment
from infra.identity import DUTY_ROLES, CityIdentity, Tenant
from infra.inventory import inventory
from infra.settings import CloudSettings
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
    inventory: pulumi.Output[dict[str, object]]


def extranet_tenants(estate: Estate, settings: CloudSettings) -> list[str]:
    """Who gets the extranet segments shared: the configured list, else every
    tenant that runs a system in an extranet zone."""
    if settings.extranet_tenants is not None:
        return list(settings.extranet_tenants)
    extranet = {z.name for z in estate.zones if z.kind == "extranet"}
    return [t.code for t in estate.tenants if any(s.zone in extranet for s in t.systems)]


def admin_provider(settings: CloudSettings, region: str) -> openstack.Provider:
    return openstack.Provider(
        "admin",
        auth_url=settings.auth_url,
        user_name=settings.user_name,
        user_domain_name=settings.user_domain,
        project_domain_name=settings.user_domain,
        tenant_name=settings.admin_project,
        password=settings.password,
        region=region,
    )


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


def build(estate: Estate, settings: CloudSettings) -> City:
    region = estate.sites.main.region
    admin = admin_provider(settings, region)
    identity = city_identity(settings, admin)
    zones = CityZones(estate, region, admin)
    main_types = volume_types(estate, region, admin, zones, "main")

    tenants: dict[str, Tenant] = {}
    networks: dict[tuple[str, str], ZoneNetwork] = {}
    systems: dict[tuple[str, str], System] = {}
    for spec in estate.tenants:
        tenant = Tenant(spec, identity, settings, region, admin)
        tenants[spec.code] = tenant
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
                main_types,
                tenant.provider,
                key_pair=settings.key_pair,
                opts=pulumi.ResourceOptions(parent=tenant),
            )

    qos = {
        level: ExtranetQos(level, estate.owed_bandwidth(level), region, admin)  # type: ignore[arg-type]
        for level in SEGMENT_LEVELS
    }
    shared = {t: tenants[t].project.id for t in extranet_tenants(estate, settings) if t in tenants}
    segments: dict[str, ExtranetSegment] = {}
    vlan = settings.vlan_start
    for node in estate.nodes():
        if node.level not in SEGMENT_LEVELS:
            continue
        segments[node.id] = ExtranetSegment(
            node, vlan, settings.physical_network, qos[node.level], shared, region, admin
        )
        vlan += 1

    dr = DrCentre(estate, settings, {code: t.project.id for code, t in tenants.items()})
    return City(
        tenants=tenants,
        zones=zones,
        networks=networks,
        segments=segments,
        systems=systems,
        dr=dr,
        inventory=inventory(estate, systems),
    )
