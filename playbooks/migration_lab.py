"""The IPv6 migration's targets and gates in the lab (a `lab.Lab`).

Hosts are reached with Ansible through the NMS namespace (the lab's ssh
ProxyCommand), routers through FRR's pathspace on this machine; the gates
measure from the NMS namespace, as the city's NMS would (ping, ping6 and ssh
over IPv6 with the lab's key), and from the routers themselves (kernel
addresses, zebra's RA state, OSPFv3 neighbours as vtysh JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from estate import Estate
from playbooks.migration import HostTarget, Target
from playbooks.migration_routers import MigrationRouter, RouterSeen, lab_routers, pieces_in

_SSH_TIMEOUT_S = 15.0
_MAX_NEIGHBOURS = 1000  # a router's own JSON, but bounded all the same


def lab_targets(lab: Any, estate: Estate) -> list[Target]:
    """The lab's routers, by level, and its hosts, staged by the level of the
    router they hang off. A lab whose routers started dual-stack has only its
    hosts to migrate."""
    routers: list[Target] = list(lab_routers(lab, estate)) if not lab.plan.routers_ipv6 else []
    return routers + list(lab_hosts(lab))


def lab_hosts(lab: Any) -> list[HostTarget]:
    """The lab's hosts, staged by the level of the router they hang off."""
    inventory = lab.ansible_inventory(user="root")
    common = inventory["all"]["vars"]
    levels = {r.node: r.level for r in lab.routers}
    return [
        HostTarget(
            h.name,
            levels[h.router],
            h.router,
            h.address4,
            h.address6,
            h.gateway6,
            connection={**common, **inventory["all"]["hosts"][h.name]},
        )
        for h in lab.hosts
    ]


def lab_sources(lab: Any) -> list[dict[str, str]]:
    """The NMS is the source the hosts' firewalls name: its IPv6 twin."""
    plan = lab.plan
    return [{"v4": plan.nms_address4.split("/")[0], "v6": plan.nms_address6.split("/")[0]}]


class LabProber:
    """Measurements from the lab's NMS namespace ("" = fine, else what was seen).

    On the real network `lab` is playbooks.migration_estate.SshReach: the
    same measurements from this machine and, over SSH, from the routers."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab

    def ping(self, address: str, family: int) -> str:
        done = self.lab.run(
            "nms", ["ping", f"-{family}", "-c", "2", "-i", "0.2", "-W", "1", address], check=False
        )
        return "" if done.returncode == 0 else _last(done.stdout + done.stderr, "no answer")

    def ssh(self, host: HostTarget, family: int) -> str:
        done = self.lab.ssh(host.name, "true", family=family, check=False, timeout=_SSH_TIMEOUT_S)
        return "" if done.returncode == 0 else _last(done.stderr, f"exit {done.returncode}")

    def router_gateway(self, host: HostTarget) -> str:
        gateway = host.gateway6
        done = self.lab.run(host.router, ["ip", "-6", "-o", "addr", "show"], check=False)
        if f" {gateway}/" in done.stdout:
            return ""
        return f"router {host.router} has no {gateway} (the segment's IPv6 prefix is not up)"

    def router(self, router: MigrationRouter, *, ipv6: bool) -> RouterSeen:
        addresses = self.lab.run(
            router.name, ["ip", "-6", "-o", "addr", "show", "scope", "global"], check=False
        )
        running = self._vtysh(router, "show running-config")
        neighbours: list[dict[str, Any]] = []
        if "router ospf6" in running:
            try:
                raw = json.loads(self._vtysh(router, "show ipv6 ospf6 neighbor json") or "{}")
                neighbours = list(raw.get("neighbors", []))[:_MAX_NEIGHBOURS]
            except (json.JSONDecodeError, AttributeError):
                neighbours = []
        return RouterSeen(
            addresses6=frozenset(re.findall(r"inet6 (\S+)", addresses.stdout)),
            pieces=tuple(pieces_in(router, running)),
            full6=frozenset(
                str(n.get("interfaceName")) for n in neighbours if n.get("state") == "Full"
            ),
            ra={
                s.interface: f
                for s in router.segments
                if (f := self._ra(router, s.interface, running))
            },
            ping6=self.ping(router.ip6, 6) if ipv6 else "",
            ping4=self.ping(router.ip4, 4),
        )

    def _ra(
        self, router: MigrationRouter, interface: str, running: str
    ) -> tuple[bool, bool] | None:
        """(M, O) of the RAs the interface sends: zebra's interface state says
        whether it sends and M; O only shows in its configuration."""
        state = self._vtysh(router, f"show interface {interface}")
        if "ND router advertisements are sent" not in state:
            return None
        block = re.search(rf"^interface {re.escape(interface)}\n(.*?)^exit", running, re.M | re.S)
        other = block is not None and " ipv6 nd other-config-flag\n" in block.group(1)
        return "Hosts use DHCP to obtain routable addresses" in state, other

    def _vtysh(self, router: MigrationRouter, command: str) -> str:
        pathspace = ["-N", router.pathspace] if router.pathspace else []
        argv = ["vtysh", *pathspace, "-c", command]
        return str(self.lab.run(router.name, argv, check=False).stdout)


def _last(text: str, default: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else default
