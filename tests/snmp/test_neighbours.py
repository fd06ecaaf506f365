"""OSPFv2 neighbours find their local interface through the device's own
ipAddrTable, by the longest prefix (estate.prefixes.PrefixMap)."""

from __future__ import annotations

from ipaddress import IPv4Address

from monitors.snmp import tables
from monitors.snmp.ber import Oid, Value


def _address_rows(*entries: tuple[str, str, int]) -> dict[Oid, dict[Oid, Value]]:
    """ipAddrTable rows as the walker returns them: address -> ifIndex, netmask."""
    if_index: dict[Oid, Value] = {}
    mask: dict[Oid, Value] = {}
    for address, netmask, index in entries:
        row = tuple(int(part) for part in address.split("."))
        if_index[row] = index
        mask[row] = IPv4Address(netmask).packed
    return {tables.IP_AD_ENT_IF_INDEX: if_index, tables.IP_AD_ENT_NET_MASK: mask}


def _neighbour(address: str, state: int) -> tuple[Oid, Value]:
    return (*(int(part) for part in address.split(".")), 0), state


def test_a_link_inside_a_covering_lan_wins_and_a_stranger_has_no_interface() -> None:
    columns = _address_rows(
        ("198.18.0.1", "255.255.0.0", 2),  # the covering LAN, listed first
        ("198.18.4.0", "255.255.255.254", 7),  # the /31 primary link
        ("198.18.4.2", "255.255.255.254", 8),  # the /31 backup link
    )
    neighbours = ["198.18.4.1", "198.18.4.3", "198.18.9.9", "198.19.0.1"]
    columns[tables.OSPF_NBR_STATE] = dict(
        _neighbour(a, 2 if a == "198.18.4.3" else 8) for a in neighbours
    )
    columns[tables.OSPFV3_NBR_STATE] = {(5, 0, 0x0A000001): tables.OSPF_FULL}
    found = {(n.version, n.key): (n.if_index, n.state) for n in tables.build_neighbours(columns)}
    assert found == {
        (2, "198.18.4.1"): (7, tables.OSPF_FULL),
        (2, "198.18.4.3"): (8, 2),
        (2, "198.18.9.9"): (2, tables.OSPF_FULL),  # only the LAN holds it
        (2, "198.19.0.1"): (None, tables.OSPF_FULL),  # no local subnet holds it
        (3, "10.0.0.1"): (5, tables.OSPF_FULL),  # OSPFv3 names its ifIndex itself
    }


def test_a_row_with_a_bad_mask_is_passed_over() -> None:
    columns = _address_rows(("198.18.4.0", "255.255.255.254", 7))
    columns[tables.IP_AD_ENT_NET_MASK][(198, 18, 4, 0)] = b"\xff\x00\xff\x00"  # not contiguous
    columns[tables.OSPF_NBR_STATE] = dict([_neighbour("198.18.4.1", tables.OSPF_FULL)])
    assert [n.if_index for n in tables.build_neighbours(columns)] == [None]
