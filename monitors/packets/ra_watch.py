"""Router Advertisements a router sends on its segments, heard on the wire.

The IPv6 migration's router gate must see what the segment's hosts see: an
RA from the router with the M and O flags, and the prefixes with the A
flag, that the estate's `ipv6_mode` declares. zebra reporting RA as enabled
is not that: the RA has to leave the router on that segment.

In the lab the watch captures on the segment's interface (its bridge) in
the router's namespace, as the adoption gate does, and keeps the RAs whose
source MAC is that interface's own: the router's, not a rogue's. zebra
advertises every `ipv6 nd ra-interval` (FRR's default: up to 600 s, after a
few fast ones when RA is switched on), too seldom for a gate; so the watch
solicits: a Router Solicitation from a host on the segment, sent from that
host's namespace as its kernel would at link-up, which zebra answers within
3 s (RFC 4861 6.2.6). On a segment without a host, the RS leaves the
router's own stack and reaches its RA daemon by multicast loopback.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Final

from .decode import PROTO_ICMPV6, MalformedPacket, decode
from .detections.ndp import ROUTER_ADVERT, prefix_information
from .live import CaptureError, LiveCapture

# Enters a network namespace by name for the length of a `with` (lab.netns.entered).
EnterNamespace = Callable[[str], AbstractContextManager[object]]

# ICMPv6 type 134 right after a plain IPv6 header: an RA carries no extension header.
_BPF: Final = "icmp6 and ip6[40] == 134"
_M: Final = 0x80
_O: Final = 0x40
_A: Final = 0x40
_SOLICIT_EVERY_S: Final = 2.0  # zebra answers within 3 s; one more in case the first is lost
_MAX_SOLICITS: Final = 30  # a gate is at most 300 s: never an RS flood
_SIOCGIFHWADDR: Final = 0x8927
_JOIN_S: Final = 2.0


@dataclass(frozen=True)
class RaTap:
    """Where to hear one router's RAs on one segment."""

    router: str  # the node sending them
    interface: str  # the segment's interface on the router (its bridge in the lab)
    namespace: str | None = None  # the router's network namespace (the lab)
    solicit_from: tuple[str, str] | None = None  # (namespace, interface) of a host on it


@dataclass(frozen=True)
class HeardRa:
    """The last RA the router sent on the segment."""

    managed: bool  # M
    other: bool  # O
    prefixes: tuple[tuple[str, bool], ...]  # (prefix, A flag), in the RA's order


def parse_ra(frame: bytes, own_mac: bytes) -> HeardRa | None:
    """The RA in `frame` if it is one sent from `own_mac`, else None."""
    try:
        packet = decode(frame)
    except MalformedPacket:
        return None
    if packet.proto != PROTO_ICMPV6 or packet.icmp_type != ROUTER_ADVERT:
        return None
    if packet.eth_src != own_mac or packet.l4 < 0 or len(frame) < packet.l4 + 16:
        return None
    flags = frame[packet.l4 + 5]
    prefixes = tuple((str(p), bool(f & _A)) for p, f in prefix_information(packet))
    return HeardRa(bool(flags & _M), bool(flags & _O), prefixes)


def router_solicitation(source_mac: bytes) -> bytes:
    """An RS from the unspecified address to all-routers (RFC 4861 4.1): no
    source link-layer option, so the host needs no IPv6 address of its own."""
    src, dst = bytes(16), socket.inet_pton(socket.AF_INET6, "ff02::2")
    body = bytearray(struct.pack("!BBHI", 133, 0, 0, 0))
    pseudo = src + dst + struct.pack("!I3xB", len(body), PROTO_ICMPV6)
    struct.pack_into("!H", body, 2, _checksum(pseudo + bytes(body)))
    ipv6 = struct.pack("!IHBB", 6 << 28, len(body), PROTO_ICMPV6, 255) + src + dst
    return b"\x33\x33\x00\x00\x00\x02" + source_mac + b"\x86\xdd" + ipv6 + bytes(body)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _mac(sock: socket.socket, interface: str) -> bytes:
    request = struct.pack("256s", interface.encode()[:15])
    return fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, request)[18:24]


