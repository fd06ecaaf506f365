"""A segment of two namespaces on one veth, for the migration gates' watches:
the "router" end the watch captures on and the "host" end it hears from."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    router: str  # namespaces
    host: str


def in_namespace(namespace: str, *argv: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", namespace, *argv], check=True, capture_output=True, timeout=15
    )


@contextmanager
def veth_segment(
    prefix: str,
    router_if: str,
    host_if: str,
    addresses: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> Iterator[Segment]:
    """Namespaces `{prefix}-r{pid}` and `{prefix}-h{pid}` joined by a veth whose
    ends are named `router_if` and `host_if`, up, with `addresses` (router's,
    host's; IPv6 ones without DAD); both namespaces deleted on the way out."""
    tag = os.getpid()
    seg = Segment(f"{prefix}-r{tag}", f"{prefix}-h{tag}")
    try:
        for ns in (seg.router, seg.host):
            subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
        subprocess.run(
            ["ip", "link", "add", f"{prefix}-r{tag}", "netns", seg.router, "type", "veth",
             "peer", "name", f"{prefix}-h{tag}", "netns", seg.host],
            check=True, timeout=10,
        )  # fmt: skip
        for ns, dev, name, own in (
            (seg.router, f"{prefix}-r{tag}", router_if, addresses[0]),
            (seg.host, f"{prefix}-h{tag}", host_if, addresses[1]),
        ):
            in_namespace(ns, "ip", "link", "set", dev, "name", name)
            for address in own:
                extra = ["nodad"] if ":" in address else []
                in_namespace(ns, "ip", "addr", "add", address, "dev", name, *extra)
            in_namespace(ns, "ip", "link", "set", name, "up")
        yield seg
    finally:
        for ns in (seg.router, seg.host):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=10)
