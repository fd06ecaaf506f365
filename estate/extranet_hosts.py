"""The servers the estate declares on its nodes' LANs (extranet.nodes[].hosts).

Each is checked against the address plan and reported against the YAML path
that declared it: its IPv4 address in the node's LAN and not one of the
node's devices, its planned IPv6 address (declared, or the same host number
in the LAN's IPv6 prefix) in the LAN's prefix, its name unique among hosts
and nodes (the IPv6 migration's record names both alike).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network

from estate.model import Device, ExtranetHost
from estate.schema_extranet import ExtranetHostSpec

Path = tuple[str | int, ...]
Report = Callable[[Path, str], None]


class Hosts:
    """Checks every node's hosts; remembers names across the estate."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._where: dict[str, Path] = {}  # host name -> its path

    def of_node(
        self,
        node: str,
        specs: Sequence[ExtranetHostSpec],
        path: Path,
        lan4: IPv4Network,
        lan6: IPv6Network,
        devices: Sequence[Device],
    ) -> tuple[ExtranetHost, ...]:
        taken4 = {d.mgmt4: d.name for d in devices}
        taken6 = {d.mgmt6: d.name for d in devices}
        used: dict[object, str] = {}
        out = []
        for k, spec in enumerate(specs):
            where = (*path, "hosts", k)
            if spec.name in self._where:
                self.report((*where, "name"), f"host {spec.name!r} is declared twice")
                continue
            self._where[spec.name] = where
            a4 = spec.address4
            if a4 not in lan4 or a4 in (lan4.network_address, lan4.broadcast_address):
                self.report(
                    (*where, "address4"),
                    f"expected a host address in {node}'s LAN {lan4}, found {a4}",
                )
                continue
            a6 = spec.address6 or IPv6Address(
                int(lan6.network_address) + int(a4) - int(lan4.network_address)
            )
            if a6 not in lan6:
                self.report(
                    (*where, "address6"), f"expected an address in {node}'s LAN {lan6}, found {a6}"
                )
                continue
            clash = taken4.get(a4) or taken6.get(a6) or used.get(a4) or used.get(a6)
            if clash:
                self.report(where, f"{a4} / {a6} is already {clash}'s address")
                continue
            used[a4] = used[a6] = spec.name
            out.append(ExtranetHost(spec.name, node, a4, a6))
        return tuple(out)

    def check_names(self, node_ids: set[str]) -> None:
        """A host named like a node would share its migration record."""
        for name, where in self._where.items():
            if name in node_ids:
                self.report(
                    (*where, "name"), f"{name!r} is a node's id: expected a host name of its own"
                )
