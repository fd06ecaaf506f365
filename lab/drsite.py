"""The DR centre (容灾备份中心) as a site of its own in the lab.

With `--dr-hosts N` the lab gains a router for the estate's DR site, cabled
to the city core by one link (`dr/replication`), and the `dr-replication`
zone's segment moves from the city router behind it: replication and backup
between the city cloud and the DR centre cross that link, so `lab blackhole
dr/replication` breaks them the way a failed inter-site line would. N hosts
(`dr-h1`, ...) stand on that zone: a DR standby, a backup repository, a
scratch host for restore drills.

The estate addresses neither the inter-site line nor the DR centre's
management network, so both come from the lab-only block. The NMS reaches
the DR centre over that management network (out of band, as operators of
a real DR centre do), so a blackholed replication line is still watched:
the standby's lag can be read while it grows.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

from estate import Estate
from estate.addressing import nth_host4, nth_host6
from lab import netns
from lab.addressing import AddressMap
from lab.blueprint import Cable, HostPlan, Interface, LabPlan, Router, namespace_name
from lab.errors import LabError
from lab.placement import zone_gateways_of

NODE = "dr"
ZONE = "dr-replication"
LINK = "dr/replication"
LINE_BPS = 1_000_000_000
# Lab-only (lab/addressing.py keeps 198.19.255.0/24 and 2001:db8:ffff::/48 unmapped).
LINE4, LINE6 = IPv4Network("198.19.255.132/30"), IPv6Network("2001:db8:ffff:3::/126")
OOB4, OOB6 = IPv4Network("198.19.255.136/30"), IPv6Network("2001:db8:ffff:4::/126")
NMS_IF = "dr0"  # the NMS's end of the management network
FIRST_HOST = 200  # DR hosts sit high in the zone's network, clear of the city's own


def add_dr_site(estate: Estate, plan: LabPlan, count: int, amap: AddressMap) -> None:
    """Put the DR router, its line to the city, its zone and `count` hosts into `plan`."""
    if not any(z.name == ZONE for z in estate.zones):
        raise LabError(f"--dr-hosts: {estate.file} has no {ZONE} zone for the DR centre")
    nets = zone_gateways_of(estate, ZONE)
    if not nets:
        raise LabError(f"--dr-hosts: zone {ZONE} has no prefixes in {estate.file}")
    city = plan.routers[0]
    zone_if = next(i for i in city.interfaces if i.kind == "zone" and i.alias == f"zone {ZONE}")
    city.interfaces.remove(zone_if)
    router = Router(
        node=NODE,
        name=estate.sites.dr.name,
        level="dr",
        namespace=namespace_name(plan.tag, NODE),
        router_id=str(OOB4[1]),
        devices=[],
        mgmt4=[str(OOB4[1])],
        mgmt6=[str(OOB6[1])],
        credential=city.credential,
        interfaces=[
            Interface(
                "up-city",
                f"line to {city.node} (replication and backup)",
                [f"{LINE4[2]}/{LINE4.prefixlen}", f"{LINE6[2]}/{LINE6.prefixlen}"],
                "link",
                link=LINK,
                cost=10,
            ),
            zone_if,
            Interface(
                "nms",
                "DR centre management (NMS)",
                [f"{OOB4[1]}/{OOB4.prefixlen}", f"{OOB6[1]}/{OOB6.prefixlen}"],
                "oob",
            ),
        ],
    )
    city.interfaces.append(
        Interface(
            "d-dr",
            f"line to {NODE} (replication and backup)",
            [f"{LINE4[1]}/{LINE4.prefixlen}", f"{LINE6[1]}/{LINE6.prefixlen}"],
            "link",
            link=LINK,
            cost=10,
        )
    )
    plan.routers.append(router)
    plan.cables.append(
        Cable(LINK, "primary", "dr", LINE_BPS, NODE, city.node, router.namespace, "up-city",
              city.namespace, "d-dr", bfd=False)
    )  # fmt: skip
    segment = next(s for s in plan.segments if s.zone == ZONE)
    segment.router = NODE
    ports = 0
    for host in plan.hosts:  # the zone's city hosts (a backup system) move with it
        if host.segment == segment.name:
            host.router, host.port, ports = NODE, f"h{ports}", ports + 1
    net4, net6 = nets[0]
    for i in range(count):
        try:
            address4, address6 = nth_host4(net4, FIRST_HOST + i), nth_host6(net6, FIRST_HOST + i)
        except IndexError:
            raise LabError(f"--dr-hosts {count}: zone {ZONE}'s {net4} has no room") from None
        name = f"dr-h{i + 1}"
        plan.hosts.append(
            HostPlan(
                name=name,
                namespace=namespace_name(plan.tag, f"h-{name}"),
                segment=segment.name,
                router=NODE,
                port=f"h{ports + i}",
                address4=f"{amap.lab_address(address4)}/{net4.prefixlen}",
                address6=f"{amap.lab_address(address6)}/{net6.prefixlen}",
                gateway4=str(amap.lab_address(net4[1])),
                gateway6=str(amap.lab_address(net6[1])),
                zone=ZONE,
                system=None,
            )
        )


def dr_router(plan: LabPlan) -> Router | None:
    return next((r for r in plan.routers if r.node == NODE), None)


def connect_nms(plan: LabPlan) -> None:
    """The NMS's out-of-band leg to the DR router (before addresses go on)."""
    router = dr_router(plan)
    if router is not None:
        netns.veth(router.namespace, "nms", plan.nms_namespace, NMS_IF)


def route_nms(plan: LabPlan) -> None:
    """The NMS reaches the DR zone over its management leg, not the line."""
    router = dr_router(plan)
    if router is None:
        return
    segment = next(s for s in plan.segments if s.zone == ZONE)
    zone_if = next(i for i in router.interfaces if i.name == segment.bridge)
    routes = [
        f"route add {ip_network(a, strict=False)} via {OOB6[1] if ':' in a else OOB4[1]}"
        for a in zone_if.addresses
    ]
    netns.ip_batch(
        plan.nms_namespace,
        [
            f"addr add {OOB4[2]}/{OOB4.prefixlen} dev {NMS_IF}",
            f"addr add {OOB6[2]}/{OOB6.prefixlen} dev {NMS_IF} nodad",
            f"link set {NMS_IF} up",
            *routes,
        ],
    )
