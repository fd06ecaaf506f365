"""From the validated spec to the `Estate` every room reads.

Checks every cross-reference and allocates every prefix; collects all
problems before failing so the user fixes the file in one pass.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

from estate.addressing import (
    Allocation,
    ZoneLookup,
    find_clashes,
    first_slot,
    nth_host4,
    nth_host6,
)
from estate.allocator import Planner, lan_of
from estate.declared import Declarations
from estate.errors import EstateError, Problem
from estate.extranet_hosts import Hosts
from estate.isolation import IsolationRule, parse_service
from estate.model import (
    Device,
    DrClass,
    DrPlan,
    Estate,
    Link,
    LinkEnd,
    Node,
    Zone,
)
from estate.schema import EstateSpec
from estate.source import SourceDoc
from estate.spec_types import Level
from estate.tenancy import Tenancy
from estate.topology import PlannedNode, expand
from estate.uplink_rules import UplinkRules

Path = tuple[str | int, ...]


class _Builder:
    def __init__(self, spec: EstateSpec, source: SourceDoc) -> None:
        self.spec = spec
        self.source = source
        self.problems: list[Problem] = []
        self.planner = Planner(spec.address_plan, self.report)
        self.zone_allocs: dict[str, Allocation] = {}
        self.ports: dict[tuple[str, str], str] = {}  # (device, ifName) -> link id
        self.declared = Declarations(self.report)
        self.hosts = Hosts(self.report)
        self.uplinks = UplinkRules(spec.extranet, self.report)

    def report(self, path: Path, message: str) -> None:
        self.problems.append(self.source.problem(path, message))

    def build(self) -> Estate:
        spec = self.spec
        zones = self._zones()
        isolation = self._isolation({z.name for z in zones})
        self._credentials()
        nodes, links = self._extranet()
        tenants = Tenancy(self.spec, self.planner, self.zone_allocs, self.report).build(zones)
        sensors = self.declared.sensors(spec.monitoring.sensors, {n.id for n in nodes})
        dr = DrPlan(
            {
                name: DrClass(
                    name,
                    c.rpo_s,
                    c.rto_s,
                    c.method,
                    ()
                    if c.retention is None
                    else tuple((k, n) for k, n in c.retention.model_dump().items() if n),
                )
                for name, c in spec.dr.classes.items()
            },
            spec.dr.drill_interval_s,
        )
        for ref in self.planner.unused_overrides():
            self.report(
                ("address_plan", "overrides", ref),
                "no allocation by that name (expected kind:key, e.g. zone:management, county:hl, tenant:gaj/gov-extranet)",
            )
        for clash in find_clashes(self.planner.allocations):
            culprit = clash.first if clash.first.override else clash.second
            where: Path = (
                ("address_plan", "overrides", culprit.ref)
                if culprit.override
                else ("address_plan",)
            )
            self.report(where, f"{clash.first.ref} and {clash.second.ref} clash: {clash.reason}")
        if self.problems:
            raise EstateError(self.problems)
        return Estate(
            file=self.source.file,
            city=spec.city,
            sites=spec.sites,
            zones=tuple(zones),
            isolation=tuple(isolation),
            tenants=tuple(tenants),
            monitoring=spec.monitoring,
            dr=dr,
            owed={str(k): v for k, v in spec.extranet.owed_bandwidth.items()},
            _nodes=tuple(nodes),
            _links=tuple(links),
            _allocations=tuple(self.planner.allocations),
            _zone_lookup=self._zone_lookup(zones),
            sensors=sensors,
            ansible=spec.extranet.ansible,
        )

    # --- zones and the isolation matrix --------------------------------------

    def _zones(self) -> list[Zone]:
        zones: list[Zone] = []
        seen: set[str] = set()
        for i, z in enumerate(self.spec.zones):
            path: Path = ("zones", i)
            if z.name in seen:
                self.report((*path, "name"), f"duplicate zone {z.name!r}")
                continue
            seen.add(z.name)
            prefix4: IPv4Network | None = None
            prefix6: IPv6Network | None = None
            if z.kind != "internet":
                alloc = self.planner.slot(
                    "zone",
                    z.name,
                    self.planner.regions["cloud"],
                    self.spec.address_plan.split.zones,
                    i,
                    path,
                )
                if alloc is not None:
                    self.zone_allocs[z.name] = alloc
                    prefix4, prefix6 = alloc.ipv4, alloc.ipv6
            dhcp = self.declared.dhcp_servers(
                path, z.dhcp_servers, prefix4, prefix6, f"zone {z.name!r}"
            )
            zones.append(Zone(z.name, z.kind, z.description, z.ipv6_mode, prefix4, prefix6, dhcp))
        for kind in ("internet", "extranet"):
            if sum(1 for z in zones if z.kind == kind) > 1:
                self.report(("zones",), f"expected at most one zone of kind {kind}")
        return zones

    def _isolation(self, zone_names: set[str]) -> list[IsolationRule]:
        rules = []
        for i, rule in enumerate(self.spec.isolation):
            path: Path = ("isolation", i)
            for key, value in (("from", rule.src), ("to", rule.dst)):
                if value != "*" and value not in zone_names:
                    self.report(
                        (*path, key), f"no zone {value!r} (zones: {', '.join(sorted(zone_names))})"
                    )
            if rule.src == rule.dst and rule.src != "*":
                self.report(path, "a zone needs no rule to reach itself")
            services = []
            for j, text in enumerate(rule.allow):
                try:
                    services.append(parse_service(text))
                except ValueError as exc:
                    self.report((*path, "allow", j), str(exc))
            rules.append(IsolationRule(rule.src, rule.dst, tuple(services), rule.reason))
        return rules

    def _credentials(self) -> None:
        mon = self.spec.monitoring
        for name, cred in mon.credentials.items():
            if cred.version == 2 and not mon.allow_v2c:
                self.report(
                    ("monitoring", "credentials", name),
                    "SNMP v2c is disabled (monitoring.allow_v2c: false); use v3 authPriv or allow v2c explicitly",
                )
        if mon.default_credential is not None and mon.default_credential not in mon.credentials:
            self.report(
                ("monitoring", "default_credential"), f"no credential {mon.default_credential!r}"
            )

    # --- the extranet -----------------------------------------------------------

    def _extranet(self) -> tuple[list[Node], list[Link]]:
        planned = expand(self.spec.extranet, self.report)
        self.uplinks.check_owed({pn.spec.level for pn in planned})
        split = self.spec.address_plan.split
        child_bits: dict[Level, int | None] = {
            "city": split.counties,
            "county": split.townships,
            "township": split.villages,
            "village": None,
        }
        blocks: dict[str, Allocation] = {}
        link_blocks: dict[str, Allocation] = {}
        nodes: dict[str, Node] = {}
        links: list[Link] = []
        for pn in planned:
            spec = pn.spec
            block = self._node_block(pn, blocks, link_blocks)
            if block is None:
                continue
            blocks[spec.id] = block
            lan = self._lan(pn, block, child_bits[spec.level])
            if lan is None:
                continue
            lan4, lan6 = lan
            devices = self._devices(pn, lan4, lan6)
            hosts = self.hosts.of_node(spec.id, spec.hosts, pn.path, lan4, lan6, devices)
            dhcp = self.declared.dhcp_servers(
                pn.path, spec.dhcp_servers, lan4, lan6, "this node's LAN"
            )
            nodes[spec.id] = Node(
                spec.id, spec.name, spec.level, spec.parent, pn.county, pn.township,
                devices, lan4, lan6, dhcp, spec.ipv6_mode, hosts,
            )  # fmt: skip
            if spec.parent in nodes:
                links.extend(self._uplinks(pn, nodes[spec.id], nodes[spec.parent], link_blocks))
        self.hosts.check_names(set(nodes))
        return list(nodes.values()), links

    def _lan(
        self, pn: PlannedNode, block: Allocation, bits: int | None
    ) -> tuple[IPv4Network, IPv6Network] | None:
        """The node's LAN, or None (reported) when its block is too small to cut for it."""
        split = self.spec.address_plan.split
        if pn.spec.level == "city":
            # The city's LAN is cut from its own core block, slot 0 of the counties' cut.
            try:
                block = first_slot(block, split.counties)
            except ValueError:
                self._too_small(pn, block, "counties")
                return None
            bits = split.townships
        try:
            return lan_of(block, bits)
        except ValueError:
            self._too_small(pn, block, "villages" if pn.spec.level == "township" else "townships")
            return None

    def _too_small(self, pn: PlannedNode, block: Allocation, field: str) -> None:
        # Blame what made the block small: its override, else the split.
        where: Path = (
            ("address_plan", "overrides", block.ref)
            if block.override
            else ("address_plan", "split", field)
        )
        self.report(
            where,
            f"{block.ref} ({block.ipv4}, {block.ipv6}) is too small to cut by "
            f"address_plan.split.{field} for the LAN of node {pn.spec.id!r}; "
            "expected a larger prefix or a smaller split",
        )

    def _node_block(
        self, pn: PlannedNode, blocks: dict[str, Allocation], link_blocks: dict[str, Allocation]
    ) -> Allocation | None:
        spec, split, planner = pn.spec, self.spec.address_plan.split, self.planner
        if spec.level == "city":
            region = planner.regions["extranet"]
            city = Allocation("city", spec.id, region.ipv4, region.ipv6, region.ref)
            planner.allocations.append(city)
            return city
        parent = blocks.get(spec.parent or "")
        if parent is None:
            return None
        bits = {"county": split.counties, "township": split.townships, "village": split.villages}[
            spec.level
        ]
        alloc = planner.slot(spec.level, spec.id, parent, bits, pn.index, pn.path)
        if alloc is None:
            return None
        planner.check_lan6(alloc, pn.path)
        if spec.level == "county":
            lb = planner.slot(
                "links", spec.id, planner.regions["links"], split.counties, pn.index, pn.path
            )
        elif spec.level == "township" and spec.parent in link_blocks:
            lb = planner.slot(
                "links", spec.id, link_blocks[spec.parent], split.townships, pn.index, pn.path
            )
        else:
            lb = None
        if lb is not None:
            link_blocks[spec.id] = lb
        return alloc

    def _devices(self, pn: PlannedNode, lan4: IPv4Network, lan6: IPv6Network) -> tuple[Device, ...]:
        mon = self.spec.monitoring
        devices = []
        generated = pn.path[-1] == "villages"  # a village block: errors point at the block
        paths = [
            pn.path if generated else (*pn.path, "devices", j) for j in range(len(pn.spec.devices))
        ]
        declared = self.declared.devices(pn.spec, paths)
        for j, (d, path) in enumerate(zip(pn.spec.devices, paths, strict=True)):
            credential = d.credential or mon.default_credential
            if credential is None:
                self.report(
                    path, "no SNMP credential: set credential here or monitoring.default_credential"
                )
                credential = ""
            elif credential not in mon.credentials:
                self.report(
                    (*path, "credential"), f"no credential {credential!r} in monitoring.credentials"
                )
            try:
                mgmt4 = d.mgmt_ipv4 or nth_host4(lan4, 1 + j)
                mgmt6 = d.mgmt_ipv6 or nth_host6(lan6, 1 + j)
            except IndexError:
                self.report(path, f"no room for device {d.name!r} in LAN {lan4}")
                continue
            identity = (d.name, pn.spec.id, d.model, d.model.split("-", 1)[0])  # vendor-model
            engine_id = bytes.fromhex(d.engine_id.removeprefix("0x")) if d.engine_id else None
            devices.append(
                Device(*identity, mgmt4, mgmt6, credential, *declared[j], engine_id=engine_id)
            )
        return tuple(devices)

    def _uplinks(
        self, pn: PlannedNode, child: Node, parent: Node, link_blocks: dict[str, Allocation]
    ) -> list[Link]:
        # A county's and a township's own uplinks take the first pairs of their
        # link block; a village's take pairs 2k, 2k+1 of its township's block.
        if child.level == "village":
            block, base = link_blocks.get(parent.id), 2 * pn.index
        else:
            block, base = link_blocks.get(child.id), 0
        if block is None or not child.devices or not parent.devices:
            return []
        out = []
        for k, uplink in enumerate(pn.spec.uplinks):
            nets = self.planner.p2p(block, base + (0 if uplink.role == "primary" else 1))
            if nets is None:
                self.report((*pn.path, "uplinks", k), f"no room for this link in {block.ref}")
                continue
            net4, net6 = nets
            child_dev = uplink.device or child.devices[0].name
            parent_dev = uplink.parent_device or parent.devices[0].name
            link_id = f"{child.id}/{uplink.role}"
            for device, ifname, key in (
                (child_dev, uplink.interface, "interface"),
                (parent_dev, uplink.parent_interface, "parent_interface"),
            ):
                other = self.ports.setdefault((device, ifname), link_id)
                if other != link_id:
                    self.report(
                        (*pn.path, "uplinks", k, key) if pn.path[-1] != "villages" else pn.path,
                        f"{device} {ifname} already carries link {other}",
                    )
            out.append(
                Link(
                    id=link_id,
                    child=child.id,
                    parent=parent.id,
                    level=child.level,
                    role=uplink.role,
                    # 0 only when _check_owed has already reported the missing level.
                    bandwidth_bps=uplink.bandwidth
                    or self.spec.extranet.owed_bandwidth.get(child.level, 0),  # type: ignore[arg-type]
                    child_end=LinkEnd(child_dev, uplink.interface, net4[1], net6[1]),
                    parent_end=LinkEnd(parent_dev, uplink.parent_interface, net4[0], net6[0]),
                    net4=net4,
                    net6=net6,
                    county=child.county,
                    township=child.township,
                    cost=self.uplinks.cost(uplink),
                    bfd=self.uplinks.bfd(uplink, child.level),
                )
            )
        self.uplinks.check_costs(pn)
        return out

    def _zone_lookup(self, zones: list[Zone]) -> ZoneLookup:
        extranet = next((z.name for z in zones if z.kind == "extranet"), None)
        internet = next((z.name for z in zones if z.kind == "internet"), None)
        plan = self.spec.address_plan
        entries: list[tuple[IPv4Network | IPv6Network, str | None]] = [
            (plan.ipv4, None),
            (plan.ipv6, None),
        ]
        for a in self.planner.allocations:
            # Regions cover the extranet's nodes and links; only overridden node
            # prefixes can sit elsewhere. Keeping the list short keeps zone_of
            # cheap for the packet sensors.
            zone: str | None
            if a.kind == "zone":
                zone = a.key
            elif (a.kind == "region" and a.key in ("links", "extranet")) or (
                a.override and a.kind in ("county", "township", "village", "links")
            ):
                zone = extranet
            else:
                continue
            entries += [(a.ipv4, zone), (a.ipv6, zone)]
        return ZoneLookup(entries, internet)


def build(spec: EstateSpec, source: SourceDoc) -> Estate:
    return _Builder(spec, source).build()
