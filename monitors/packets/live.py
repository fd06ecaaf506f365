"""Live capture: a scapy packet socket with a BPF filter, frames as bytes.

scapy opens the AF_PACKET socket and compiles the BPF filter with libpcap;
frames are then read from a TPACKET_V3 ring mapped on that socket
(`ring.Ring`: a block of frames at a time, no syscall per frame, VLAN tags
the kernel stripped put back). Where the kernel refuses a ring, frames are
received one at a time through scapy (which restores the tags from
auxdata). The sensor only takes the raw bytes and the kernel timestamp,
never a dissected packet. Kernel drops (ring or receive buffer full) come
from PACKET_STATISTICS.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Final

from scapy.arch.linux import L2ListenSocket
from scapy.error import Scapy_Exception

from .capture import Record
from .ring import Ring
from .sensor import SensorStats

# What the detections read: ARP, IPv4, IPv6, and any of them behind a VLAN tag.
DEFAULT_BPF: Final = "arp or ip or ip6 or vlan"
_SOL_PACKET: Final = 263
_PACKET_STATISTICS: Final = 6
_PACKET_FANOUT: Final = 18
_PACKET_FANOUT_DATA: Final = 22
_FANOUT_CBPF: Final = 6
_FANOUT_UNIQUEID: Final = 0x2000
_MTU: Final = 65535
# Without a ring, the socket's own buffer is all that holds frames while the
# sensor is busy or descheduled: the default (~200 KB) lost frames of a
# burst, or of a loaded machine at 20 frames a millisecond; the ring holds 8 MB.
RECEIVE_BUFFER: Final = 8 << 20
_SO_RCVBUFFORCE: Final = 33  # past net.core.rmem_max, with CAP_NET_ADMIN


class CaptureError(RuntimeError):
    """The interface cannot be captured on (one line: interface and reason)."""


class LiveCapture:
    def __init__(
        self, iface: str, bpf: str = DEFAULT_BPF, promisc: bool = True, ring: bool = True
    ) -> None:
        """`ring=False`: one receive per frame even where a ring is possible
        (the tests compare the two paths)."""
        self.iface = iface
        try:
            self._socket = L2ListenSocket(iface=iface, filter=bpf or None, promisc=promisc)
        except (OSError, Scapy_Exception, ValueError) as exc:
            raise CaptureError(f"{iface}: cannot capture ({exc})") from exc
        self.dropped = 0
        self._ring: Ring | None = None
        try:
            self._ring = Ring(self._socket.ins) if ring else None
        except (OSError, ValueError):  # no ring here: one frame per receive, as before
            self._ring = None
        if self._ring is None:
            self._grow_receive_buffer()

    def _grow_receive_buffer(self) -> None:
        sock = self._socket.ins
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:  # no CAP_NET_ADMIN: as much as net.core.rmem_max allows
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    @property
    def receive_buffer(self) -> int:
        """Bytes the kernel holds for this socket (its count, doubled for bookkeeping)."""
        return int(self._socket.ins.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    @property
    def ring_in_use(self) -> bool:
        return self._ring is not None

    def join_fanout(self, group: int | None = None) -> int:
        """Share the interface's packets with the other sockets of a fanout
        group: the kernel hands each packet to one of them, chosen by
        `fanout.fanout_program` (the client's address). Without `group`, a
        new group with an id unused on this host is made; returns its id.
        """
        from .fanout import fanout_program, sock_fprog

        sock = self._socket.ins
        mode = _FANOUT_CBPF << 16
        try:
            if group is None:
                sock.setsockopt(_SOL_PACKET, _PACKET_FANOUT, mode | _FANOUT_UNIQUEID << 16)
                group = struct.unpack("I", sock.getsockopt(_SOL_PACKET, _PACKET_FANOUT, 4))[0]
                group &= 0xFFFF
            else:
                sock.setsockopt(_SOL_PACKET, _PACKET_FANOUT, mode | group)
            # Keep the buffer referenced until the kernel has copied the program.
            buffer, fprog = sock_fprog(fanout_program())
            sock.setsockopt(_SOL_PACKET, _PACKET_FANOUT_DATA, fprog)
            del buffer
        except OSError as exc:
            raise CaptureError(
                f"{self.iface}: cannot share capture across processes ({exc})"
            ) from exc
        return group

    def records(
        self,
        duration: float | None = None,
        count: int | None = None,
        stats: SensorStats | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Record]:
        """Frames as they arrive, until `duration` seconds or `count` frames.

        With `stats`, its `dropped` follows the kernel's count while capturing
        (checked when idle and every few thousand frames), so a scrape shows
        drops as they happen. With `stop`, it ends within 0.2 s of being set
        (a caller in another thread: `yunwang watch`).
        """
        if self._ring is not None:
            yield from self._from_ring(self._ring, duration, count, stats, stop)
            return
        deadline = None if duration is None else time.monotonic() + duration
        received = 0
        fd = self._socket.ins
        while (count is None or received < count) and not (stop and stop.is_set()):
            wait = 0.2
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                if stats is not None:
                    stats.dropped = self.update_drops()
                continue
            try:
                _, frame, ts = self._socket.recv_raw(_MTU)
            except OSError as exc:  # the interface was taken down or away under the capture
                raise CaptureError(f"{self.iface}: capture stopped ({exc.strerror})") from None
            if frame is None:
                continue
            received += 1
            if stats is not None and not received & 0x1FFF:
                stats.dropped = self.update_drops()
            yield (ts if ts is not None else time.time()), frame, len(frame)
        if stats is not None:
            stats.dropped = self.update_drops()

    def _from_ring(
        self,
        ring: Ring,
        duration: float | None,
        count: int | None,
        stats: SensorStats | None,
        stop: threading.Event | None,
    ) -> Iterator[Record]:
        deadline = None if duration is None else time.monotonic() + duration
        received = 0
        poller = select.poll()
        poller.register(self._socket.ins, select.POLLIN | select.POLLERR)
        while (count is None or received < count) and not (stop and stop.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if ring.ready():
                for record in ring.take():
                    received += 1
                    yield record
                    if count is not None and received >= count:
                        break
                if stats is not None:
                    stats.dropped = self.update_drops()  # once a block, not once a frame
                continue
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                break
            events = poller.poll(wait * 1000)
            if any(flags & select.POLLERR for _, flags in events):
                # The interface was taken down or away: the socket says why.
                error = self._socket.ins.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise CaptureError(f"{self.iface}: capture stopped ({os.strerror(error)})")
            if not events and stats is not None:
                stats.dropped = self.update_drops()
        if stats is not None:
            stats.dropped = self.update_drops()

    def update_drops(self) -> int:
        """Add the kernel's drop count since the last call (the kernel resets it)."""
        try:
            raw = self._socket.ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
        except OSError:
            return self.dropped
        _, drops = struct.unpack("II", raw)
        self.dropped += drops
        return self.dropped

    def close(self) -> None:
        if self._ring is not None:
            self._ring.close()
            self._ring = None
        self._socket.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def interface_exists(iface: str) -> bool:
    try:
        socket.if_nametoindex(iface)
    except OSError:
        return False
    return True
