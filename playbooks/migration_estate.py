"""The IPv6 migration's routers and hosts on the real network, from the estate.

- Each node's router: its LAN's IPv6 gateway address (the node's first
  device's planned IPv6 address, in the LAN's prefix) with RA as the node's
  `ipv6_mode` declares, and OSPFv3 on its links as the estate's routing
  renders it; reached at its first device's management address, the way the
  dual-link rollout reaches it (playbooks/dual_links.py: the same routing and
  preamble, so the two render the same configuration).
- Each host the estate declares on a node's LAN (extranet.nodes[].hosts): its
  planned IPv6 address, the LAN's gateway as its IPv6 default route.
- The sources whose IPv4 firewall rules get IPv6 twins: the zones' prefixes
  (the management zone opens ssh and SNMP to everything), IPv4 to IPv6.

Ansible reaches them all over SSH as extranet.ansible says (user, port, the
key by its path, known_hosts, become): nothing secret is in the inventory.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from estate.ipv6 import ra_flags
from estate.routing import router_routing
from playbooks.migration import HostTarget, Target
from playbooks.migration_routers import MigrationRouter, Segment6

if TYPE_CHECKING:
    from estate import Estate
    from estate.schema_extranet import AnsibleAccess

# What the rollout's estate targets carry besides routing (RouterTarget's default).
PREAMBLE = ("log syslog informational",)


def access_vars(access: AnsibleAccess) -> dict[str, Any]:
    """extranet.ansible as Ansible's connection variables."""
    out: dict[str, Any] = {
        "ansible_user": access.user,
        "ansible_port": access.port,
        "ansible_become": access.become,
    }
    if access.private_key_file:
        out["ansible_ssh_private_key_file"] = access.private_key_file
    if access.known_hosts_file:
        out["ansible_ssh_common_args"] = (
            f"-o UserKnownHostsFile={access.known_hosts_file} -o StrictHostKeyChecking=yes"
        )
    return out


def estate_targets(estate: Estate) -> list[Target]:
    """The migration's routers, then its hosts."""
    return [*estate_routers(estate), *estate_hosts(estate)]


def estate_hosts(estate: Estate) -> list[HostTarget]:
    """The hosts the estate declares, staged by the level of their node."""
    access = access_vars(estate.ansible)
    return [
        HostTarget(
            host.name,
            node.level,
            node.id,
            f"{host.address4}/{node.lan4.prefixlen}",
            f"{host.address6}/{node.lan6.prefixlen}",
            str(node.gateway6),
            connection={"ansible_host": str(host.address4), **access},
        )
        for node in estate.nodes()
        for host in node.hosts
    ]


def estate_sources(estate: Estate) -> list[dict[str, str]]:
    """The zones' prefixes, IPv4 and IPv6: a host rule letting in a zone over
    IPv4 gets its twin letting in the zone over IPv6."""
    return [
        {"v4": str(z.prefix4), "v6": str(z.prefix6)}
        for z in estate.zones
        if z.prefix4 is not None and z.prefix6 is not None
    ]


def estate_routers(estate: Estate) -> list[MigrationRouter]:
    """Every node's router, city to village, IPv4-only as the estate starts
    them, reached over SSH at its management address as extranet.ansible says."""
    access = access_vars(estate.ansible)
    links_of: dict[str, list[str]] = {}
    for link in estate.links():
        links_of.setdefault(link.child, []).append(link.child_end.interface)
    routers = []
    for node in estate.nodes():
        lan = f"{node.id}-lan"  # as estate.routing names a node's LAN interface
        routers.append(
            MigrationRouter(
                node.id,
                node.level,
                router_routing(estate, node.id).to_dict() | {"ospf6": False},
                (
                    Segment6(
                        lan, (f"{node.gateway6}/{node.lan6.prefixlen}",), ra_flags(node.ipv6_mode)
                    ),
                ),
                tuple(links_of.get(node.id, [])),
                f"{node.gateway4}/{node.lan4.prefixlen}",
                preamble=PREAMBLE,
                connection={"ansible_host": str(node.gateway4), **access},
            )
        )
    return routers


class SshReach:
    """The real network, reached the way the lab is (`lab.Lab`'s `run` and
    `ssh`), for the migration's gates (playbooks.migration_lab.LabProber):
    "nms" is this machine, which stands where the NMS does; a router or host
    runs a command over SSH as extranet.ansible says."""

    def __init__(self, estate: Estate) -> None:
        self.access = estate.ansible
        self.addresses: dict[str, dict[int, str]] = {}
        for node in estate.nodes():
            self.addresses[node.id] = {4: str(node.gateway4), 6: str(node.gateway6)}
            for host in node.hosts:
                self.addresses[host.name] = {4: str(host.address4), 6: str(host.address6)}

    def _ssh(self, name: str, family: int) -> list[str]:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        argv += ["-p", str(self.access.port), "-l", self.access.user]
        if self.access.private_key_file:
            argv += ["-i", self.access.private_key_file]
        if self.access.known_hosts_file:
            argv += ["-o", f"UserKnownHostsFile={self.access.known_hosts_file}"]
            argv += ["-o", "StrictHostKeyChecking=yes"]
        return [*argv, "--", self.addresses[name][family]]

    def run(
        self, node: str, cmd: str | Sequence[str], *, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        if node != "nms":
            sudo = ["sudo", "-n"] if self.access.become and self.access.user != "root" else []
            argv = [*self._ssh(node, 4), shlex.join([*sudo, *argv])]
        return _run(argv, check, timeout)

    def ssh(
        self, host: str, cmd: str, *, family: int = 4, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return _run([*self._ssh(host, family), cmd], check, timeout)


def _run(argv: list[str], check: bool, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        if check:
            raise
        return subprocess.CompletedProcess(argv, 124, "", f"no answer within {timeout:g} s")
