"""Estate addresses -> lab addresses, deterministically.

The estate plans real space (a 10.x supernet, a real-looking /48); the lab
may only use 198.18.0.0/15 and 2001:db8::/32. Two rules, both deterministic:

* **offset** — when the estate's plan fits (IPv4 /16 or smaller, IPv6 /33 or
  smaller), an address keeps its offset inside the plan:
  10.20.3.7 in 10.20.0.0/16 -> 198.18.3.7; 2001:da8:1234:5::1 in its /48 ->
  2001:db8:0:5::1. Independent of the slice, so other rooms can translate any
  estate address without a running lab.
* **packed** — a larger plan (a whole 10/8) cannot fit: the networks the
  slice uses are laid out one after another, aligned, in estate order. Same
  estate and same slice give the same addresses.

198.19.255.0/24 and 2001:db8:ffff::/48 are never mapped onto: the lab keeps
them for segments the estate does not address (the internet zone, the NMS).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    collapse_addresses,
    ip_address,
    ip_network,
)
from typing import Any

from lab.errors import LabError

LAB4 = IPv4Network("198.18.0.0/15")
LAB6 = IPv6Network("2001:db8::/32")
LAB_ONLY4 = IPv4Network("198.19.255.0/24")
LAB_ONLY6 = IPv6Network("2001:db8:ffff::/48")
# Lab-only segments, carved from the reserved blocks.
INTERNET4 = IPv4Network("198.19.255.0/26")
INTERNET6 = IPv6Network("2001:db8:ffff:1::/64")
NMS4 = IPv4Network("198.19.255.128/30")
NMS6 = IPv6Network("2001:db8:ffff:2::/126")

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class _Block:
    """One estate network placed at one lab network of the same size."""

    estate: Network
    lab: Network


@dataclass
class AddressMap:
    """Translates estate addresses and networks into the lab's test ranges."""

    plan4: IPv4Network
    plan6: IPv6Network
    blocks: list[_Block] = field(default_factory=list)  # only in packed mode

    @property
    def mode4(self) -> str:
        return "offset" if self.plan4.prefixlen >= 16 else "packed"

    @property
    def mode6(self) -> str:
        return "offset" if self.plan6.prefixlen >= 33 else "packed"

    @classmethod
    def build(
        cls, plan4: IPv4Network, plan6: IPv6Network, used: Iterable[Network] = ()
    ) -> AddressMap:
        """`used`: every estate network the slice will place (ignored in offset mode)."""
        amap = cls(plan4, plan6)
        used = list(used)
        if amap.mode4 == "packed":
            amap.blocks += _pack([n for n in used if n.version == 4], LAB4, LAB_ONLY4)
        if amap.mode6 == "packed":
            amap.blocks += _pack([n for n in used if n.version == 6], LAB6, LAB_ONLY6)
        return amap

    def lab_address(self, estate_address: str | Address) -> Address:
        """The lab address standing in for an estate address."""
        addr = ip_address(estate_address) if isinstance(estate_address, str) else estate_address
        if isinstance(addr, IPv4Address):
            if self.mode4 == "offset":
                return IPv4Address(int(LAB4.network_address) + self._offset(addr, self.plan4))
        elif self.mode6 == "offset":
            return IPv6Address(int(LAB6.network_address) + self._offset(addr, self.plan6))
        for block in self.blocks:
            if addr.version == block.estate.version and addr in block.estate:
                offset = int(addr) - int(block.estate.network_address)
                return ip_address(int(block.lab.network_address) + offset)
        raise LabError(f"{addr} is not in the lab's slice of the address plan")

    def lab_network(self, estate_network: str | Network) -> Network:
        net = ip_network(estate_network) if isinstance(estate_network, str) else estate_network
        first = self.lab_address(net.network_address)
        return ip_network(f"{first}/{net.prefixlen}")

    def lab_interface(self, estate_address: Address, network: Network) -> str:
        """`address/prefixlen` for `ip addr add`, in lab space."""
        return f"{self.lab_address(estate_address)}/{network.prefixlen}"

    @staticmethod
    def _offset(addr: Address, plan: Network) -> int:
        if addr not in plan:
            raise LabError(f"{addr} is outside the estate's address plan {plan}")
        return int(addr) - int(plan.network_address)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan4": str(self.plan4),
            "plan6": str(self.plan6),
            "blocks": [[str(b.estate), str(b.lab)] for b in self.blocks],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AddressMap:
        return cls(
            IPv4Network(raw["plan4"]),
            IPv6Network(raw["plan6"]),
            [_Block(ip_network(e), ip_network(lab)) for e, lab in raw.get("blocks", [])],
        )


def _pack(used: list[Network], space: Network, reserved: Network) -> list[_Block]:
    """Lay the used networks out in estate order, each aligned to its size."""
    blocks: list[_Block] = []
    cursor = int(space.network_address)
    end = int(reserved.network_address)  # the reserved block sits at the top of the space
    for net in collapse_addresses(used):  # type: ignore[type-var]
        size = net.num_addresses
        cursor = (cursor + size - 1) // size * size
        if cursor + size > end:
            raise LabError(
                f"the slice needs more than {space}: choose fewer counties, townships or villages"
            )
        blocks.append(_Block(net, ip_network(f"{ip_address(cursor)}/{net.prefixlen}")))
        cursor += size
    return blocks


def lab_address(estate_address: str | Address, address_map: AddressMap | None = None) -> Address:
    """Translate one estate address; without a map, the running lab's map is used."""
    if address_map is None:
        from lab.state import LabState, lab_dir

        state = LabState.load(lab_dir())
        if not state.plan:
            raise LabError("no lab is up: pass an AddressMap or run `yunwang lab up` first")
        address_map = AddressMap.from_dict(state.plan["addresses"])
    return address_map.lab_address(estate_address)
