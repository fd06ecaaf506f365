"""The city's address plan: deterministic, dual-stack, overlap-free allocation.

The IPv4 supernet and the IPv6 /48 are each cut the same way:

    first quarter   cloud    -> one slot per zone   -> one slot per tenant (by tenant order)
    second quarter  links    -> one block per county -> /31 and /127 per link, in link order
    second half     extranet -> city core + one slot per county -> townships -> villages

A slot's index is its item's position in the file, so appending a tenant,
county or village never renumbers what already exists; inserting in the
middle does, which is what `overrides` are for (pin a prefix by
`kind:key`, e.g. `county:hl`). Children of an overridden prefix are cut
from the override.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from itertools import pairwise
from typing import TypeVar

from estate.prefixes import PrefixMap

Net = TypeVar("Net", IPv4Network, IPv6Network)


@dataclass(frozen=True)
class Allocation:
    """One named prefix pair of the plan (`kind` zone|tenant|city|county|township|village|links|region)."""

    kind: str
    key: str
    ipv4: IPv4Network
    ipv6: IPv6Network
    parent: str | None = None
    override: bool = False

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.key}"


def nth_subnet(parent: Net, bits: int, index: int) -> Net:
    """The `index`-th of the 2**bits equal subnets of `parent`, without enumerating them."""
    new_len = parent.prefixlen + bits
    if new_len > parent.max_prefixlen:
        raise ValueError(f"{parent} cannot be cut into 2^{bits} parts")
    if not 0 <= index < (1 << bits):
        raise IndexError(f"{parent} has only {1 << bits} slots of /{new_len}, needed slot {index}")
    step = 1 << (parent.max_prefixlen - new_len)
    return type(parent)((int(parent.network_address) + index * step, new_len))


def first_slot(block: Allocation, bits: int) -> Allocation:
    """Slot 0 of a block split `bits` further, as an allocation (the city's own core block)."""
    return Allocation(
        block.kind, block.key, nth_subnet(block.ipv4, bits, 0), nth_subnet(block.ipv6, bits, 0)
    )


def nth_host4(net: IPv4Network, index: int) -> IPv4Address:
    if index >= net.num_addresses:
        raise IndexError(f"{net} has no address number {index}")
    return IPv4Address(int(net.network_address) + index)


def nth_host6(net: IPv6Network, index: int) -> IPv6Address:
    if index >= net.num_addresses:
        raise IndexError(f"{net} has no address number {index}")
    return IPv6Address(int(net.network_address) + index)


def first_64(net: IPv6Network) -> IPv6Network:
    """IPv6 LANs are /64 (SLAAC needs it) whatever the slot size."""
    return IPv6Network((net.network_address, 64)) if net.prefixlen <= 64 else net


def regions(ipv4: IPv4Network, ipv6: IPv6Network) -> dict[str, Allocation]:
    def cut(
        net4: IPv4Network, net6: IPv6Network, bits: int, index: int
    ) -> tuple[IPv4Network, IPv6Network]:
        return nth_subnet(net4, bits, index), nth_subnet(net6, bits, index)

    cloud = cut(ipv4, ipv6, 2, 0)
    links = cut(ipv4, ipv6, 2, 1)
    extranet = cut(ipv4, ipv6, 1, 1)
    return {
        "cloud": Allocation("region", "cloud", *cloud),
        "links": Allocation("region", "links", *links),
        "extranet": Allocation("region", "extranet", *extranet),
    }


@dataclass(frozen=True)
class Clash:
    first: Allocation
    second: Allocation
    reason: str


def find_clashes(allocations: Iterable[Allocation]) -> list[Clash]:
    """Siblings that overlap, and children that left their parent's prefix.

    Sorting siblings once makes this O(n log n): the full city has thousands
    of village prefixes.
    """
    by_ref = {}
    children: dict[str | None, list[Allocation]] = defaultdict(list)
    for alloc in allocations:
        by_ref[alloc.ref] = alloc
        children[alloc.parent].append(alloc)
    clashes: list[Clash] = []
    for parent_ref, siblings in children.items():
        parent = by_ref.get(parent_ref) if parent_ref else None
        for family in ("ipv4", "ipv6"):
            ordered = sorted(siblings, key=lambda a: getattr(a, family).network_address)
            for a, b in pairwise(ordered):
                if getattr(a, family).overlaps(getattr(b, family)):
                    clashes.append(
                        Clash(a, b, f"{getattr(a, family)} overlaps {getattr(b, family)}")
                    )
            if parent is None:
                continue
            for child in siblings:
                if not getattr(child, family).subnet_of(getattr(parent, family)):
                    clashes.append(
                        Clash(
                            child,
                            parent,
                            f"{getattr(child, family)} is outside {getattr(parent, family)}",
                        )
                    )
    return clashes


# (IP version, prefix length, network number, zone or None for no zone)
ZoneEntry = tuple[int, int, int, str | None]


class ZoneLookup:
    """Address -> zone name, for sensors and flow checks (hot path: keep it cheap)."""

    def __init__(
        self, entries: Iterable[tuple[IPv4Network | IPv6Network, str | None]], outside: str | None
    ) -> None:
        # The longest prefix wins, so an override inside a region does; an
        # entry mapping to None marks in-plan space that belongs to no zone
        # (wrapped in a tuple: PrefixMap's None means "no prefix holds it").
        self._prefixes: PrefixMap[tuple[str | None]] = PrefixMap(
            (network, (zone,)) for network, zone in entries
        )
        self._outside = outside
        self._cache: dict[str, str | None] = {}

    def zone_of(self, address: str | bytes | IPv4Address | IPv6Address) -> str | None:
        """The zone holding `address`; raw bytes (4 or 16, the packet sensor's
        form) skip the text round trip, and the prefix map caches them."""
        if isinstance(address, bytes):
            hit = self._prefixes.lookup(address)
            return self._outside if hit is None else hit[0]
        key = str(address)
        if key in self._cache:
            return self._cache[key]
        hit = self._prefixes.lookup(ip_address(key).packed)
        found = self._outside if hit is None else hit[0]
        if len(self._cache) < 1_000_000:
            self._cache[key] = found
        return found

    def table(self) -> tuple[list[ZoneEntry], str | None]:
        """The lookup as numbers (a compiled sensor policy stores it; `from_table`)."""
        entries = [(v, length, n, zone[0]) for v, length, n, zone in self._prefixes.entries()]
        return entries, self._outside

    @classmethod
    def from_table(cls, entries: Iterable[ZoneEntry], outside: str | None) -> ZoneLookup:
        lookup = cls((), outside)
        for version, prefixlen, number, zone in entries:
            lookup._prefixes.add_number(version, prefixlen, number, (zone,))
        return lookup
