"""Scenarios: which dual links misbehave, and how.

A scenario names link pairs (the county or township node id, as in
`estate.link_pairs()`) and what happens to their primary link:

- failover: the primary is down at both ends (ifOperStatus down, counters
  flat, no OSPF neighbour) and the backup carries the traffic.
- flapping: the primary's ifOperStatus and OSPF neighbour state toggle every
  `flap_period_s` seconds; the backup carries traffic throughout.
- isolated: both links of the pair are down (the node is cut off: its
  devices still answer the poller, which reaches them out of band).
- silent: IF-MIB says up at both ends but nothing passes: `silent_after_s`
  after start the counters stop and the OSPF neighbour leaves Full (state
  down); with `silent_after_s=0` the counters are flat and the neighbour
  rows absent from the start. Only routing state reveals it.

Text form, for the CLI and the API alike: `normal`, `demo`,
`county-failover[:ID]`, `county-isolated[:ID]`, `township-flapping[:ID]`,
`silent-failure[:ID]`,
joined with `+` (`county-failover:hl+township-flapping:qf-cgz`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from estate import Estate, LinkPair, UnknownName
from monitors.sim.errors import SimError

# What one link does during the simulation.
Behaviour = Literal["up", "down", "carrying", "flapping", "silent"]
DEFAULT_FLAP_PERIOD_S = 15.0
# A silent failure starts this long after the simulator: a poller must have seen
# the adjacency Full to call its loss a failure (0: failed from the start).
DEFAULT_SILENT_AFTER_S = 30.0
# The example estate's demo: a county in failover, a township flapping.
DEMO_FAILOVER = "hl"
DEMO_FLAPPING = "qf-cgz"
_PRIMARY: dict[str, Behaviour] = {
    "failover": "down",
    "flapping": "flapping",
    "silent": "silent",
    "isolated": "down",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    failover: tuple[str, ...] = ()
    flapping: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()
    isolated: tuple[str, ...] = ()
    flap_period_s: float = DEFAULT_FLAP_PERIOD_S
    silent_after_s: float = DEFAULT_SILENT_AFTER_S

    def behaviours(self, estate: Estate) -> dict[str, Behaviour]:
        """Link id -> behaviour, for every link of the estate."""
        pairs = {pair.id: pair for pair in estate.link_pairs()}
        result: dict[str, Behaviour] = {link.id: "up" for link in estate.links()}
        for kind, ids in (("failover", self.failover), ("flapping", self.flapping),
                          ("silent", self.silent), ("isolated", self.isolated)):  # fmt: skip
            for pair_id in ids:
                pair = pairs.get(pair_id)
                if pair is None:
                    raise SimError(
                        f"scenario {self.name!r}: {estate.file} has no link pair {pair_id!r} "
                        f"for {kind} (pairs: {', '.join(pairs) or 'none'})"
                    )
                if result[pair.primary.id] != "up":
                    raise SimError(
                        f"scenario {self.name!r}: link pair {pair_id!r} is given two behaviours"
                    )
                result[pair.primary.id] = _PRIMARY[kind]
                result[pair.backup.id] = "down" if kind == "isolated" else "carrying"
        return result


def _pairs(estate: Estate, level: str) -> list[LinkPair]:
    return [p for p in estate.link_pairs() if p.primary.level == level]


def _pick(estate: Estate, level: str, wanted: str | None, label: str) -> str:
    pairs = _pairs(estate, level)
    if wanted is None:
        if not pairs:
            raise SimError(f"scenario {label!r}: {estate.file} has no {level} link pair")
        return pairs[0].id
    if wanted not in {p.id for p in pairs}:
        known = ", ".join(p.id for p in pairs) or "none"
        raise SimError(
            f"scenario {label!r}: {wanted!r} is not a {level} link pair in {estate.file} "
            f"(expected one of: {known})"
        )
    return wanted


def demo(estate: Estate) -> Scenario:
    """County `hl` in failover and township `qf-cgz` flapping where the estate
    has them (examples/small.yaml); otherwise the first county pair and the
    first township pair outside that county."""
    counties = [p.id for p in _pairs(estate, "county")]
    county = DEMO_FAILOVER if DEMO_FAILOVER in counties else (counties[0] if counties else None)
    townships = [p for p in _pairs(estate, "township")]
    ids = [p.id for p in townships]
    township: str | None = DEMO_FLAPPING if DEMO_FLAPPING in ids else None
    if township is None:
        others = [p.id for p in townships if p.primary.county != county] or ids
        township = others[0] if others else None
    return Scenario(
        "demo",
        failover=(county,) if county else (),
        flapping=(township,) if township else (),
    )


def _code(estate: Estate, target: str) -> str:
    """A pair named as the screens name its node (城关镇 is qf-cgz); codes pass through."""
    try:
        return estate.resolve(target, ("county", "township"))[1]
    except UnknownName:
        return target  # a pair id of another level, or a mistake the scenario reports


def parse(
    text: str,
    estate: Estate,
    flap_period_s: float = DEFAULT_FLAP_PERIOD_S,
    silent_after_s: float = DEFAULT_SILENT_AFTER_S,
) -> Scenario:
    """`county-failover:hl+township-flapping:qf-cgz` -> Scenario."""
    failover: list[str] = []
    flapping: list[str] = []
    silent: list[str] = []
    isolated: list[str] = []
    for part in (p.strip() for p in text.split("+")):
        kind, _, target = part.partition(":")
        wanted = _code(estate, target) if target else None
        if kind == "normal" and wanted is None:
            continue
        if kind == "demo" and wanted is None:
            d = demo(estate)
            failover += d.failover
            flapping += d.flapping
        elif kind == "county-failover":
            failover.append(_pick(estate, "county", wanted, part))
        elif kind == "county-isolated":
            isolated.append(_pick(estate, "county", wanted, part))
        elif kind == "township-flapping":
            flapping.append(_pick(estate, "township", wanted, part))
        elif kind == "silent-failure":
            if wanted is None:
                silent.append(_pick(estate, "township", None, part))
            elif wanted in {p.id for p in estate.link_pairs()}:
                silent.append(wanted)
            else:
                raise SimError(f"scenario {part!r}: no link pair {wanted!r} in {estate.file}")
        else:
            raise SimError(
                f"scenario {part!r}: expected normal, demo, county-failover[:ID], "
                "county-isolated[:ID], township-flapping[:ID] or silent-failure[:ID], "
                "joined with '+'"
            )
    if flap_period_s <= 0 or silent_after_s < 0:
        raise SimError(
            f"scenario {text!r}: flap period must be positive and silent onset not negative "
            f"(got {flap_period_s}, {silent_after_s})"
        )
    scenario = Scenario(
        text,
        tuple(failover),
        tuple(flapping),
        tuple(silent),
        tuple(isolated),
        flap_period_s,
        silent_after_s,
    )
    scenario.behaviours(estate)  # rejects a pair given two behaviours, now rather than later
    return scenario
