"""A TPACKET_V3 receive ring on a packet socket: frames without a syscall each.

Reading a packet socket one `recvmsg` at a time cost the live sensor more
than decoding (a select, a recvmsg with its ancillary data and a timestamp
ioctl per frame: 44k frames per CPU-second against 117k from a file,
bench/RESULTS.md, issue 13). With a ring the kernel writes frames into
memory shared with us, a block of them at a time; we walk the block and
hand it back. This is what libpcap does on Linux.

Layouts (linux/if_packet.h): `tpacket_req3` (7 u32), the block descriptor
(`tpacket_block_desc`: version, offset_to_priv, then `tpacket_hdr_v1`:
block_status, num_pkts, offset_to_first_pkt, ...) and each frame's
`tpacket3_hdr` (next_offset, sec, nsec, snaplen, len, status, mac, net,
rxhash, vlan_tci, vlan_tpid).

Every offset and length read from the ring is checked against the block
before it is used: the kernel writes the ring, but a bug here would read
another block's memory, never past the mapping.
"""

from __future__ import annotations

import mmap
import socket
import struct
from collections.abc import Iterator
from typing import Final

_SOL_PACKET: Final = 263
_PACKET_RX_RING: Final = 5
_PACKET_VERSION: Final = 10
_TPACKET_V3: Final = 2
_TP_STATUS_KERNEL: Final = 0
_TP_STATUS_USER: Final = 1
_TP_STATUS_VLAN_VALID: Final = 0x10
_TP_STATUS_VLAN_TPID_VALID: Final = 0x40
_BLOCK_STATUS: Final = struct.Struct("=III")  # block_status, num_pkts, offset_to_first_pkt at 8
_STATUS: Final = struct.Struct("=I")
_FRAME: Final = struct.Struct("=IIIIIIHHIIH")  # tpacket3_hdr up to vlan_tpid
_DOT1Q: Final = 0x8100


class Ring:
    """The mapped ring of one packet socket (bound, filter attached)."""

    def __init__(
        self,
        sock: socket.socket,
        block_size: int = 1 << 20,
        blocks: int = 8,
        retire_ms: int = 20,
    ) -> None:
        """`retire_ms`: how long the kernel fills a block before handing it
        over part-full: the latency of a quiet link."""
        sock.setsockopt(_SOL_PACKET, _PACKET_VERSION, _TPACKET_V3)
        frame_size = 2048  # V3 packs frames by their length; this only sizes tp_frame_nr
        request = struct.pack(
            "=7I",
            block_size,
            blocks,
            frame_size,
            block_size * blocks // frame_size,
            retire_ms,
            0,
            0,
        )
        sock.setsockopt(_SOL_PACKET, _PACKET_RX_RING, request)
        self.block_size = block_size
        self.blocks = blocks
        try:
            self.map = mmap.mmap(
                sock.fileno(),
                block_size * blocks,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError:
            # A ring nobody reads would swallow every frame: take it down, so
            # the caller's receive path gets them.
            sock.setsockopt(_SOL_PACKET, _PACKET_RX_RING, bytes(struct.calcsize("=7I")))
            raise
        self._next = 0

    def ready(self) -> bool:
        """A block is ours to read."""
        status = _STATUS.unpack_from(self.map, self._next * self.block_size + 8)[0]
        return bool(status & _TP_STATUS_USER)

    def take(self) -> Iterator[tuple[float, bytes, int]]:
        """The frames of the next block (if it is ours), then the block goes back.

        Frames are copies: the caller may keep them after the block is returned.
        """
        start = self._next * self.block_size
        if not _STATUS.unpack_from(self.map, start + 8)[0] & _TP_STATUS_USER:
            return
        frames = frames_of_block(self.map, start, self.block_size)
        _STATUS.pack_into(self.map, start + 8, _TP_STATUS_KERNEL)  # the kernel's again
        self._next = (self._next + 1) % self.blocks
        yield from frames

    def close(self) -> None:
        self.map.close()


def frames_of_block(
    ring: mmap.mmap | bytes | bytearray, start: int, size: int
) -> list[tuple[float, bytes, int]]:
    """(time, frame, length on the wire) of each frame of the block at `start`.

    Nothing read from the block is trusted: a frame header that points outside
    the block, or a step shorter than a header, ends the block there.
    """
    _, count, first = _BLOCK_STATUS.unpack_from(ring, start + 8)
    frames: list[tuple[float, bytes, int]] = []
    end = start + size
    offset = start + first
    unpack = _FRAME.unpack_from
    for _ in range(min(count, size // _FRAME.size)):
        if offset < start or offset + _FRAME.size > end:
            break
        step, sec, nsec, snap, length, flags, mac, _, _, tci, tpid = unpack(ring, offset)
        at = offset + mac
        if at + snap > end:
            break
        frame = bytes(ring[at : at + snap])
        if flags & _TP_STATUS_VLAN_VALID and len(frame) >= 12:
            # The kernel took the 802.1Q tag off into the header: put it back,
            # so the decoder sees the frame as it was on the wire.
            kind = tpid if flags & _TP_STATUS_VLAN_TPID_VALID and tpid else _DOT1Q
            frame = frame[:12] + struct.pack("!HH", kind, tci & 0xFFFF) + frame[12:]
            length += 4
        frames.append((sec + nsec / 1e9, frame, length))
        if step < _FRAME.size:
            break  # the last frame (0), or a step that would read a header twice
        offset += step
    return frames
