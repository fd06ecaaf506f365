"""The rules of a node's uplinks that follow from the dual-link plan: the
bandwidth owed per level, each link's routing cost and BFD, and a backup that
must cost more than its primary."""

from __future__ import annotations

from collections.abc import Callable

from estate.routing import Bfd
from estate.schema_extranet import Extranet, UplinkSpec
from estate.spec_types import Level
from estate.topology import PlannedNode

Path = tuple[str | int, ...]
Report = Callable[[Path, str], None]


class UplinkRules:
    def __init__(self, extranet: Extranet, report: Report) -> None:
        self.extranet = extranet
        self.report = report

    def check_owed(self, levels: set[Level]) -> None:
        """Each level with nodes needs an owed bandwidth: its links default to it."""
        owed = self.extranet.owed_bandwidth
        for level in ("county", "township", "village"):
            if level in levels and level not in owed:
                self.report(
                    ("extranet", "owed_bandwidth"),
                    f"expected a bandwidth for every level in use, missing {level!r} "
                    f"(found only: {', '.join(owed) or 'none'})",
                )

    def cost(self, uplink: UplinkSpec) -> int:
        if uplink.cost is not None:
            return uplink.cost
        plan = self.extranet.dual_links
        return plan.primary_cost if uplink.role == "primary" else plan.backup_cost

    def bfd(self, uplink: UplinkSpec, level: Level) -> Bfd | None:
        if uplink.bfd is not None:
            return Bfd(uplink.bfd.interval_ms, uplink.bfd.multiplier)
        bfd = self.extranet.dual_links.bfd
        return Bfd(bfd.interval_ms, bfd.multiplier) if level in bfd.levels else None

    def check_costs(self, pn: PlannedNode) -> None:
        """The backup must cost more than the primary, or traffic would not prefer the primary."""
        uplinks = {u.role: (k, u) for k, u in enumerate(pn.spec.uplinks)}
        if "primary" not in uplinks or "backup" not in uplinks:
            return
        (_, primary), (k, backup) = uplinks["primary"], uplinks["backup"]
        primary_cost, backup_cost = self.cost(primary), self.cost(backup)
        if backup_cost > primary_cost:
            return
        if backup.cost is not None or primary.cost is None:
            path: Path = (*pn.path, "uplinks", k, "cost")
        else:
            path = (*pn.path, "uplinks", uplinks["primary"][0], "cost")
        self.report(
            path,
            f"expected the backup uplink to cost more than the primary ({primary_cost}) "
            f"so traffic prefers the primary, found backup cost {backup_cost}",
        )
