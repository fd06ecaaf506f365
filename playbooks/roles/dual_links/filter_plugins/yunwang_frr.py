"""The role's filters: the estate's routing as FRR configuration, and the
rollout's judgement of what a router says about its own routing.

Filters and not templates or tasks: the lab renders the same text when it
starts a router (estate.routing.render_frr) and the rollout judges with the
same code (playbooks.routing_check), so there is one of each, not two that
drift. They run on the controller, where yunwang is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from estate.routing import RouterRouting, render_frr
from playbooks.dual_links import RouterTarget, Uplink
from playbooks.migration_routers import Segment6, render_ipv6
from playbooks.routing_check import check_router, observed


def frr_config(
    routing: dict[str, Any],
    hostname: str,
    preamble: Sequence[str] = (),
    ipv6: dict[str, Any] | None = None,
) -> str:
    """The router's configuration; `ipv6` (what the IPv6 migration gave it)
    adds its prefixes, RA and OSPFv3 exactly as the migration renders them."""
    if ipv6 and ipv6.get("pieces"):
        return render_ipv6(
            routing,
            hostname=hostname,
            preamble=preamble,
            segments=[Segment6.from_dict(s) for s in ipv6.get("segments", [])],
            pieces=ipv6["pieces"],
        )
    return render_frr(RouterRouting.from_dict(routing), hostname=hostname, preamble=preamble)


def dual_links_findings(
    stdout: str,
    node: str,
    routing: dict[str, Any],
    uplinks: Sequence[dict[str, Any]],
    commands: Sequence[str],
) -> list[str]:
    """What is wrong with a router's dual links, from one vtysh run of `commands`."""
    target = RouterTarget(node, "", None, routing, tuple(Uplink(**u) for u in uplinks))
    return [str(f) for f in check_router(target, observed(commands, stdout))]


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"frr_config": frr_config, "dual_links_findings": dual_links_findings}
