"""What `yunwang watch` is asked to do (`WatchOptions`), and how it says it cannot.

Apart from the job itself (yunwang/watch_job.py, which re-exports these)
so the options read on one screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "small.yaml"
OBSERVER = "yunwang-watch"


class WatchError(Exception):
    """The main job cannot start or go on; str() is one line naming the option at fault."""


@dataclass(frozen=True)
class WatchOptions:
    estate_path: Path | None = None  # None: the example city, simulated
    simulate: bool | None = None  # None: simulate exactly when no estate is given
    scenario: str = "demo"
    interval_s: float | None = None  # None: the estate's poll interval (5 s when simulated)
    pcap: Path | None = None  # replayed through the sensor; the demo writes its own
    store: str | None = None
    alertmanager: str | None = None
    webhook: str | None = None
    metrics_address: str = "127.0.0.1"
    metrics_port: int = 9464
    flap_period_s: float = 10.0  # demo: four transitions, hence "flapping", within a minute
    traps: bool = False  # receive SNMP traps/informs; a link trap re-polls its pair at once
    trap_address: str | None = None  # None: the estate's monitoring.traps (127.0.0.1:162)
    trap_port: int | None = None
    sensors: tuple[str, ...] = ()  # live: these declared sensors (default: this host's)
    cycles: int = 0  # stop after this many poll cycles (0: no limit)
