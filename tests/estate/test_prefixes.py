"""The one longest-prefix match against the obvious linear scan."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_network

from hypothesis import given
from hypothesis import strategies as st

from estate.addressing import ZoneLookup
from estate.prefixes import PrefixMap

prefixes = st.builds(
    lambda address, length: ip_network(f"{IPv4Address(address)}/{length}", strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
entries = st.lists(st.tuples(prefixes, st.sampled_from(["cloud", "extranet", None])), max_size=30)


def linear(
    table: list[tuple[IPv4Network, str | None]], address: IPv4Address
) -> tuple[bool, str | None]:
    held = [(net, zone) for net, zone in table if address in net]
    if not held:
        return False, None
    longest = max(net.prefixlen for net, _ in held)
    return True, next(zone for net, zone in held if net.prefixlen == longest)


@given(entries, st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_zone_of_is_the_longest_prefix_or_outside(
    table: list[tuple[IPv4Network, str | None]], numbers: list[int]
) -> None:
    lookup = ZoneLookup(table, outside="internet")
    probes = [IPv4Address(n) for n in numbers] + [net.network_address for net, _ in table]
    for address in probes:
        held, zone = linear(table, address)
        assert lookup.zone_of(address) == (zone if held else "internet")


@given(entries, st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_prefix_map_answers_like_a_scan(
    table: list[tuple[IPv4Network, str | None]], numbers: list[int]
) -> None:
    named = [(net, zone or "none") for net, zone in table]
    prefix_map: PrefixMap[str] = PrefixMap(named)
    for address in [IPv4Address(n) for n in numbers]:
        held, zone = linear(list(named), address)
        assert prefix_map.lookup(address.packed) == (zone if held else None)
