"""Estate links to device interfaces: by ifName, then ifAlias, then ifDescr,
then by the link's own address in the device's ipAddrTable.

Names are compared exactly first, then in canonical form (vendor
abbreviations folded: "GE0/0/1" == "GigabitEthernet0/0/1"). Whatever the
estate declares that no device shows ends up in `unmatched` with a reason,
so a typo in the estate or a re-cabled port is a report line, not a silent
gap in the dashboards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from estate import Estate, Link
from monitors.snmp.poller import DevicePoll, InterfaceRates
from monitors.snmp.profiles import canonical_ifname
from monitors.snmp.tables import Interface


@dataclass(frozen=True, slots=True)
class EndObservation:
    device: str
    interface: Interface
    rates: InterfaceRates | None
    matched_by: str  # "ifName" | "ifName~" (canonical) | "ifAlias" | "ifDescr" | "ipAddress"


@dataclass(frozen=True, slots=True)
class Unmatched:
    link: str
    device: str
    interface: str
    reason: str

    def __str__(self) -> str:
        return f"{self.link}: {self.device} {self.interface!r}: {self.reason}"


def _alias_names(alias: str, device: str, name: str) -> bool:
    """ifAlias naming the interface: exactly, canonically, or as the
    "<device> <interface> ..." description many operators (and the lab) write."""
    if alias == name or canonical_ifname(alias) == canonical_ifname(name):
        return True
    return alias.startswith(f"{device} {name}") and alias[len(device) + len(name) + 1 :][:1] in (
        "",
        " ",
    )


# Estate address -> the address the device really has (identity in
# production; the lab maps the plan onto 198.18.0.0/15).
Translate = Callable[[str], str]


def find_interface(
    poll: DevicePoll, name: str, addresses: tuple[str, ...] = ()
) -> tuple[Interface, str] | None:
    rows = poll.interfaces
    for row in rows:
        if row.name == name:
            return row, "ifName"
    wanted = canonical_ifname(name)
    for row in rows:
        if row.name and canonical_ifname(row.name) == wanted:
            return row, "ifName~"
    for row in rows:
        if row.alias and _alias_names(row.alias, poll.device, name):
            return row, "ifAlias"
    for row in rows:
        if row.descr and canonical_ifname(row.descr.split(" ", 1)[0]) == wanted:
            return row, "ifDescr"
    for address in addresses:
        index = poll.addresses.get(address)
        for row in rows:
            if index is not None and row.index == index:
                return row, "ipAddress"
    return None


def observe_link(
    link: Link, polls: dict[str, DevicePoll], translate: Translate = str
) -> tuple[list[EndObservation], list[Unmatched]]:
    seen: list[EndObservation] = []
    missing: list[Unmatched] = []
    for end in (link.child_end, link.parent_end):
        poll = polls.get(end.device)
        if poll is None:
            missing.append(Unmatched(link.id, end.device, end.interface, "device not polled"))
            continue
        if poll.state == "unreachable":
            reason = f"device unreachable ({poll.error_kind})"
            missing.append(Unmatched(link.id, end.device, end.interface, reason))
            continue
        found = find_interface(
            poll, end.interface, (translate(str(end.address4)), translate(str(end.address6)))
        )
        if found is None:
            missing.append(
                Unmatched(link.id, end.device, end.interface, "no interface by that name or alias")
            )
            continue
        row, how = found
        seen.append(EndObservation(end.device, row, poll.rates.get(row.index), how))
    return seen, missing


def unmatched_report(
    estate: Estate,
    polls: dict[str, DevicePoll],
    translate: Translate = str,
    county: str | None = None,
) -> list[Unmatched]:
    """Every link end the estate declares that a reachable device doesn't
    show. A county shard reports its own links, and not the far ends it
    leaves to the shard that polls them."""
    report: list[Unmatched] = []
    for link in estate.links(county=county):
        _seen, missing = observe_link(link, polls, translate)
        report.extend(
            m
            for m in missing
            if not m.reason.startswith("device unreachable")
            and not (county is not None and m.reason == "device not polled")
        )
    return report
