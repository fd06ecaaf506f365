"""Allocating the address plan for zones, tenants, nodes and links."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network

from estate.addressing import Allocation, first_64, nth_subnet, regions
from estate.schema import AddressPlan

Path = tuple[str | int, ...]
Report = Callable[[Path, str], None]


class Planner:
    """Hands out slots; remembers every allocation for the clash check."""

    def __init__(self, plan: AddressPlan, report: Report) -> None:
        self.plan = plan
        self.report = report
        self.regions = regions(plan.ipv4, plan.ipv6)
        self.allocations: list[Allocation] = list(self.regions.values())
        self.used_overrides: set[str] = set()

    def slot(
        self,
        kind: str,
        key: str,
        parent: Allocation,
        bits: int,
        index: int,
        path: Path,
    ) -> Allocation | None:
        """Slot `index` of `parent` cut by `bits`, unless an override pins it."""
        ref = f"{kind}:{key}"
        override = self.plan.overrides.get(ref)
        try:
            net4 = nth_subnet(parent.ipv4, bits, index)
            net6 = nth_subnet(parent.ipv6, bits, index)
        except (IndexError, ValueError) as exc:
            if override is None or override.ipv4 is None or override.ipv6 is None:
                # ValueError: the parent is too small to cut at all, whatever the index.
                room = (
                    f"holds {1 << bits} slots (address_plan.split), this would be number {index + 1}"
                    if isinstance(exc, IndexError)
                    else f"({parent.ipv4}, {parent.ipv6}) is too small to cut into "
                    f"{1 << bits} slots (address_plan.split)"
                )
                self.report(path, f"no room for {ref}: {parent.ref} {room}")
                return None
            net4, net6 = override.ipv4, override.ipv6
        pinned = False
        if override is not None:
            self.used_overrides.add(ref)
            net4 = override.ipv4 or net4
            net6 = override.ipv6 or net6
            pinned = True
        alloc = Allocation(kind, key, net4, net6, parent.ref, pinned)
        self.allocations.append(alloc)
        return alloc

    def p2p(self, block: Allocation, index: int) -> tuple[IPv4Network, IPv6Network] | None:
        """The `index`-th point-to-point pair (/31, /127) in a link block."""
        try:
            return (
                nth_subnet(block.ipv4, 31 - block.ipv4.prefixlen, index),
                nth_subnet(block.ipv6, 127 - block.ipv6.prefixlen, index),
            )
        except (IndexError, ValueError):
            return None

    def check_lan6(self, alloc: Allocation, path: Path) -> None:
        if alloc.ipv6.prefixlen > 64:
            self.report(
                path,
                f"{alloc.ref} would get IPv6 /{alloc.ipv6.prefixlen}; LANs need /64 for SLAAC "
                f"(lower address_plan.split or use a larger IPv6 prefix)",
            )

    def unused_overrides(self) -> list[str]:
        return [ref for ref in self.plan.overrides if ref not in self.used_overrides]


def lan_of(alloc: Allocation, bits: int | None) -> tuple[IPv4Network, IPv6Network]:
    """A node's own LAN: slot 0 of its block (or the whole block for a leaf)."""
    if bits is None:
        return alloc.ipv4, first_64(alloc.ipv6)
    return nth_subnet(alloc.ipv4, bits, 0), first_64(nth_subnet(alloc.ipv6, bits, 0))
