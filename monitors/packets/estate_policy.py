"""The sensor policy the estate implies.

The estate declares zones, the isolation matrix, the address plan and every
node's LAN with its gateway device. It does not (yet) declare gateway MAC
addresses, routers' link-local addresses or DHCP servers, so this module
derives what it can and a YAML overlay (`SensorPolicy.apply_overlay`) adds
the rest:

- gateways: each node's gateway (its first device's address on the LAN)
  and the first address of every zone and tenant prefix;
- routers: those gateways' IPv6 addresses plus both ends of every link;
- DHCP servers: the gateways, which relay DHCP for their segment;
- segments for IPv6 adoption: node LANs, tenant prefixes, zones.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from estate import Estate
from security.events import Context

from .policy import SensorPolicy


def _first(network: IPv4Network | IPv6Network) -> str:
    return str(network.network_address + 1)


def policy_from_estate(estate: Estate) -> SensorPolicy:
    policy = SensorPolicy(zone_of=estate.zone_of, allowed=estate.allowed, source=estate.file)
    gateways: dict[str, str] = {}
    for node in estate.nodes():
        if node.devices:
            gateways.setdefault(str(node.gateway4), node.id)
            gateways.setdefault(str(node.gateway6), node.id)
        place = Context(
            node=node.id,
            county=node.county,
            township=node.township,
            level=node.level,
            zone=estate.zone_of(node.lan4.network_address),
        )
        for lan in (node.lan4, node.lan6):
            policy.segments.add(lan, node.id)
            policy.places.add(lan, place)
    for allocation in estate.prefixes("tenant"):
        gateways.setdefault(_first(allocation.ipv4), allocation.key)
        gateways.setdefault(_first(allocation.ipv6), allocation.key)
        tenant, zone_name = allocation.key.split("/", 1)
        for tenant_prefix in (allocation.ipv4, allocation.ipv6):
            policy.segments.add(tenant_prefix, allocation.key)
            policy.places.add(tenant_prefix, Context(tenant=tenant, zone=zone_name))
    for zone in estate.zones:
        for prefix in (zone.prefix4, zone.prefix6):
            if prefix is not None:
                gateways.setdefault(_first(prefix), zone.name)
                policy.segments.add(prefix, zone.name)
                policy.places.add(prefix, Context(zone=zone.name))
    for allocation in estate.prefixes():
        policy.add_planned(allocation.ipv4)
        policy.add_planned(allocation.ipv6)
    routers = {address for address in gateways if ":" in address}
    for link in estate.links():
        routers.add(str(link.child_end.address6))
        routers.add(str(link.parent_end.address6))
    policy.gateways = gateways
    policy.routers = frozenset(routers)
    policy.dhcp_servers = frozenset(gateways)
    return policy
