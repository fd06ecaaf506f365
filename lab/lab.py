"""The lab as a Python object: what tests and scripts use.

    from lab import Lab
    lab = Lab.up("examples/small.yaml", counties=2, townships=1)
    lab.run("hl-zyl-h1", "ping -c1 198.18.0.10")
    lab.cut("hl/primary"); lab.restore("hl/primary")
    lab.down()

Every method re-reads the lab record under its lock, so a `Lab` object and
the CLI can act on the same lab.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from estate import Estate, EstateError, UnknownName, load
from estate.secrets import SecretMissing, SnmpKeys, resolve_snmp
from lab import build, chaos, frr, netns
from lab.addressing import Address, AddressMap
from lab.blueprint import Cable, HostPlan, LabPlan, Router
from lab.errors import LabError
from lab.placement import Slice
from lab.state import LabState, lab_dir, locked
from lab.status import LabStatus, collect

SSH_OPTIONS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
)


def load_estate(path: str | Path) -> Estate:
    try:
        return load(str(path))
    except EstateError as exc:
        if not exc.problems:
            raise LabError(str(exc)) from exc
        more = len(exc.problems) - 1
        extra = f" (and {more} more: run `yunwang validate {path}`)" if more else ""
        raise LabError(f"{exc.problems[0]}{extra}") from exc
    except FileNotFoundError as exc:
        raise LabError(f"{path}: no such estate file") from exc


def _group_name(segment: str) -> str:
    """'zone:gov-extranet' -> 'zone_gov_extranet' (Ansible group names are identifiers)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", segment)


