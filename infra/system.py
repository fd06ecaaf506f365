"""A department's system: for each host a port with its planned addresses, an instance, a volume."""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack

from estate.model import Host, Zone
from estate.model import System as SystemSpec

# Neutron refuses a chosen IPv6 address on a subnet that assigns them itself
# (SLAAC, DHCPv6-stateless). There the port allows the planned address and
# the host configures it statically (playbooks' ipv6 role).
SELF_ASSIGNED_V6 = ("slaac", "dhcpv6-stateless")


class System(pulumi.ComponentResource):
    instances: dict[str, openstack.compute.Instance]
    ports: dict[str, openstack.networking.Port]
    volumes: dict[str, openstack.blockstorage.Volume]

    def __init__(
        self,
        spec: SystemSpec,
        zone: Zone,
        network: openstack.networking.Network,
        subnet4: openstack.networking.Subnet,
        subnet6: openstack.networking.Subnet,
        security_group_id: pulumi.Input[str],
        volume_types: dict[str, openstack.blockstorage.VolumeTypeV3],
        provider: openstack.Provider,
        key_pair: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        name = f"{spec.tenant}-{spec.code}"
        super().__init__("yunwang:infra:System", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.instances, self.ports, self.volumes = {}, {}, {}
        metadata = {
            "yunwang:tenant": spec.tenant,
            "yunwang:system": spec.code,
            "yunwang:zone": spec.zone,
            "yunwang:mlps_level": str(spec.mlps_level),
            "yunwang:dr_class": spec.dr_class or "none",
        }
        volume_type = volume_types.get(spec.dr_class or "")
        for host in spec.hosts:
            port = openstack.networking.Port(
                f"{host.name}-port",
                name=host.name,
                network_id=network.id,
                admin_state_up=True,
                port_security_enabled=True,
                security_group_ids=[security_group_id],
                fixed_ips=self._fixed_ips(host, zone, subnet4, subnet6),
                allowed_address_pairs=self._pairs(host, zone),
                tags=["yunwang", f"tenant:{spec.tenant}", f"system:{spec.code}"],
                opts=child,
            )
            instance = openstack.compute.Instance(
                host.name,
                name=host.name,
                flavor_name=host.flavor,
                image_name=host.image,
                key_pair=key_pair,
                networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
                metadata={**metadata, "yunwang:role": host.role},
                tags=["yunwang", f"mlps:{spec.mlps_level}"],
                opts=child,
            )
            volume = openstack.blockstorage.Volume(
                f"{host.name}-data",
                name=f"{host.name}-data",
                size=host.volume_gb,
                volume_type=volume_type.name if volume_type is not None else None,
                metadata=metadata,
                opts=child,
            )
            openstack.compute.VolumeAttach(
                f"{host.name}-data-attach",
                instance_id=instance.id,
                volume_id=volume.id,
                opts=child,
            )
            self.instances[host.name] = instance
            self.ports[host.name] = port
            self.volumes[host.name] = volume
        self.register_outputs({"instances": {h: i.id for h, i in self.instances.items()}})

    @staticmethod
    def _fixed_ips(
        host: Host,
        zone: Zone,
        subnet4: openstack.networking.Subnet,
        subnet6: openstack.networking.Subnet,
    ) -> list[openstack.networking.PortFixedIpArgs]:
        v6 = openstack.networking.PortFixedIpArgs(subnet_id=subnet6.id)
        if zone.ipv6_mode not in SELF_ASSIGNED_V6:
            v6 = openstack.networking.PortFixedIpArgs(
                subnet_id=subnet6.id, ip_address=str(host.address6)
            )
        return [
            openstack.networking.PortFixedIpArgs(
                subnet_id=subnet4.id, ip_address=str(host.address4)
            ),
            v6,
        ]

    @staticmethod
    def _pairs(host: Host, zone: Zone) -> list[openstack.networking.PortAllowedAddressPairArgs]:
        if zone.ipv6_mode not in SELF_ASSIGNED_V6:
            return []
        return [openstack.networking.PortAllowedAddressPairArgs(ip_address=f"{host.address6}/128")]