class _SegmentEar:
    """One segment's capture and its solicitations."""

    def __init__(self, tap: RaTap, enter: EnterNamespace | None) -> None:
        self.tap = tap
        self.heard: HeardRa | None = None
        self.error = ""
        self.unsent = ""  # why the last solicitation could not be sent
        self._stop = threading.Event()
        self._solicitor: _Solicitor | None = None
        self._capture: LiveCapture | None = None
        self._thread: threading.Thread | None = None
        try:
            with _inside(tap.namespace, enter):
                self._capture = LiveCapture(tap.interface, bpf=_BPF, promisc=False)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    self._own_mac = _mac(probe, tap.interface)
                if tap.solicit_from is None:
                    self._solicitor = _RouterSolicitor(tap.interface)
            if tap.solicit_from is not None:
                with _inside(tap.solicit_from[0], enter):
                    self._solicitor = _HostSolicitor(tap.solicit_from[1])
        except (CaptureError, OSError) as exc:  # one segment failing fails only its gate
            self.error = f"no capture on {tap.router} {tap.interface}: {exc}"
            self.close()
            return
        self._thread = threading.Thread(target=self._run, name=f"ra {tap.router}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._capture is not None and self._solicitor is not None
        solicits, last = 0, float("-inf")
        try:
            while not self._stop.is_set():
                due = self.heard is None and solicits < _MAX_SOLICITS
                if due and time.monotonic() - last >= _SOLICIT_EVERY_S:
                    solicits, last = solicits + 1, time.monotonic()
                    try:
                        self._solicitor.send()
                    except OSError as exc:  # e.g. no link-local address yet (DAD): retry
                        self.unsent = f"the solicitation failed: {exc.strerror}"
                for _ts, frame, _length in self._capture.records(duration=0.5, stop=self._stop):
                    self.heard = parse_ra(frame, self._own_mac) or self.heard
        except (CaptureError, OSError) as exc:  # the interface went away under the capture
            self.error = f"capture on {self.tap.router} {self.tap.interface} failed: {exc}"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_JOIN_S)
        for closing in (self._capture, self._solicitor):
            if closing is not None:
                closing.close()


def _inside(namespace: str | None, enter: EnterNamespace | None) -> AbstractContextManager[object]:
    if namespace is None:
        return nullcontext()
    if enter is None:
        raise CaptureError(f"no way to enter namespace {namespace}")
    return enter(namespace)


class _HostSolicitor:
    """A host on the segment soliciting: an RS frame from its interface, as
    its kernel sends at link-up. Open it inside the host's namespace."""

    def __init__(self, interface: str) -> None:
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            self._sock.bind((interface, 0))
            self._frame = router_solicitation(_mac(self._sock, interface))
        except OSError:
            self._sock.close()
            raise

    def send(self) -> None:
        self._sock.send(self._frame)

    def close(self) -> None:
        self._sock.close()


class _RouterSolicitor:
    """No host on the segment: the RS leaves the router's own stack to
    all-routers on the interface, and multicast loopback hands it to the
    router's RA daemon as it would a host's. Open it inside the router's
    namespace."""

    def __init__(self, interface: str) -> None:
        self._index = socket.if_nametoindex(interface)
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self._index)
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
        except OSError:
            self._sock.close()
            raise

    def send(self) -> None:
        # The kernel fills in the source address and the ICMPv6 checksum.
        self._sock.sendto(struct.pack("!BBHI", 133, 0, 0, 0), ("ff02::2", 0, 0, self._index))

    def close(self) -> None:
        self._sock.close()


_Solicitor = _HostSolicitor | _RouterSolicitor


class RaWatch:
    """The RAs a router batch's routers send on their segments, while its gate runs."""

    def __init__(self, taps: list[RaTap], enter: EnterNamespace | None = None) -> None:
        self._ears = {(t.router, t.interface): _SegmentEar(t, enter) for t in taps}

    def heard(self, router: str, interface: str) -> HeardRa | str:
        """The last RA the router sent on the segment, or what stands in its way."""
        ear = self._ears.get((router, interface))
        if ear is None:
            return f"no capture on {router} {interface}"
        if ear.heard is not None:
            return ear.heard
        if ear.error:
            return ear.error
        who = "a host on it" if ear.tap.solicit_from else f"{router} itself"
        why = f"; {ear.unsent}" if ear.unsent else ""
        return f"no Router Advertisement heard on {router} {interface} (solicited from {who}{why})"

    def close(self) -> None:
        for ear in self._ears.values():
            ear.close()
