"""What a simulated device says about itself: the system group of a real one.

sysDescr, sysObjectID, sysContact and sysServices come from the snmpsim-data
recording of the same vendor (and model where one was recorded), so the
poller's vendor profiles see the enterprise numbers real devices send.
Only the system group is read: it sits at the head of every recording.
"""

from __future__ import annotations

import bz2
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Estate model -> recording inside snmpsim-data's data/ directory.
MODEL_RECORDINGS: dict[str, str] = {
    "huawei-s12704": "network/switch/huawei-s12704",
    "huawei-s5720": "network/router/huawei-s5720",
    "h3c-comware": "network/switch/h3c-comware-7-1-075",
    "ruijie-s5750": "network/switch/ruijie-s5750-24gt12sfp",
    "zte-zxr10": "network/switch/zte-zxr10-5250",
    "cisco-c3560": "network/switch/cisco-c3560",
    "cisco-c3750": "network/switch/cisco-c3750",
    "maipu-sm4200": "network/switch/maipu-sm4200-16gef8ge-ac",
}
# Models nobody recorded fall back to their vendor's closest recording.
VENDOR_RECORDINGS: dict[str, str] = {
    "huawei": "network/router/huawei-s5720",
    "h3c": "network/switch/h3c-comware-7-1-075",
    "ruijie": "network/switch/ruijie-s5750-24gt12sfp",
    "zte": "network/switch/zte-zxr10-5250",
    "cisco": "network/switch/cisco-c3750",
    "maipu": "network/switch/maipu-sm4200-16gef8ge-ac",
    # generic devices and FRR routers answer like net-snmp on Linux.
    "generic": "os/linux/unknown-001",
    "frr": "os/linux/unknown-001",
}
# sysDescr, sysObjectID, sysContact, sysServices: kept verbatim (type and value).
_KEPT = {"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.7.0"}
_SYSTEM = "1.3.6.1.2.1.1."


@dataclass(frozen=True)
class SystemGroup:
    recording: str
    # OID -> (snmprec type, snmprec value), exactly as recorded.
    records: dict[str, tuple[str, str]]
    uptime_ticks: int


def data_dir() -> Path:
    import snmpsim_data  # type: ignore[import-untyped]  # imported late: only generation needs it

    return Path(snmpsim_data.__file__).parent / "data"


def recording_for(model: str, vendor: str) -> str:
    if model in MODEL_RECORDINGS:
        return MODEL_RECORDINGS[model]
    return VENDOR_RECORDINGS.get(vendor, VENDOR_RECORDINGS["generic"])


@cache
def system_group(recording: str) -> SystemGroup:
    path = data_dir() / f"{recording}.snmprec.bz2"
    records: dict[str, tuple[str, str]] = {}
    uptime = 0
    with bz2.open(path, "rt", encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            oid, _, rest = line.rstrip("\n").partition("|")
            if not oid.startswith(_SYSTEM):
                if records:
                    break  # recordings are sorted: the system group is over
                continue
            kind, _, value = rest.partition("|")
            if oid in _KEPT:
                records[oid] = (kind, value)
            elif oid == "1.3.6.1.2.1.1.3.0" and value.isdigit():
                uptime = int(value)
    return SystemGroup(recording, records, uptime)
