"""Vendor profiles: where devices differ in how they show interfaces.

Facts below come from the snmpsim-data recordings the tests serve:

- Huawei (S5720, S12704): ifName is the full name ("GigabitEthernet0/0/1",
  "40GE1/0/0") while engineers write "GE0/0/1"; ifXTable complete.
- H3C Comware 7: "Ten-GigabitEthernet1/0/0/1" in ifName and ifDescr; written
  "XGE1/0/0/1" on the CLI.
- Ruijie S5750: ifName is the short form ("Gi0/1"), ifDescr the long form
  with a space ("GigabitEthernet 0/1").
- ZTE ZXR10: "gei_1/1" / "xgei-0/1/0/1" names; ifDescr may carry the
  description ("xgei-0/1/0/1 To-M480"); the 5250 has no ifHighSpeed at all
  and types ifSpeed as INTEGER, so speed falls back to ifSpeed.
- Cisco IOS: ifName short ("Gi0/1"), ifDescr long; ifIndex values are sparse
  (10101...) and some rows (VLANs) have no HC counters.

A profile only carries knowledge; the table code applies it. Unknown
vendors get the generic profile, which already handles the common cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitors.snmp.ber import Oid, oid_from_str

# Interface type words, long and short, to one canonical short form. Shared
# by every vendor (the words do not collide across vendors).
_TYPE_WORDS: dict[str, str] = {
    "gigabitethernet": "ge",
    "gige": "ge",
    "gi": "ge",
    "ge": "ge",
    "gei": "ge",
    "tengigabitethernet": "xge",
    "ten-gigabitethernet": "xge",
    "xgigabitethernet": "xge",
    "tengige": "xge",
    "te": "xge",
    "xge": "xge",
    "xgei": "xge",
    "twentyfivegige": "25ge",
    "25ge": "25ge",
    "fortygigabitethernet": "40ge",
    "fortygige": "40ge",
    "fo": "40ge",
    "40ge": "40ge",
    "hundredgige": "100ge",
    "hundredgigabitethernet": "100ge",
    "hu": "100ge",
    "100ge": "100ge",
    "fastethernet": "fe",
    "fa": "fe",
    "fe": "fe",
    "ethernet": "eth",
    "eth": "eth",
    "eth-trunk": "agg",
    "port-channel": "agg",
    "po": "agg",
    "bridge-aggregation": "agg",
    "bagg": "agg",
    "aggregateport": "agg",
    "ag": "agg",
    "smartgroup": "agg",
    "vlanif": "vlan",
    "vlan-interface": "vlan",
    "vlan": "vlan",
    "vl": "vlan",
    "loopback": "lo",
    "lo": "lo",
}
_NAME = re.compile(r"^(\d*[a-z][a-z\-]*?)[\s_\-]*(\d[\d/.:]*)$")


def canonical_ifname(name: str) -> str:
    """'GigabitEthernet 0/1', 'Gi0/1', 'GE0/1', 'gei_0/1' -> 'ge0/1'."""
    text = name.strip().lower()
    match = _NAME.match(text)
    if match is None:
        return text.replace(" ", "")
    word, number = match.groups()
    return _TYPE_WORDS.get(word, word) + number


@dataclass(frozen=True, slots=True)
class VendorProfile:
    name: str
    enterprise: Oid
    # ifDescr carries "<name> <description>": keep only the first word.
    descr_has_alias: bool = False
    # The agent returns OIDs out of order within a table: walk tolerantly
    # (dedupe by index) instead of stopping at the first non-increasing OID.
    unordered_tables: bool = False
    notes: tuple[str, ...] = field(default=())

    def interface_name(self, if_name: str | None, if_descr: str | None) -> str:
        if if_name:
            return if_name
        if if_descr and self.descr_has_alias:
            return if_descr.split(" ", 1)[0]
        return if_descr or ""


GENERIC = VendorProfile("generic", ())
PROFILES: tuple[VendorProfile, ...] = (
    VendorProfile("huawei", oid_from_str("1.3.6.1.4.1.2011")),
    VendorProfile("h3c", oid_from_str("1.3.6.1.4.1.25506")),
    VendorProfile("ruijie", oid_from_str("1.3.6.1.4.1.4881")),
    VendorProfile(
        "zte",
        oid_from_str("1.3.6.1.4.1.3902"),
        descr_has_alias=True,
        notes=("ZXR10 5250 has no ifHighSpeed: speed from ifSpeed",),
    ),
    VendorProfile("cisco", oid_from_str("1.3.6.1.4.1.9")),
    VendorProfile("net-snmp", oid_from_str("1.3.6.1.4.1.8072")),
)


def profile_for(sys_object_id: Oid | None) -> VendorProfile:
    if sys_object_id:
        for profile in PROFILES:
            if sys_object_id[: len(profile.enterprise)] == profile.enterprise:
                return profile
    return GENERIC
