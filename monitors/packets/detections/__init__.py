"""Every detection the sensor runs, in the order it runs them."""

from __future__ import annotations

from ..compiled import prefer_compiled

__path__ = prefer_compiled(__path__, "monitors/packets/detections")

from ..signature import Detection
from .adoption import Ipv6Adoption
from .arp import ArpBindings, GratuitousStorm
from .dhcp import RogueDhcp
from .gateway import GatewayClaims
from .ndp import RogueRouters
from .scan import Scans
from .zones import CrossZoneFlows

DETECTIONS: tuple[type[Detection], ...] = (
    GatewayClaims,
    ArpBindings,
    GratuitousStorm,
    Scans,
    RogueRouters,
    RogueDhcp,
    CrossZoneFlows,
    Ipv6Adoption,
)
