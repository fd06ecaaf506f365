"""What a simulated device says about itself: the system group of a real one.

sysDescr, sysObjectID, sysContact and sysServices come from the snmpsim-data
recording of the same vendor (and model where one was recorded), so the
poller's vendor profiles see the enterprise numbers real devices send
(which recording: `monitors.snmp.recordings.recording_for`).
Only the system group is read: it sits at the head of every recording.
"""

from __future__ import annotations

import bz2
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
