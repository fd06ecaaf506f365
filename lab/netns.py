"""Network namespaces, veth pairs, bridges and the qdiscs that fake failures.

Only `net.*` sysctls are set, and only inside the lab's own namespaces: they
are per namespace, so nothing on the machine itself changes.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.proc import run

# Set in every router namespace (see TESTBED.md): forwarding, addresses that
# survive link-down and need no DAD wait, routes over a dead link ignored, and
# enough IGMP memberships for a router with many OSPF interfaces.
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
    "net.ipv6.conf.default.forwarding": "1",
    "net.ipv4.conf.all.ignore_routes_with_linkdown": "1",
    "net.ipv4.conf.default.ignore_routes_with_linkdown": "1",
    "net.ipv6.conf.all.ignore_routes_with_linkdown": "1",
    "net.ipv6.conf.default.ignore_routes_with_linkdown": "1",
    "net.ipv6.conf.all.keep_addr_on_down": "1",
    "net.ipv6.conf.default.keep_addr_on_down": "1",
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv4.igmp_max_memberships": "512",
    # Failover makes paths asymmetric for a moment: strict reverse-path
    # filtering would drop exactly the packets the tests measure.
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}
# Hosts and the NMS: addresses at once, static routes, no router advertisements
# from a lab router changing what the test configured.
HOST_SYSCTLS = {
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.keep_addr_on_down": "1",
    "net.ipv6.conf.default.keep_addr_on_down": "1",
    "net.ipv6.conf.default.accept_ra": "0",
}


def exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def list_namespaces(prefix: str) -> list[str]:
    try:
        return sorted(p.name for p in Path("/run/netns").iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def create(name: str, sysctls: dict[str, str]) -> None:
    """A fresh namespace with lo up and its sysctls set before any interface
    exists (the `default.*` values only reach interfaces created later)."""
    if exists(name):
        raise LabError(f"namespace {name} already exists (run `yunwang lab down` first)")
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    if sysctls:
        args = [f"{key}={value}" for key, value in sysctls.items()]
        run(["ip", "netns", "exec", name, "sysctl", "-q", "-w", *args])


def delete(name: str) -> None:
    if exists(name):
        run(["ip", "netns", "delete", name], check=False)


def pids_in(name: str) -> list[int]:
    if not exists(name):
        return []
    done = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def ip_batch(namespace: str, commands: Sequence[str]) -> None:
    """Many `ip` commands in one process: building a lab is mostly these."""
    if commands:
        run(["ip", "-n", namespace, "-batch", "-"], input_text="\n".join(commands) + "\n")


def veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """A cable: one end in each namespace, created there directly (no name is
    ever taken in the machine's own namespace)."""
    for ifname in (if_a, if_b):
        if len(ifname) > 15:
            raise LabError(f"interface name {ifname!r} is longer than 15 characters")
    run(
        [
            "ip",
            "link",
            "add",
            if_a,
            "netns",
            ns_a,
            "type",
            "veth",
            "peer",
            "name",
            if_b,
            "netns",
            ns_b,
        ]
    )


def links(namespace: str) -> list[dict[str, Any]]:
    done = run(["ip", "-n", namespace, "-j", "-d", "link", "show"], check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return []
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


def qdisc(namespace: str, ifname: str) -> dict[str, Any] | None:
    """The root qdisc of an interface (None if the namespace is gone)."""
    done = run(
        ["ip", "netns", "exec", namespace, "tc", "-j", "qdisc", "show", "dev", ifname], check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        return None
    for entry in json.loads(done.stdout):
        if entry.get("root"):
            return dict(entry)
    return None


def set_link(namespace: str, ifname: str, up: bool) -> None:
    run(["ip", "-n", namespace, "link", "set", "dev", ifname, "up" if up else "down"])


def drop_all(namespace: str, ifname: str) -> None:
    """Silent failure: the link stays up, every packet it would send is dropped."""
    run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "tc",
            "qdisc",
            "replace",
            "dev",
            ifname,
            "root",
            "pfifo",
            "limit",
            "0",
        ]
    )


def rate_limit(namespace: str, ifname: str, rate_bps: int) -> None:
    """Cap the egress rate with htb (no tbf or netem on this kernel).

    The class's queue holds about 50 ms at the capped rate, like a real
    shaper's buffer: with the default 1000 packets a saturated link would
    queue BFD's packets for seconds and fail over on its own.
    """
    tc = ["ip", "netns", "exec", namespace, "tc"]
    rate = f"{rate_bps}bit"
    packets = max(10, rate_bps // 8 // 1500 // 20)
    run([*tc, "qdisc", "replace", "dev", ifname, "root", "handle", "1:", "htb", "default", "10"])
    run(
        [
            *tc,
            "class",
            "replace",
            "dev",
            ifname,
            "parent",
            "1:",
            "classid",
            "1:10",
            "htb",
            "rate",
            rate,
            "ceil",
            rate,
        ]
    )
    run(
        [
            *tc,
            "qdisc",
            "replace",
            "dev",
            ifname,
            "parent",
            "1:10",
            "handle",
            "10:",
            "pfifo",
            "limit",
            str(packets),
        ]
    )


def clear_qdisc(namespace: str, ifname: str) -> None:
    run(
        ["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", ifname, "root"], check=False
    )


_CLONE_NEWNET = 0x40000000


@contextmanager
def entered(namespace: str) -> Iterator[None]:
    """Move the *calling thread* into a namespace for the block, then back.

    Sockets opened inside the block stay in that namespace: a test can run a
    pysnmp poller in a thread that entered the lab's NMS namespace.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{namespace}") as target:
        if libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
            raise LabError(f"cannot enter namespace {namespace}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            libc.setns(home.fileno(), _CLONE_NEWNET)
