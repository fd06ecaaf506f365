"""`up` and `down`: make the planned lab real, and undo it from the record.

`up` records each namespace before creating it and each process right after
starting it (lab.state), so `down` — or a `down` after a crash or a Ctrl-C
half-way through `up` — finds everything from the lab directory alone.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from estate import Estate
from lab import drsite, frr, hosts, netns, rootfs, snmpd
from lab.addressing import AddressMap
from lab.blueprint import LabPlan, Router, plan_slice
from lab.errors import LabError
from lab.placement import Slice
from lab.proc import run, stop_all
from lab.state import LabState, lab_tag

T = TypeVar("T")
# Daemons start in parallel; more workers than this only queue on 2 cores.
_WORKERS = 4
# The router interfaces an IPv4-only lab leaves without IPv6 (the migration's
# to give); links keep theirs, inert without OSPFv3, and the NMS stays dual-stack.
MIGRATED_KINDS = ("lan", "zone")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, FRR, snmpd): run it with sudo")


def up(
    estate: Estate,
    cut: Slice,
    directory: Path,
    *,
    bfd_ms: int | None = 100,
    hosts_ipv6: bool = True,
    routing: bool = True,
    routers_ipv6: bool = True,
    secrets: Mapping[str, str] | None = None,
) -> LabState:
    """Build the lab; `secrets` are fallbacks for unset env references (tests).

    `routing` False starts every router's daemons with its interfaces and
    addresses but no OSPF or BFD: what `yunwang rollout dual-links` starts from.
    `routers_ipv6` False starts them IPv4-only on their LANs and zones, without
    OSPFv3 (hosts too): what `yunwang migrate ipv6` starts from.
    """
    require_root()
    state = LabState.load(directory)
    if not state.is_empty():
        raise LabError(
            f"a lab is already up in {directory} (estate {state.estate}): "
            "run `yunwang lab down` first"
        )
    started = time.monotonic()
    state = LabState(directory=directory, tag=lab_tag(directory))
    plan = plan_slice(estate, cut, state.tag)
    plan.bfd_ms, plan.hosts_ipv6, plan.routing = bfd_ms, hosts_ipv6 and routers_ipv6, routing
    plan.routers_ipv6 = routers_ipv6
    if cut.dr_hosts:
        drsite.add_dr_site(estate, plan, cut.dr_hosts, AddressMap.from_dict(plan.addresses))
    # Secrets and credentials first: a missing key must not cost a half-built lab.
    agents = {r.node: _agent_config(estate, plan, r, secrets or {}) for r in plan.routers}
    state.estate, state.slice, state.plan, state.phase = (
        estate.file,
        plan.slice,
        plan.to_dict(),
        "building",
    )
    state.save()
    try:
        rootfs_dir = rootfs.ensure(log=True) if plan.hosts else None
        _namespaces(plan, state)
        _wire(plan)
        state.timings["network_s"] = round(time.monotonic() - started, 2)
        _routers(plan, state, agents)
        state.timings["routers_s"] = round(time.monotonic() - started, 2)
        if rootfs_dir is not None:
            _hosts(plan, state, rootfs_dir)
        state.timings["hosts_s"] = round(time.monotonic() - started, 2)
        if routing:
            converge(plan, ospf6=routers_ipv6)
    except BaseException:
        # Leave nothing half-built behind; the record makes this the same
        # clean-up a later `down` would do.
        state.phase = "failed"
        state.save()
        down(directory)
        raise
    state.phase = "up"
    state.timings["up_s"] = round(time.monotonic() - started, 2)
    state.save()
    return state


def _namespaces(plan: LabPlan, state: LabState) -> None:
    for router in plan.routers:
        state.add_namespace(router.namespace)
        netns.create(router.namespace, netns.ROUTER_SYSCTLS)
    for name in [h.namespace for h in plan.hosts] + [plan.nms_namespace]:
        state.add_namespace(name)
        netns.create(name, netns.HOST_SYSCTLS)


def _wire(plan: LabPlan) -> None:
    """Bridges first (ports need them), then every cable, then addresses."""
    for router in plan.routers:
        netns.ip_batch(
            router.namespace,
            [
                f"link add {i.name} type bridge"
                for i in router.interfaces
                if i.kind in ("lan", "zone")
            ],
        )
    for cable in plan.cables:
        netns.veth(cable.child_ns, cable.child_if, cable.parent_ns, cable.parent_if)
    city = plan.routers[0]
    netns.veth(city.namespace, "nms", plan.nms_namespace, "eth0")
    drsite.connect_nms(plan)
    for host in plan.hosts:
        router = plan.router(host.router)
        netns.veth(router.namespace, host.port, host.namespace, "eth0")
    bridge_of = {s.name: s.bridge for s in plan.segments}
    for router in plan.routers:
        commands: list[str] = []
        for iface in router.interfaces:
            alias = iface.alias.replace('"', "'")  # ip -batch quoting
            commands.append(f'link set dev {iface.name} alias "{alias}"')
            commands += [
                f"addr add {a} dev {iface.name}" + (" nodad" if ":" in a else "")
                for a in iface.addresses
                if plan.routers_ipv6 or ":" not in a or iface.kind not in MIGRATED_KINDS
            ]
            commands.append(f"link set dev {iface.name} up")
        for host in plan.hosts:
            if host.router == router.node:
                commands += [
                    f"link set dev {host.port} master {bridge_of[host.segment]}",
                    f"link set dev {host.port} up",
                ]
        netns.ip_batch(router.namespace, commands)
    for host in plan.hosts:
        netns.ip_batch(host.namespace, hosts.configure_network(host, ipv6=plan.hosts_ipv6))
    netns.ip_batch(
        plan.nms_namespace,
        [
            f"addr add {plan.nms_address4} dev eth0",
            f"addr add {plan.nms_address6} dev eth0 nodad",
            "link set eth0 up",
            f"route add default via {city_nms_gateway(plan, 4)}",
            f"route add ::/0 via {city_nms_gateway(plan, 6)}",
        ],
    )
    drsite.route_nms(plan)


def city_nms_gateway(plan: LabPlan, family: int) -> str:
    iface = next(i for i in plan.routers[0].interfaces if i.kind == "nms")
    return next(a.split("/")[0] for a in iface.addresses if (":" in a) == (family == 6))


def _agent_config(estate: Estate, plan: LabPlan, router: Router, secrets: Mapping[str, str]) -> str:
    credential = estate.monitoring.credentials.get(router.credential)
    if credential is None:
        raise LabError(
            f"{estate.file}: node {router.node}: no SNMP credential "
            f"{router.credential!r} in monitoring.credentials"
        )
    return snmpd.render(
        credential,
        allow_v2c=estate.monitoring.allow_v2c,
        name=router.credential,
        sys_name=router.node,
        defaults=secrets,
        # Notifications to the NMS, from the address its first device answers on.
        trap_sink=f"{plan.nms_address4.split('/')[0]}:{snmpd.TRAP_PORT}",
        trap_source=router.mgmt4[0],
    )


def _routers(plan: LabPlan, state: LabState, agents: dict[str, str]) -> None:
    bfd_links = frr.bfd_timers(plan)

    def start_one(router: Router) -> None:
        workdir = state.directory / "routers" / router.node
        workdir.mkdir(parents=True, exist_ok=True)
        # Under FRR's own run dir: the daemons read it after dropping to the
        # frr user, who cannot read a root-only lab directory.
        run_dir = frr.prepare_run_dir(router, state)
        agentx = snmpd.agentx_client_conf(run_dir / "agentx")
        # The agent first: FRR's subagents connect to it as they start.
        snmpd.start(router, state, workdir=workdir, config=agents[router.node])
        routing = (
            frr.routing(router, bfd_links=bfd_links, ospf6=plan.routers_ipv6)
            if plan.routing
            else None
        )
        config = frr.render(router, routing=routing)
        frr.start(router, state, workdir=workdir, agentx_conf=agentx, config=config)

    state.add_dir(str(state.directory / "routers"))
    _parallel(start_one, plan.routers)


def _hosts(plan: LabPlan, state: LabState, rootfs_dir: Path) -> None:
    key = hosts.lab_key(state.directory)
    state.add_dir(str(state.directory / "hosts"))
    for host in plan.hosts:
        hosts.start(
            host,
            state,
            rootfs=rootfs_dir,
            directory=state.directory,
            pubkey=key.with_suffix(".pub"),
        )
    _parallel(hosts.wait_ssh, plan.hosts)


def _parallel(work: Callable[[T], None], items: list[T]) -> None:
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()


def converge(
    plan: LabPlan, timeout_s: float = 60.0, broken: set[str] | None = None, *, ospf6: bool = True
) -> None:
    """Wait until every cable (but the `broken` links) has a Full OSPFv2 and
    (`ospf6`) OSPFv3 adjacency at both ends and, when nothing is broken,
    every router has installed a route to every other router's segments.
    (An adjacency is Full before SPF has run and zebra installed its routes:
    under load a host's first ping went out in between and was lost.)"""
    deadline = time.monotonic() + timeout_s
    wanted = _segments(plan, ospf6) if not broken else {}
    pending = list(plan.routers)
    while pending:
        pending = [
            r
            for r in pending
            if not (_adjacent(r, broken or set(), ospf6) and _routed(r, wanted.get(r.node, ())))
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(r.node for r in pending)
            raise LabError(f"OSPF did not converge within {timeout_s:.0f} s on: {names}")
        time.sleep(0.2)


def _segments(plan: LabPlan, ospf6: bool) -> dict[str, set[str]]:
    """For each router, the prefixes of the other routers' LANs and zones."""
    own = {
        r.node: {
            str(ipaddress.ip_interface(a).network)
            for i in r.interfaces
            if i.kind in ("lan", "zone")
            for a in i.addresses
            if ospf6 or ":" not in a
        }
        for r in plan.routers
    }
    return {node: set().union(*(p for n, p in own.items() if n != node)) for node in own}


def _routed(router: Router, prefixes: Iterable[str]) -> bool:
    wanted = set(prefixes)
    if not wanted:
        return True
    installed: set[str] = set()
    try:
        for command in ("show ip route json", "show ipv6 route json"):
            table = json.loads(frr.vtysh(router, command))
            installed |= {
                prefix
                for prefix, routes in table.items()
                if any(route.get("installed") for route in routes)
            }
    except (LabError, json.JSONDecodeError, AttributeError):
        return False
    return wanted <= installed


def _adjacent(router: Router, broken: set[str], ospf6: bool) -> bool:
    wanted = {i.name for i in router.interfaces if i.kind == "link" and i.link not in broken}
    try:
        v2 = json.loads(frr.vtysh(router, "show ip ospf neighbor json")).get("neighbors", {})
        v3 = (
            json.loads(frr.vtysh(router, "show ipv6 ospf6 neighbor json")).get("neighbors", [])
            if ospf6
            else []
        )
    except (LabError, json.JSONDecodeError):
        return False
    full4 = {
        n.get("ifaceName", "").split(":")[0]
        for ns in v2.values()
        for n in ns
        if str(n.get("nbrState", n.get("state", ""))).startswith("Full")
    }
    full6 = {n.get("interfaceName") for n in v3 if n.get("state") == "Full"}
    return wanted <= full4 and (not ospf6 or wanted <= full6)


# --- down ---------------------------------------------------------------------


def down(directory: Path) -> LabState:
    """Undo everything the record names; safe to run again, or after a crash."""
    require_root()
    state = LabState.load(directory)
    prefix = f"ywlab-{state.tag}-"
    # A host's unshare ignores SIGTERM while it waits for its child (util-linux
    # does that on --fork); SIGKILL is safe: --kill-child takes sshd with it.
    stop_all([(p.pid, p.started) for p in state.processes if p.what == "host"], grace_s=0)
    stop_all([(p.pid, p.started) for p in state.processes if p.what != "host"])
    # Anything else still inside our namespaces was started by this lab (a
    # command a test ran, an FRR helper): those namespaces are ours alone.
    names = sorted(set(state.namespaces) | set(netns.list_namespaces(prefix)))
    strays = [pid for name in names for pid in netns.pids_in(name) if pid != os.getpid()]
    stop_all([(pid, None) for pid in strays], grace_s=1.0)
    for name in names:
        netns.delete(name)
    for mount in reversed(state.mounts + _mounts_under(directory)):
        run(["umount", "-l", mount], check=False)
    for path in state.dirs:
        shutil.rmtree(path, ignore_errors=True)
    for router in state.plan.get("routers", []):
        shutil.rmtree(frr.FRR_RUN / router["namespace"], ignore_errors=True)
    empty = LabState(directory=directory, tag=state.tag, timings=state.timings)
    empty.save()
    return empty


def _mounts_under(directory: Path) -> list[str]:
    """Mounts on the machine below the lab directory (none, unless a crash
    left one behind; host overlays live in private mount namespaces)."""
    root = str(directory.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == root or point.startswith(root + "/"):
            found.append(point)
    return found
