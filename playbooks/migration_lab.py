"""The IPv6 migration's targets and gates in the lab (a `lab.Lab`).

Hosts are reached with Ansible through the NMS namespace (the lab's ssh
ProxyCommand); the gates measure from the NMS namespace, as the city's NMS
would: ping, ping6 and ssh over IPv6 with the lab's key.
"""

from __future__ import annotations

from typing import Any

from playbooks.migration import HostTarget

_SSH_TIMEOUT_S = 15.0


def lab_targets(lab: Any) -> list[HostTarget]:
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
    """Measurements from the lab's NMS namespace ("" = fine, else what was seen)."""

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


def _last(text: str, default: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else default
