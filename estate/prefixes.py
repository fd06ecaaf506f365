"""The one longest-prefix match: over raw address bytes, cached per address.

Zones, node LANs and the address plan are a few thousand prefixes; the
estate's `zone_of` (used by infra, security's context and the sensor) and
the sensor's own segment maps (and the poller, for the local interface of
an OSPF neighbour) ask "which prefix holds this address" once per new
address, so a dict per prefix length (longest first) is both simple and
fast enough.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PrefixMap(Generic[V]):
    def __init__(self, entries: Iterable[tuple[Network, V]] = ()) -> None:
        # (version, prefixlen) -> {network int: value}
        self._tables: dict[tuple[int, int], dict[int, V]] = {}
        self._order: list[tuple[int, int]] = []
        self._cache: dict[bytes, V | None] = {}
        for network, value in entries:
            self.add(network, value)

    def add(self, network: Network, value: V) -> None:
        self.add_number(network.version, network.prefixlen, int(network.network_address), value)

    def add_number(self, version: int, prefixlen: int, number: int, value: V) -> None:
        """`add` for a network given as numbers (a compiled policy stores them so)."""
        table = self._tables.get((version, prefixlen))
        if table is None:
            table = self._tables[(version, prefixlen)] = {}
            self._order = sorted(self._tables, key=lambda k: (k[0], -k[1]))
        table.setdefault(number, value)
        self._cache = {}

    def entries(self) -> Iterator[tuple[int, int, int, V]]:
        """Every (version, prefixlen, network number, value), for `add_number`."""
        for (version, prefixlen), table in self._tables.items():
            for number, value in table.items():
                yield version, prefixlen, number, value

    def lookup(self, address: bytes) -> V | None:
        """The value of the longest prefix holding `address` (raw 4 or 16 bytes)."""
        try:
            return self._cache[address]
        except KeyError:
            pass
        version = 4 if len(address) == 4 else 6
        bits = 32 if version == 4 else 128
        number = int.from_bytes(address, "big")
        found: V | None = None
        for table_version, prefixlen in self._order:
            if table_version != version:
                continue
            host_bits = bits - prefixlen
            key = (number >> host_bits) << host_bits
            value = self._tables[(table_version, prefixlen)].get(key)
            if value is not None:
                found = value
                break
        if len(self._cache) > 1 << 20:
            self._cache.clear()
        self._cache[address] = found
        return found

    def __contains__(self, address: bytes) -> bool:
        return self.lookup(address) is not None

    def __bool__(self) -> bool:
        return bool(self._tables)