class Lab:
    def __init__(
        self, directory: Path | None = None, *, secrets: Mapping[str, str] | None = None
    ) -> None:
        self.directory = directory or lab_dir()
        # Fallbacks for secret env vars that are not set (test values).
        self.secrets = dict(secrets or {})

    # --- lifecycle ---------------------------------------------------------

    @classmethod
    def up(
        cls,
        estate_path: str | Path,
        *,
        directory: Path | None = None,
        counties: int = 2,
        townships: int = 1,
        villages: int = 1,
        hosts: int = 4,
        bfd_ms: int | None = 100,
        hosts_ipv6: bool = True,
        routing: bool = True,
        routers_ipv6: bool = True,
        secrets: Mapping[str, str] | None = None,
        dr_hosts: int = 0,
    ) -> Lab:
        if bfd_ms is not None and not 10 <= bfd_ms <= 60000:
            raise LabError(f"--bfd-ms {bfd_ms}: expected 10 to 60000 (FRR's BFD range)")
        lab = cls(directory, secrets=secrets)
        estate = load_estate(estate_path)
        with locked(lab.directory):
            build.up(
                estate,
                Slice(counties, townships, villages, hosts, dr_hosts),
                lab.directory,
                bfd_ms=bfd_ms,
                hosts_ipv6=hosts_ipv6,
                routing=routing,
                routers_ipv6=routers_ipv6,
                secrets=lab.secrets,
            )
        return lab

    def down(self) -> None:
        with locked(self.directory):
            build.down(self.directory)

    # --- what is there -----------------------------------------------------

    @property
    def state(self) -> LabState:
        return LabState.load(self.directory)

    @property
    def plan(self) -> LabPlan:
        state = self.state
        if not state.plan:
            raise LabError(f"no lab is up in {self.directory}")
        return LabPlan.from_dict(state.plan)

    @property
    def routers(self) -> list[Router]:
        return self.plan.routers

    @property
    def links(self) -> list[Cable]:
        return self.plan.cables

    @property
    def hosts(self) -> list[HostPlan]:
        return self.plan.hosts

    @property
    def ssh_key_path(self) -> Path:
        return self.directory / "ssh" / "id_ed25519"

    @property
    def nms(self) -> str:
        """The namespace collectors run in: it reaches every router and host."""
        return self.plan.nms_namespace

    def status(self) -> LabStatus:
        return collect(self.state)

    def namespace(self, node: str) -> str:
        """A router's node id, a host's name, or 'nms'."""
        return self.plan.namespace_of(node)

    def router_snmp_address(self, node: str, family: int = 4) -> str:
        router = self.plan.router(node)
        return router.mgmt4[0] if family == 4 else router.mgmt6[0]

    def interface(self, link: str, end: str = "child") -> tuple[str, str]:
        """(router node, Linux ifname) of one end of an estate link."""
        cable = self.plan.cable(link)
        return (cable.child, cable.child_if) if end == "child" else (cable.parent, cable.parent_if)

    def ifindex(self, node: str, ifname: str) -> int:
        for info in netns.links(self.namespace(node)):
            if info.get("ifname") == ifname:
                return int(info["ifindex"])
        raise LabError(f"{node} has no interface {ifname}")

    def lab_address(self, estate_address: str | Address) -> str:
        return str(AddressMap.from_dict(self.plan.addresses).lab_address(estate_address))

    def lab_address_in_slice(self, estate_address: str) -> str | None:
        """The lab's copy of an estate address, or None when it is outside the slice."""
        try:
            return self.lab_address(estate_address)
        except (LabError, ValueError):
            return None

    def lab_network_in_slice(self, estate_prefix: str) -> str | None:
        """The lab's copy of an estate prefix, or None when that zone is not in the slice."""
        try:
            return str(AddressMap.from_dict(self.plan.addresses).lab_network(estate_prefix))
        except (LabError, ValueError):
            return None

    def snmp_v3(self, node: str) -> SnmpKeys:
        """The v3 credential of a router's agent, resolved (for a test's poller)."""
        plan = self.plan
        credential = load_estate(plan.estate).monitoring.credentials[plan.router(node).credential]
        if credential.version != 3:
            raise LabError(f"{node}: its SNMP credential is not v3")
        try:
            return resolve_snmp(credential, self.secrets)
        except SecretMissing as exc:
            raise LabError(str(exc)) from exc

    # --- doing things ------------------------------------------------------

    def run(
        self, node: str, cmd: str | Sequence[str], *, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of this machine inside a node's network namespace.

        For a host this is its network, not its filesystem: use `ssh` to run
        inside the host's own Debian userland.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        done = subprocess.run(
            ["ip", "netns", "exec", self.namespace(node), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise LabError(
                f"{node}: {' '.join(argv)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-300:]}"
            )
        return done

    def ssh(
        self,
        host: str,
        cmd: str,
        *,
        user: str = "root",
        source: str = "nms",
        family: int = 4,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """ssh with the lab key to a host, from the NMS (or any other node)."""
        target = self.plan.host(host)
        address = (target.address4 if family == 4 else target.address6).split("/")[0]
        argv = ["ssh", "-i", str(self.ssh_key_path), *SSH_OPTIONS, f"{user}@{address}", cmd]
        return self.run(source, argv, check=check, timeout=timeout)

    def ssh_proxy_command(self, source: str = "nms") -> str:
        """An ssh ProxyCommand reaching lab hosts from the machine itself
        (through `source`'s namespace; no route into the lab is added)."""
        proxy = Path(__file__).with_name("nsproxy.py")
        return f"ip netns exec {self.namespace(source)} {sys.executable} -I {proxy} %h %p"

    def ssh_argv(self, host: str, *, user: str = "root", family: int = 4) -> list[str]:
        """The ssh command line, for the machine's own namespace, to a host."""
        target = self.plan.host(host)
        address = (target.address4 if family == 4 else target.address6).split("/")[0]
        return [
            "ssh",
            "-i",
            str(self.ssh_key_path),
            *SSH_OPTIONS,
            "-o",
            f"ProxyCommand={self.ssh_proxy_command()}",
            f"{user}@{address}",
        ]

    def ansible_inventory(self, *, family: int = 4, user: str = "yunwang") -> dict[str, Any]:
        """An Ansible inventory of the lab's hosts, usable from the machine itself.

        Hosts are grouped by zone and by segment; `yunwang_*` vars carry the
        estate's view (system, zone) for playbooks that act on it.
        """
        common = " ".join([*SSH_OPTIONS, "-o", f"ProxyCommand='{self.ssh_proxy_command()}'"])
        hosts: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {}
        for host in self.hosts:
            address = (host.address4 if family == 4 else host.address6).split("/")[0]
            hosts[host.name] = {
                "ansible_host": address,
                "yunwang_zone": host.zone,
                "yunwang_segment": host.segment,
                "yunwang_system": host.system,
                "yunwang_address4": host.address4,
                "yunwang_address6": host.address6,
            }
            group = _group_name(host.segment)
            groups.setdefault(group, {"hosts": {}})["hosts"][host.name] = None
        return {
            "all": {
                "vars": {
                    "ansible_user": user,
                    "ansible_become": user != "root",
                    "ansible_ssh_private_key_file": str(self.ssh_key_path),
                    "ansible_ssh_common_args": common,
                    "ansible_python_interpreter": "/usr/bin/python3",
                },
                "hosts": hosts,
                "children": groups,
            }
        }

    def router_targets(self) -> list[dict[str, Any]]:
        """Each router as the dual-link rollout reaches it: FRR's pathspace on
        this machine, its saved configuration in the lab directory, its routing
        as the estate derives it (the same the lab renders with routing on),
        its parent and its uplinks."""
        plan = self.plan
        bfd_links = frr.bfd_timers(plan)
        targets = []
        for router in plan.routers:
            uplinks = [c for c in plan.cables if c.child == router.node]
            targets.append(
                {
                    "node": router.node,
                    "level": router.level,
                    "parent": uplinks[0].parent if uplinks else None,
                    "pathspace": frr.pathspace(router),
                    "config": str(self.directory / "routers" / router.node / "frr.conf"),
                    "preamble": list(frr.preamble(router)),
                    "routing": frr.routing(
                        router, bfd_links=bfd_links, ospf6=plan.routers_ipv6
                    ).to_dict(),
                    "uplinks": [
                        {"link": c.link, "role": c.role, "interface": c.child_if, "bfd": c.bfd}
                        for c in uplinks
                    ],
                }
            )
        return targets

    @contextmanager
    def entered(self, node: str) -> Iterator[None]:
        """Run the block's sockets inside a node's namespace (this thread only)."""
        with netns.entered(self.namespace(node)):
            yield

    def named(self, target: str) -> str:
        """A node or link as a person types it: `华龙区` is `hl`, `华龙区/primary`
        is `hl/primary`; codes pass through unchanged."""
        node, slash, role = target.rpartition("/")
        if not slash:
            node, role = target, ""
        if node in self.plan.node_ids():
            return target
        try:
            _, code = load_estate(self.plan.estate).resolve(node, ("county", "township"))
        except UnknownName:
            return target  # no name either: the verb says there is no such link or node
        return f"{code}/{role}" if slash else code

    def cut(self, link: str) -> None:
        with locked(self.directory):
            chaos.cut(self.state, link)

    def blackhole(self, link: str) -> None:
        with locked(self.directory):
            chaos.blackhole(self.state, link)

    def throttle(self, link: str, rate_bps: int | None = None) -> int:
        with locked(self.directory):
            return chaos.throttle(self.state, link, rate_bps)[1]

    def partition(self, node: str) -> None:
        with locked(self.directory):
            chaos.partition(self.state, node)

    def restore(self, target: str | None = None, *, wait: bool = False) -> None:
        """Heal a link, a node's links, or everything (None); `wait` until
        OSPF is Full again on every link."""
        with locked(self.directory):
            chaos.restore(self.state, target)
        if wait:
            self.wait_converged()

    def wait_converged(self, timeout_s: float = 30.0) -> None:
        """Until every healthy link has Full OSPFv2 and OSPFv3 adjacencies."""
        state = self.state
        plan = LabPlan.from_dict(state.plan)
        build.converge(plan, timeout_s=timeout_s, broken=set(state.chaos), ospf6=plan.routers_ipv6)
