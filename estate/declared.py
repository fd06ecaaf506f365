"""What a LAN declares beyond its prefixes: who answers on it.

The packet sensors compare the wire against these facts: the MACs a device
answers with on its node's LAN (a gateway's own MAC, and a VRRP virtual MAC
its pair shares), the link-local address it sends Router Advertisements
from, the addresses allowed to answer DHCP on a node's LAN or in a zone, and
where the sensors themselves listen. Each fact is checked here against the
address plan, reported against the YAML path that declared it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from estate.model import Sensor
from estate.schema import SensorSpec
from estate.schema_extranet import NodeSpec
from estate.units import is_vrrp_mac

Path = tuple[str | int, ...]
Report = Callable[[Path, str], None]
Address = IPv4Address | IPv6Address
_LINK_LOCAL = IPv6Address("fe80::")


def default_link_local(index: int) -> IPv6Address:
    """fe80::1 for a node's first device, fe80::2 for its second, ...: the
    convention of configuring gateways' link-locals by hand so they survive a
    hardware swap (EUI-64 link-locals change with the MAC)."""
    return IPv6Address(int(_LINK_LOCAL) + index + 1)


class Declarations:
    """Checks the declarations of one estate; remembers MACs across nodes."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._mac_owner: dict[str, str] = {}

    def devices(
        self, node: NodeSpec, paths: Sequence[Path]
    ) -> list[tuple[tuple[str, ...], IPv6Address]]:
        """(LAN MACs, link-local) of each of the node's devices, in order."""
        out = []
        link_locals: dict[IPv6Address, str] = {}
        for j, (device, path) in enumerate(zip(node.devices, paths, strict=True)):
            macs: list[str] = []
            for k, mac in enumerate(device.lan_macs):
                where = (*path, "lan_macs", k)
                owner = self._mac_owner.get(mac)
                if mac in macs:
                    self.report(where, f"duplicate MAC {mac}")
                elif owner is not None and owner != device.name and not is_vrrp_mac(mac):
                    self.report(
                        where,
                        f"{mac} is already {owner}'s MAC "
                        "(only VRRP virtual MACs 00:00:5e:00:01:xx / 00:00:5e:00:02:xx are shared)",
                    )
                else:
                    self._mac_owner.setdefault(mac, device.name)
                    macs.append(mac)
            link_local = device.link_local or default_link_local(j)
            where = (*path, "link_local") if device.link_local else path
            if not link_local.is_link_local:
                self.report(where, f"expected a link-local address (fe80::/10), found {link_local}")
            elif link_local in link_locals:
                hint = "" if device.link_local else " (the default fe80::N; set link_local)"
                self.report(
                    where,
                    f"link-local {link_local} is also {link_locals[link_local]}'s on this LAN{hint}",
                )
            else:
                link_locals[link_local] = device.name
            out.append((tuple(macs), link_local))
        return out

    def dhcp_servers(
        self,
        path: Path,
        servers: Sequence[Address] | None,
        net4: IPv4Network | None,
        net6: IPv6Network | None,
        where: str,
    ) -> tuple[Address, ...] | None:
        """The declared DHCP servers/relays of a LAN or zone, each inside it.

        On a LAN it is the address that answers there that counts (a relay's,
        not the central server's); a DHCPv6 server or relay may answer from
        its link-local address.
        """
        if servers is None:
            return None
        if servers and net4 is None and net6 is None:
            self.report((*path, "dhcp_servers"), f"{where} has no prefixes to hold DHCP servers")
            return ()
        out: list[Address] = []
        for k, address in enumerate(servers):
            at = (*path, "dhcp_servers", k)
            if address in out:
                self.report(at, f"duplicate address {address}")
                continue
            if isinstance(address, IPv4Address):
                inside = net4 is not None and address in net4
            else:
                inside = address.is_link_local or (net6 is not None and address in net6)
            if not inside:
                prefix = net4 if isinstance(address, IPv4Address) else net6
                self.report(at, f"{address} is outside {where} ({prefix})")
                continue
            out.append(address)
        return tuple(out)

    def sensors(self, specs: Sequence[SensorSpec], nodes: set[str]) -> tuple[Sensor, ...]:
        out: list[Sensor] = []
        ports: dict[tuple[str, str], str] = {}
        for i, spec in enumerate(specs):
            path: Path = ("monitoring", "sensors", i)
            if any(s.name == spec.name for s in out):
                self.report((*path, "name"), f"duplicate sensor name {spec.name!r}")
                continue
            if spec.node not in nodes:
                self.report((*path, "node"), f"no node with id {spec.node!r}")
                continue
            other = ports.setdefault((spec.node, spec.interface), spec.name)
            if other != spec.name:
                self.report(
                    (*path, "interface"),
                    f"sensor {other!r} already listens on {spec.interface} at {spec.node}",
                )
                continue
            out.append(Sensor(spec.name, spec.node, spec.interface))
        return tuple(out)
