"""The DR centre (容灾备份中心): its own region, replication network, standby networks, volume types.

Standby networks carry the same prefixes as production so a failed-over
system keeps its addresses; they have no router until the DR runbook
attaches one, so the same prefix is never routed from two places.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

import pulumi
import pulumi_openstack as openstack

from estate import Estate
from estate.addressing import nth_subnet
from estate.model import Tenant as TenantSpec
from infra.identity import storage_quota
from infra.settings import CloudSettings, admin_provider
from infra.zones import first_64


def volume_types(
    estate: Estate, region: str, provider: openstack.Provider, parent: pulumi.Resource, site: str
) -> dict[str, openstack.blockstorage.VolumeTypeV3]:
    """One volume type per DR class; replication classes ask the backend to replicate."""
    types: dict[str, openstack.blockstorage.VolumeTypeV3] = {}
    for cls in estate.dr.classes.values():
        specs = {
            "yunwang:dr_class": cls.name,
            "yunwang:rpo_s": str(int(cls.rpo_s)),
            "yunwang:rto_s": str(int(cls.rto_s)),
        }
        if cls.method == "replication":
            specs["replication_enabled"] = "<is> True"
        types[cls.name] = openstack.blockstorage.VolumeTypeV3(
            f"{site}-dr-{cls.name}",
            name=f"dr-{cls.name}",
            description=f"DR class {cls.name}: RPO {int(cls.rpo_s)} s, {cls.method}",
            is_public=True,
            extra_specs=specs,
            region=region,
            opts=pulumi.ResourceOptions(parent=parent, provider=provider),
        )
    return types


def replication_prefixes(estate: Estate, zone: str) -> tuple[IPv4Network, IPv6Network]:
    """The DR side of the replication zone: the zone's last /24 and last /64.

    Tenants are cut from the front of a zone's slot, so the last one is the
    one the plan reaches last.
    """
    z = estate.zone(zone)
    if z.prefix4 is None or z.prefix6 is None:
        raise ValueError(f"zone {zone} has no prefixes")
    bits4 = 24 - z.prefix4.prefixlen
    bits6 = 64 - z.prefix6.prefixlen
    net4 = nth_subnet(z.prefix4, bits4, (1 << bits4) - 1)
    net6 = nth_subnet(z.prefix6, bits6, (1 << bits6) - 1)
    for a in estate.prefixes("tenant"):
        if a.ipv4.overlaps(net4) or a.ipv6.overlaps(net6):
            raise ValueError(
                f"zone {zone}: tenant prefix {a.key} reaches the DR replication network "
                f"{net4} / {net6} (the zone's last slot); pin it with an override"
            )
    return net4, net6


class DrCentre(pulumi.ComponentResource):
    """Built in two steps: the centre and its volume types first (production volumes
    need the types), then `protect` for the tenants, then `finish`."""

    provider: openstack.Provider
    volume_types: dict[str, openstack.blockstorage.VolumeTypeV3]
    main_volume_types: dict[str, openstack.blockstorage.VolumeTypeV3]

    def __init__(
        self,
        estate: Estate,
        settings: CloudSettings,
        main_admin: openstack.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yunwang:infra:DrCentre", f"{estate.city.code}-dr", None, opts)
        self.estate = estate
        region = estate.sites.dr.region
        self.provider = admin_provider(
            settings, region, "dr-admin", pulumi.ResourceOptions(parent=self)
        )
        self._child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        # Production volumes of a class are created with its type in the main
        # region; the backend replicates them to the same type here.
        self.main_volume_types = volume_types(
            estate, estate.sites.main.region, main_admin, self, "main"
        )
        self.volume_types = volume_types(estate, region, self.provider, self, "dr")
        if estate.replicated_systems() and any(
            z.name == settings.replication_zone for z in estate.zones
        ):
            self._replication_network(estate, settings.replication_zone, self._child)

    def protect(self, tenant: TenantSpec, project_id: pulumi.Input[str]) -> None:
        """Backup quotas for a tenant, and standby networks for its replicated zones."""
        region = self.estate.sites.dr.region
        storage_quota(f"dr-{tenant.code}-storage-quota", tenant, project_id, region, self._child)
        zones = sorted({s.zone for s in tenant.systems if s.dr_class is not None})
        for zone_name in zones:
            self._standby(self.estate, tenant.code, zone_name, project_id, self._child)

    def finish(self) -> None:
        self.register_outputs(
            {
                "region": self.estate.sites.dr.region,
                "volume_types": {n: t.name for n, t in self.volume_types.items()},
            }
        )

    def _replication_network(
        self, estate: Estate, zone: str, child: pulumi.ResourceOptions
    ) -> None:
        net4, net6 = replication_prefixes(estate, zone)
        mode = estate.zone(zone).ipv6_mode
        network = openstack.networking.Network(
            "dr-replication-net", name=f"dr-{zone}", tags=["yunwang", "dr"], opts=child
        )
        subnets = [
            openstack.networking.Subnet(
                "dr-replication-v4",
                name=f"dr-{zone}-v4",
                network_id=network.id,
                ip_version=4,
                cidr=str(net4),
                enable_dhcp=True,
                opts=child,
            ),
            openstack.networking.Subnet(
                "dr-replication-v6",
                name=f"dr-{zone}-v6",
                network_id=network.id,
                ip_version=6,
                cidr=str(net6),
                enable_dhcp=True,
                ipv6_ra_mode=mode,
                ipv6_address_mode=mode,
                opts=child,
            ),
        ]
        router = openstack.networking.Router(
            "dr-replication-router", name=f"dr-{zone}", tags=["yunwang", "dr"], opts=child
        )
        for family, subnet in zip(("v4", "v6"), subnets, strict=True):
            openstack.networking.RouterInterface(
                f"dr-replication-router-{family}",
                router_id=router.id,
                subnet_id=subnet.id,
                opts=child,
            )

    def _standby(
        self,
        estate: Estate,
        tenant: str,
        zone_name: str,
        project_id: pulumi.Input[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        zone = estate.zone(zone_name)
        net4, net6 = estate.tenant_prefix(tenant, zone_name)
        name = f"dr-{tenant}-{zone_name}"
        tags = ["yunwang", "dr", "standby", f"tenant:{tenant}", f"zone:{zone_name}"]
        network = openstack.networking.Network(
            f"{name}-net", name=name, tenant_id=project_id, tags=tags, opts=child
        )
        openstack.networking.Subnet(
            f"{name}-v4",
            name=f"{name}-v4",
            network_id=network.id,
            tenant_id=project_id,
            ip_version=4,
            cidr=str(net4),
            enable_dhcp=True,
            tags=tags,
            opts=child,
        )
        openstack.networking.Subnet(
            f"{name}-v6",
            name=f"{name}-v6",
            network_id=network.id,
            tenant_id=project_id,
            ip_version=6,
            cidr=str(first_64(net6)),
            enable_dhcp=True,
            ipv6_ra_mode=zone.ipv6_mode,
            ipv6_address_mode=zone.ipv6_mode,
            tags=tags,
            opts=child,
        )
