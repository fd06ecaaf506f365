"""Stack outputs as an Ansible inventory (YAML inventory shape).

Cloud hosts carry their planned addresses, tenant, zone, system and MLPS
level, plus the instance and port ids Pulumi got back; extranet devices
carry their management addresses and are grouped by county. Groups:
`tenant_*`, `zone_*`, `mlps_2`/`mlps_3`, `county_*`, `level_*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

from estate import Estate

if TYPE_CHECKING:
    from infra.system import System


def group(name: str) -> str:
    """Ansible group names are identifiers."""
    return "".join(c if c.isalnum() else "_" for c in name)


def inventory(
    estate: Estate, systems: Mapping[tuple[str, str], System]
) -> pulumi.Output[dict[str, Any]]:
    ids: dict[str, pulumi.Output[Any]] = {}
    for system in systems.values():
        for host, instance in system.instances.items():
            ids[host] = pulumi.Output.all(instance.id, system.ports[host].id)
    return pulumi.Output.all(**ids).apply(lambda resolved: layout(estate, resolved))


def layout(estate: Estate, ids: Mapping[str, Any]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}

    def add(group_name: str, host: str, hostvars: dict[str, Any] | None = None) -> None:
        hosts = groups.setdefault(group(group_name), {"hosts": {}})["hosts"]
        hosts[host] = hostvars if hostvars is not None else {}

    for system in estate.systems():
        for host in system.hosts:
            instance_id, port_id = ids.get(host.name, (None, None))
            hostvars = {
                "ansible_host": str(host.address4),
                "address4": str(host.address4),
                "address6": str(host.address6),
                "tenant": system.tenant,
                "zone": system.zone,
                "system": system.code,
                "mlps_level": system.mlps_level,
                "dr_class": system.dr_class,
                "role": host.role,
                "instance_id": instance_id,
                "port_id": port_id,
            }
            add("cloud", host.name, hostvars)
            add(f"tenant_{system.tenant}", host.name)
            add(f"zone_{system.zone}", host.name)
            add(f"mlps_{system.mlps_level}", host.name)
    for node in estate.nodes():
        for device in node.devices:
            hostvars = {
                "ansible_host": str(device.mgmt4),
                "address4": str(device.mgmt4),
                "address6": str(device.mgmt6),
                "node": node.id,
                "level": node.level,
                "county": node.county,
                "model": device.model,
                "vendor": device.vendor,
            }
            add("extranet", device.name, hostvars)
            add(f"level_{node.level}", device.name)
            county = node.county or (node.id if node.level == "county" else None)
            if county is not None:
                add(f"county_{county}", device.name)
    return {"all": {"children": groups}}
