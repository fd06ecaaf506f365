"""What a poller needs to reach a running lab's devices instead of the estate's.

The lab moves the estate's plan onto 198.18.0.0/15 and 2001:db8::/32: a
poller gets each device's lab address, and a translator that maps the
addresses devices report (OSPF neighbours, interface addresses) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from estate import Estate
from lab.addressing import AddressMap
from lab.errors import LabError
from lab.state import LabState, lab_dir


@dataclass(frozen=True)
class LabView:
    addresses: dict[str, tuple[str, int]]  # device -> (lab address, port), the lab's slice only
    translate: Callable[[str], str]  # estate address -> lab address (itself outside the slice)


def lab_view(estate: Estate, directory: Path | None = None, ipv6: bool = False) -> LabView:
    """LabError when no lab is up in `directory` (default $YUNWANG_HOME/lab)."""
    state = LabState.load(directory or lab_dir())
    if not state.plan:
        raise LabError("no lab is up: run `yunwang lab up ESTATE` first (or pass --lab-dir)")
    address_map = AddressMap.from_dict(state.plan["addresses"])
    in_lab = {device for router in state.plan["routers"] for device in router["devices"]}

    def translate(address: str) -> str:
        try:
            return str(address_map.lab_address(address))
        except LabError:
            return address  # outside the lab's slice: matches nothing

    addresses = {
        d.name: (translate(str(d.mgmt6 if ipv6 else d.mgmt4)), 161)
        for d in estate.devices()
        if d.name in in_lab
    }
    return LabView(addresses, translate)
