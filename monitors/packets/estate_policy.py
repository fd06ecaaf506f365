"""The sensor policy the estate implies.

The estate declares zones, the isolation matrix, the address plan, every
node's LAN with its devices, the MACs and link-locals those devices answer
with, and who may answer DHCP per LAN and per zone. From it:

- gateways: each node's gateway (its first device's address on the LAN),
  every device that declares its LAN MACs, and the first address of every
  zone and tenant prefix;
- gateway MACs: a node's gateway may be claimed by its first device's
  declared MACs and by any VRRP virtual MAC declared on the node; another
  device's address by its own MACs. A gateway with none declared falls back
  to trust on first use in the detection;
- routers: every device's link-local and LAN MACs, the gateways' IPv6
  addresses and both ends of every link;
- DHCP servers: what each node and zone declares; where nothing is declared,
  the gateway (its addresses and link-local), which relays DHCP there;
- segments for IPv6 adoption: node LANs, tenant prefixes, zones.

A YAML overlay (`SensorPolicy.apply_overlay`) can still add or override
facts, e.g. for a segment the estate does not describe.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from estate import Estate, Node
from estate.units import is_vrrp_mac
from security.events import Context

from .policy import SensorPolicy


def _first(network: IPv4Network | IPv6Network) -> str:
    return str(network.network_address + 1)


def _gateway_macs(node: Node) -> dict[str, frozenset[str]]:
    """Who may answer ARP/ND for each of the node's addresses on its LAN."""
    if not node.devices:
        return {}
    vrrp = {mac for d in node.devices for mac in d.lan_macs if is_vrrp_mac(mac)}
    out: dict[str, frozenset[str]] = {}
    for index, device in enumerate(node.devices):
        if not device.lan_macs:
            continue
        macs = frozenset(device.lan_macs) | (vrrp if index == 0 else frozenset())
        for address in (device.mgmt4, device.mgmt6):
            out.setdefault(str(address), macs)
    return out


def policy_from_estate(estate: Estate) -> SensorPolicy:
    policy = SensorPolicy(zone_of=estate.zone_of, allowed=estate.allowed, source=estate.file)
    gateways: dict[str, str] = {}
    gateway_macs: dict[str, frozenset[str]] = {}
    routers: set[str] = set()
    dhcp: set[str] = set()
    for node in estate.nodes():
        if node.devices:
            gateways.setdefault(str(node.gateway4), node.id)
            gateways.setdefault(str(node.gateway6), node.id)
            for address, macs in _gateway_macs(node).items():
                gateways.setdefault(address, node.id)
                gateway_macs.setdefault(address, macs)
            for device in node.devices:
                routers.add(str(device.link_local))
                routers.update(device.lan_macs)
            if node.dhcp_servers is None:
                first = node.devices[0]
                dhcp.update(str(a) for a in (first.mgmt4, first.mgmt6, first.link_local))
        dhcp.update(str(a) for a in node.dhcp_servers or ())
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
    undeclared_dhcp = {z.name for z in estate.zones if z.dhcp_servers is None}
    for allocation in estate.prefixes("tenant"):
        tenant, zone_name = allocation.key.split("/", 1)
        for tenant_prefix in (allocation.ipv4, allocation.ipv6):
            gateways.setdefault(_first(tenant_prefix), allocation.key)
            if zone_name in undeclared_dhcp:
                dhcp.add(_first(tenant_prefix))
            policy.segments.add(tenant_prefix, allocation.key)
            policy.places.add(tenant_prefix, Context(tenant=tenant, zone=zone_name))
    for zone in estate.zones:
        dhcp.update(str(a) for a in zone.dhcp_servers or ())
        for prefix in (zone.prefix4, zone.prefix6):
            if prefix is not None:
                gateways.setdefault(_first(prefix), zone.name)
                if zone.dhcp_servers is None:
                    dhcp.add(_first(prefix))
                policy.segments.add(prefix, zone.name)
                policy.places.add(prefix, Context(zone=zone.name))
    for allocation in estate.prefixes():
        policy.add_planned(allocation.ipv4)
        policy.add_planned(allocation.ipv6)
    routers.update(address for address in gateways if ":" in address)
    for link in estate.links():
        routers.add(str(link.child_end.address6))
        routers.add(str(link.parent_end.address6))
    policy.gateways = gateways
    policy.gateway_macs = gateway_macs
    policy.routers = frozenset(routers)
    policy.dhcp_servers = frozenset(dhcp)
    return policy
