"""The ring's block walk (monitors/packets/ring.py) on blocks built byte by byte.

The kernel writes the ring, but the walk trusts none of it: whatever the
block descriptor and the frame headers say, it reads only inside the block,
ends, and gives frames no longer than the block. tests/packets/test_live_ring.py
holds the ring to real frames on a veth; these hold the walk to the layout.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.packets.ring import frames_of_block

SIZE = 4096
HEADER = 48  # where a block's first frame starts, as the kernel lays it out
FRAME = struct.Struct("=IIIIIIHHIIH")
VLAN_VALID, TPID_VALID = 0x10, 0x40


def block(frames: list[tuple[bytes, int, int, int]], count: int | None = None) -> bytearray:
    """A block holding `frames` as (bytes, status flags, vlan tci, vlan tpid)."""
    buffer = bytearray(SIZE)
    struct.pack_into("=III", buffer, 8, 1, len(frames) if count is None else count, HEADER)
    offset = HEADER
    for n, (data, flags, tci, tpid) in enumerate(frames):
        mac = 64  # the frame header, padded, then the frame
        step = 0 if n == len(frames) - 1 else (mac + len(data) + 15) // 16 * 16
        FRAME.pack_into(buffer, offset, step, 1_767_225_600 + n, 500_000_000, len(data),
                        len(data), flags, mac, 0, 0, tci, tpid)  # fmt: skip
        buffer[offset + mac : offset + mac + len(data)] = data
        offset += step
    return buffer


ETHER = bytes.fromhex("02005e00aa0202005e00aa010800") + b"\x45" + bytes(19)


def test_frames_come_out_whole_with_their_time_and_length() -> None:
    frames = frames_of_block(block([(ETHER, 0, 0, 0), (ETHER + b"x" * 100, 0, 0, 0)]), 0, SIZE)
    assert [(f, n) for _, f, n in frames] == [(ETHER, len(ETHER)), (ETHER + b"x" * 100, 134)]
    assert frames[0][0] == 1_767_225_600.5


def test_a_stripped_tag_is_put_back_where_it_was_on_the_wire() -> None:
    frames = frames_of_block(
        block([(ETHER, VLAN_VALID, 42, 0), (ETHER, VLAN_VALID | TPID_VALID, 7, 0x88A8)]), 0, SIZE
    )
    (_, tagged, length), (_, outer, _) = frames
    assert tagged == ETHER[:12] + bytes.fromhex("8100002a") + ETHER[12:]
    assert length == len(ETHER) + 4
    assert outer[12:16] == bytes.fromhex("88a80007")


def test_a_frame_that_would_end_past_the_block_ends_the_walk() -> None:
    buffer = block([(ETHER, 0, 0, 0), (ETHER, 0, 0, 0)])
    second = HEADER + (64 + len(ETHER) + 15) // 16 * 16
    struct.pack_into("=I", buffer, second + 12, SIZE)  # its snaplen: the whole block
    assert [f for _, f, _ in frames_of_block(buffer, 0, SIZE)] == [ETHER]


def test_a_step_out_of_the_block_or_backwards_ends_the_walk() -> None:
    for step in (SIZE * 2, 8):  # past the end; shorter than a frame header
        buffer = block([(ETHER, 0, 0, 0), (ETHER, 0, 0, 0)])
        struct.pack_into("=I", buffer, HEADER, step)
        assert len(frames_of_block(buffer, 0, SIZE)) == 1


def test_a_count_larger_than_the_block_can_hold_reads_only_what_is_there() -> None:
    assert len(frames_of_block(block([(ETHER, 0, 0, 0)], count=2**32 - 1), 0, SIZE)) == 1


def test_a_block_in_the_middle_of_the_ring_reads_only_itself() -> None:
    ring = bytearray(SIZE) + block([(ETHER, 0, 0, 0)]) + bytearray(SIZE)
    assert [f for _, f, _ in frames_of_block(ring, SIZE, SIZE)] == [ETHER]
    struct.pack_into("=I", ring, SIZE + 8 + 8, SIZE + 100)  # first frame past its block
    assert frames_of_block(ring, SIZE, SIZE) == []


SMALL = 512
WIDE = st.integers(0, SMALL + 64)  # in the block and a little past it


@st.composite
def hostile_block(draw: st.DrawFn) -> bytearray:
    """A block whose descriptor and frame headers hold arbitrary values near
    the block's bounds, between guard bytes; the rest random bytes."""
    ring = bytearray(b"\xee" * SMALL) + bytearray(draw(st.binary(min_size=SMALL, max_size=SMALL)))
    ring += b"\xee" * SMALL
    first = draw(WIDE)
    struct.pack_into("=III", ring, SMALL + 8, 1, draw(st.integers(0, 2**32 - 1)), first)
    offset = first
    for _ in range(draw(st.integers(0, 12))):
        if offset + FRAME.size > SMALL:
            break
        step = draw(WIDE)
        flags = draw(st.sampled_from([0, VLAN_VALID, VLAN_VALID | TPID_VALID]))
        FRAME.pack_into(ring, SMALL + offset, step, 1, 2, draw(WIDE), draw(WIDE), flags,
                        draw(WIDE), 0, 0, draw(st.integers(0, 0xFFFF)),
                        draw(st.integers(0, 0xFFFF)))  # fmt: skip
        if step == 0:
            break
        offset += step
    return ring


@settings(max_examples=500, deadline=None)
@given(hostile_block())
def test_any_headers_in_a_block_give_frames_from_inside_it(ring: bytearray) -> None:
    """Every frame, less a tag the walk put back, is a run of the block's own
    bytes: nothing from the guard bytes on either side, never an error."""
    frames = frames_of_block(ring, SMALL, SMALL)
    assert len(frames) <= SMALL // FRAME.size
    own = bytes(ring[SMALL : 2 * SMALL])
    for _, frame, length in frames:
        assert length >= 0
        if frame not in own:  # then a tag was put back after the addresses
            assert frame[12:14] in (b"\x81\x00", b"\x88\xa8") or len(frame) >= 16
            assert frame[:12] + frame[16:] in own


def test_the_hostile_blocks_do_reach_frames() -> None:
    """The property above is not vacuous: its blocks give frames, tagged ones too."""
    found = tagged = 0

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(hostile_block())
    def count(ring: bytearray) -> None:
        nonlocal found, tagged
        frames = frames_of_block(ring, SMALL, SMALL)
        found += len(frames)
        own = bytes(ring[SMALL : 2 * SMALL])
        tagged += sum(1 for _, f, _ in frames if f not in own)

    count()
    assert found >= 10 and tagged >= 3, (found, tagged)
