"""MIB tables the poller reads, as numeric OIDs and typed rows.

Debian ships no MIB files and MIB lookups are slow, so every object is named
here once, by number, with the MIB name beside it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address

from estate.prefixes import PrefixMap
from monitors.snmp.ber import Oid, Value, oid_from_str
from monitors.snmp.profiles import VendorProfile

SYS_DESCR = oid_from_str("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = oid_from_str("1.3.6.1.2.1.1.2.0")
SYS_UPTIME = oid_from_str("1.3.6.1.2.1.1.3.0")
SYS_NAME = oid_from_str("1.3.6.1.2.1.1.5.0")
SYSTEM_OIDS = [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME]

_IF_ENTRY = "1.3.6.1.2.1.2.2.1."
_IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1."
IF_DESCR = oid_from_str(_IF_ENTRY + "2")
IF_TYPE = oid_from_str(_IF_ENTRY + "3")
IF_SPEED = oid_from_str(_IF_ENTRY + "5")
IF_ADMIN_STATUS = oid_from_str(_IF_ENTRY + "7")
IF_OPER_STATUS = oid_from_str(_IF_ENTRY + "8")
IF_IN_OCTETS = oid_from_str(_IF_ENTRY + "10")
IF_IN_DISCARDS = oid_from_str(_IF_ENTRY + "13")
IF_IN_ERRORS = oid_from_str(_IF_ENTRY + "14")
IF_OUT_OCTETS = oid_from_str(_IF_ENTRY + "16")
IF_OUT_DISCARDS = oid_from_str(_IF_ENTRY + "19")
IF_OUT_ERRORS = oid_from_str(_IF_ENTRY + "20")
IF_NAME = oid_from_str(_IFX_ENTRY + "1")
IF_HC_IN_OCTETS = oid_from_str(_IFX_ENTRY + "6")
IF_HC_OUT_OCTETS = oid_from_str(_IFX_ENTRY + "10")
IF_HIGH_SPEED = oid_from_str(_IFX_ENTRY + "15")
IF_ALIAS = oid_from_str(_IFX_ENTRY + "18")

IF_COLUMNS = [
    IF_DESCR, IF_TYPE, IF_SPEED, IF_ADMIN_STATUS, IF_OPER_STATUS, IF_IN_OCTETS,
    IF_IN_DISCARDS, IF_IN_ERRORS, IF_OUT_OCTETS, IF_OUT_DISCARDS, IF_OUT_ERRORS,
]  # fmt: skip
IFX_COLUMNS = [IF_NAME, IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, IF_HIGH_SPEED, IF_ALIAS]
# Counters only: what a poll re-reads once names are cached.
COUNTER_COLUMNS = [
    IF_ADMIN_STATUS, IF_OPER_STATUS, IF_IN_OCTETS, IF_IN_DISCARDS, IF_IN_ERRORS,
    IF_OUT_OCTETS, IF_OUT_DISCARDS, IF_OUT_ERRORS, IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS,
    IF_SPEED, IF_HIGH_SPEED,
]  # fmt: skip

# OSPF-MIB ospfNbrState (index: neighbour IPv4 address . address-less index)
# and OSPFv3-MIB ospfv3NbrState (index: ifIndex . instance . router id).
OSPF_NBR_STATE = oid_from_str("1.3.6.1.2.1.14.10.1.6")
OSPFV3_NBR_STATE = oid_from_str("1.3.6.1.2.1.191.1.9.1.8")
OSPF_FULL = 8
# IP-MIB ipAddrTable (index: the address): which local interface, and its
# mask, so an OSPFv2 neighbour's address leads to our interface.
IP_AD_ENT_IF_INDEX = oid_from_str("1.3.6.1.2.1.4.20.1.2")
IP_AD_ENT_NET_MASK = oid_from_str("1.3.6.1.2.1.4.20.1.3")
# IP-MIB ipAddressIfIndex (index: type . length . octets): IPv6 addresses too.
IP_ADDRESS_IF_INDEX = oid_from_str("1.3.6.1.2.1.4.34.1.3")

OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent"}
OPER_STATUS.update({7: "lowerLayerDown"})


@dataclass(frozen=True, slots=True)
class Interface:
    """One IF-MIB row, cooked: names decoded, HC counters preferred."""

    index: int
    name: str
    descr: str
    alias: str
    if_type: int | None
    admin_up: bool
    oper_status: str
    speed_bps: int | None
    in_octets: int | None
    out_octets: int | None
    counter_bits: int  # 64 when HC counters were read, else 32
    in_errors: int | None
    out_errors: int | None
    in_discards: int | None
    out_discards: int | None

    @property
    def up(self) -> bool:
        return self.oper_status == "up"


def text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00").strip()
    return "" if value is None else str(value)


def _int(value: Value | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_interfaces(
    columns: dict[Oid, dict[Oid, Value]], profile: VendorProfile
) -> list[Interface]:
    """Join ifTable and ifXTable columns into rows, by ifIndex."""
    indexes: set[Oid] = set()
    for column in columns.values():
        indexes.update(index for index in column if len(index) == 1)
    rows: list[Interface] = []
    for index in sorted(indexes):

        def get(column: Oid, index: Oid = index) -> Value | None:
            return columns.get(column, {}).get(index)

        hc_in, hc_out = _int(get(IF_HC_IN_OCTETS)), _int(get(IF_HC_OUT_OCTETS))
        hc = hc_in is not None and hc_out is not None
        high_speed = _int(get(IF_HIGH_SPEED))
        # ifHighSpeed is in Mbit/s and saturates ifSpeed at 4.29 Gbit/s.
        speed = high_speed * 1_000_000 if high_speed else _int(get(IF_SPEED))
        descr = text(get(IF_DESCR))
        rows.append(
            Interface(
                index=index[0],
                name=profile.interface_name(text(get(IF_NAME)), descr),
                descr=descr,
                alias=text(get(IF_ALIAS)),
                if_type=_int(get(IF_TYPE)),
                admin_up=get(IF_ADMIN_STATUS) == 1,
                oper_status=OPER_STATUS.get(_int(get(IF_OPER_STATUS)) or 0, "unknown"),
                speed_bps=speed,
                in_octets=hc_in if hc else _int(get(IF_IN_OCTETS)),
                out_octets=hc_out if hc else _int(get(IF_OUT_OCTETS)),
                counter_bits=64 if hc else 32,
                in_errors=_int(get(IF_IN_ERRORS)),
                out_errors=_int(get(IF_OUT_ERRORS)),
                in_discards=_int(get(IF_IN_DISCARDS)),
                out_discards=_int(get(IF_OUT_DISCARDS)),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class OspfNeighbour:
    version: int  # 2 or 3
    key: str  # neighbour IPv4 address (v2) or router id (v3)
    if_index: int | None  # local interface (OSPFv2: through ipAddrTable)
    state: int

    @property
    def full(self) -> bool:
        return self.state == OSPF_FULL


def build_addresses(columns: dict[Oid, dict[Oid, Value]]) -> dict[str, int]:
    """Local address (IPv4 dotted, IPv6 compressed) -> ifIndex."""
    found = {
        ".".join(map(str, index)): if_index
        for index, if_index in columns.get(IP_AD_ENT_IF_INDEX, {}).items()
        if len(index) == 4 and isinstance(if_index, int)
    }
    for index, if_index in columns.get(IP_ADDRESS_IF_INDEX, {}).items():
        if not isinstance(if_index, int) or len(index) < 2 or len(index) != index[1] + 2:
            continue
        with contextlib.suppress(ValueError):
            if index[0] == 1 and index[1] == 4:
                found[str(IPv4Address(bytes(index[2:])))] = if_index
            elif index[0] == 2 and index[1] == 16:
                found[str(IPv6Address(bytes(index[2:])))] = if_index
    return found


def _local_subnets(columns: dict[Oid, dict[Oid, Value]]) -> PrefixMap[int]:
    """The device's own IPv4 subnets -> ifIndex: the longest prefix wins (a
    /31 link over a covering LAN)."""
    subnets: PrefixMap[int] = PrefixMap()
    masks = columns.get(IP_AD_ENT_NET_MASK, {})
    for index, if_index in columns.get(IP_AD_ENT_IF_INDEX, {}).items():
        mask = masks.get(index)
        if len(index) == 4 and isinstance(if_index, int) and isinstance(mask, bytes):
            address = ".".join(map(str, index))
            with contextlib.suppress(ValueError):
                subnets.add(IPv4Network(f"{address}/{IPv4Address(mask)}", strict=False), if_index)
    return subnets


def build_neighbours(columns: dict[Oid, dict[Oid, Value]]) -> list[OspfNeighbour]:
    neighbours: list[OspfNeighbour] = []
    subnets = _local_subnets(columns)
    for index, value in columns.get(OSPF_NBR_STATE, {}).items():
        if len(index) >= 4 and isinstance(value, int):
            address = IPv4Address(".".join(map(str, index[:4])))
            neighbours.append(OspfNeighbour(2, str(address), subnets.lookup(address.packed), value))
    for index, value in columns.get(OSPFV3_NBR_STATE, {}).items():
        if len(index) >= 3 and isinstance(value, int):
            router_id = ".".join(str((index[2] >> s) & 0xFF) for s in (24, 16, 8, 0))
            neighbours.append(OspfNeighbour(3, router_id, index[0], value))
    return neighbours
