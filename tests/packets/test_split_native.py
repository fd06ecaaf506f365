"""The file-share assigner in C (split.c) decides as decoding the frame would.

The C assigner reads a hostile file's bytes (a classic pcap file mapped
whole, or the reader's buffer), so beyond the share-for-share
comparisons in test_file_share.py, every frame it decides on its own is
checked here against the reference, on frames built to reach each of its
branches: random bytes behind IPv4 headers of every header length,
fragment field and protocol, behind IPv6 headers of every next header,
behind one or two tags, and cut at every length.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from monitors.packets import PcapError, compiled, decode, read_capture
from monitors.packets.capture import PcapWriter
from monitors.packets.decode import MalformedPacket
from monitors.packets.shards import FileShare, ShardAssigner

needs_build = pytest.mark.skipif(
    not ShardAssigner(2).native, reason="the sensor is not compiled (make compile)"
)


def _reference(frame: bytes, shards: int) -> int:
    """The process decoding the frame gives, the flow table empty."""
    try:
        return ShardAssigner(shards, native=False).shard(decode(frame, 0.0, len(frame)))
    except MalformedPacket:
        return 0


def _assert_decides_as_decoding(frame: bytes) -> None:
    for shards in (2, 3, 5):
        buf = b"\xee" * 9 + frame + b"\xff" * 9  # inside a larger read buffer
        for native in (True, False):
            decided = ShardAssigner(shards, native=native).shard_at(buf, 9, 9 + len(frame))
            assert decided == -1 or decided == _reference(frame, shards), (native, frame.hex())


_MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"


@st.composite
def _ipv4_headers(draw: st.DrawFn) -> bytes:
    first = draw(st.sampled_from([0x45, 0x46, 0x4F, 0x44, 0x40, 0x55, 0x65]))
    total = draw(st.sampled_from([0, 19, 20, 28, 40, 60, 1500, 65535]))
    fragment = draw(st.sampled_from([0, 0x2000, 0x4000, 1, 0x1FFF, 0x2001]))
    proto = draw(st.sampled_from([1, 6, 17, 47, 58, 0]))
    addresses = draw(st.binary(min_size=8, max_size=8))
    return struct.pack("!BBHHHBBH", first, 0, total, 7, fragment, 64, proto, 0) + addresses


@st.composite
def _ipv6_headers(draw: st.DrawFn) -> bytes:
    first = draw(st.sampled_from([0x60, 0x6F, 0x70, 0x00]))
    payload = draw(st.sampled_from([0, 7, 8, 20, 1000, 65535]))
    next_header = draw(st.sampled_from([6, 17, 58, 59, 0, 43, 44, 51, 60, 1, 135]))
    addresses = draw(st.binary(min_size=32, max_size=32))
    return bytes([first, 0, 0, 0]) + struct.pack("!HBB", payload, next_header, 64) + addresses


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    tags = draw(st.sampled_from([b"", b"\x81\x00\x00\x07", b"\x81\x00\x00\x07\x81\x00\x00\x08",
                                 b"\x88\xa8\x00\x07", b"\x81\x00\x00\x07\x88\xa8\x00\x08"]))  # fmt: skip
    kind = draw(st.sampled_from(["ipv4", "ipv6", "arp", "other"]))
    if kind == "ipv4":
        body = b"\x08\x00" + draw(_ipv4_headers())
    elif kind == "ipv6":
        body = b"\x86\xdd" + draw(_ipv6_headers())
    elif kind == "arp":
        body = b"\x08\x06"
    else:
        body = draw(st.binary(min_size=2, max_size=2))
    frame = _MAC + tags + body + draw(st.binary(min_size=20, max_size=60))
    if draw(st.integers(0, 3)) == 0:  # a quarter cut short somewhere
        frame = frame[: draw(st.integers(min_value=0, max_value=len(frame)))]
    return frame


@needs_build
@settings(max_examples=4000, deadline=None)
@given(_frames())
def test_every_frame_decided_in_c_goes_where_decoding_sends_it(frame: bytes) -> None:
    _assert_decides_as_decoding(frame)


@needs_build
def test_fragments_arp_and_icmp_are_decided_without_a_decode() -> None:
    """What a file holds besides plain TCP/UDP is mostly these; each process
    would otherwise decode every one of them."""
    frames = [
        Ether() / IP(src="198.18.1.5", dst="198.18.8.9", frag=185, proto=17) / Raw(b"x" * 40),
        Ether() / IP(src="198.18.1.6", dst="198.18.8.9", flags="MF", frag=3) / Raw(b"y" * 40),
        Ether() / ARP(psrc="198.18.1.1", pdst="198.18.1.2"),
        Ether() / IP(src="198.18.1.5", dst="198.18.8.9") / ICMP(),
        Ether() / IPv6(src="2001:db8::5", dst="2001:db8::9") / ICMPv6EchoRequest(),
        Ether(type=0x88CC) / Raw(b"\x00" * 40),  # LLDP
    ]
    for packet in frames:
        frame = bytes(packet)
        for shards in (2, 3):
            decided = ShardAssigner(shards).shard_at(frame, 0, len(frame))
            assert decided == _reference(frame, shards) >= 0
    spread = {
        ShardAssigner(4).shard_at(f, 0, len(f))
        for f in (
            bytes(Ether() / IP(src=f"198.18.1.{n}", dst="198.18.8.9", frag=9)) for n in range(40)
        )
    }
    assert len(spread) == 4  # later fragments go by address, not all to process 0


@needs_build
def test_cut_frames_and_short_udp_are_decided_as_decoding_decides() -> None:
    udp = bytes(Ether() / IP(src="198.18.1.5", dst="198.18.8.9") / UDP(sport=40000, dport=53))
    six = bytes(Ether() / IPv6(src="2001:db8::5", dst="2001:db8::9") / UDP(sport=40000, dport=53))
    for frame in (udp, six):
        for cut in range(len(frame) + 1):
            _assert_decides_as_decoding(frame[:cut])


@needs_build
def test_the_c_assigner_refuses_what_is_outside_its_buffer_and_bounds() -> None:
    native = ShardAssigner(2)._native
    assert native is not None
    with pytest.raises(ValueError):
        native.shard_at(b"\x00" * 60, 10, 61)
    with pytest.raises(ValueError):
        native.shard_at(b"\x00" * 60, -1, 20)
    with pytest.raises(ValueError):
        native.take(bytearray(60), 61, True, 1e-6, 0)
    native.pos = 61
    with pytest.raises(ValueError):
        native.take(bytearray(60), 60, True, 1e-6, 0)
    with pytest.raises(TypeError):
        native.shard_at(bytearray(60), 0, 60)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        native.remember(6, b"a" * 37, 0)
    with pytest.raises(ValueError):
        native.remember(6, b"a" * 13, 0)
    with pytest.raises(ValueError):
        native.remember(6, b"a" * 12, 2)  # no process 2 of 2
    with pytest.raises(ValueError):
        native.known(6, b"")


class _Index:
    def __index__(self) -> int:
        return 1


class _BadBool:
    def __bool__(self) -> bool:
        raise ZeroDivisionError


@needs_build
def test_odd_arguments_raise_their_own_error_not_a_system_error() -> None:
    """Found by fuzzing under ASan: one failed conversion, then another
    argument's Python `__index__` ran with the error set (SystemError)."""
    native = ShardAssigner(2).splitter()
    assert native is not None
    with pytest.raises(OverflowError):
        native.take(bytearray(64), 2**70, True, 1.0, _Index())  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        native.remember(2**70, bytes(12), _Index())  # type: ignore[arg-type]
    with pytest.raises(ZeroDivisionError):
        native.take_blocks(bytes(64), 0, 64, _BadBool(), b"", b"", _Index())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a double a unit"):  # a unit short of its interfaces
        native.take_blocks(bytes(64), 0, 64, True, b"\x01", b"", 0)
    with pytest.raises(ValueError, match="range outside the buffer"):
        native.take_blocks(bytes(64), 0, 65, True, b"", b"", 0)
    with pytest.raises(ValueError):
        native.take(bytearray(64), 64, True, 1.0, -1)  # -1 is what "needs a decode" reads as


def test_a_compiled_sensor_carries_the_c_assigner() -> None:
    """Under CI the sensor is compiled, so this is the C assigner's build."""
    assert ShardAssigner(2).native == compiled.in_use()


def _small_capture(path: Path, tail: bytes = b"") -> list[bytes]:
    frames = [
        bytes(Ether() / IP(src="198.18.1.5", dst="198.18.8.9") / UDP(sport=40000, dport=53)),
        bytes(Ether() / ARP(psrc="198.18.1.1", pdst="198.18.1.2")),
    ]
    with PcapWriter(path) as writer:
        for n, frame in enumerate(frames):
            writer.write(1_760_000_000.25 + n, frame)
    with path.open("ab") as handle:
        handle.write(tail)
    return frames


@pytest.mark.parametrize("native", [True, False], ids=["c-when-built", "python"])
def test_a_corrupt_record_is_named_by_its_offset_in_the_file(tmp_path: Path, native: bool) -> None:
    path = tmp_path / "corrupt.pcap"
    frames = _small_capture(path, struct.pack("<IIII", 1, 0, 0xFFFFFFFF, 60) + bytes(60))
    offset = 24 + sum(16 + len(f) for f in frames)
    expected = f"record of 4294967295 bytes at offset {offset}: corrupt file"
    with pytest.raises(PcapError, match=expected):
        list(read_capture(path))
    share = FileShare(0, 2)
    share.assigner = ShardAssigner(2, native=native)
    with pytest.raises(PcapError, match=expected):
        list(read_capture(path, share))


@pytest.mark.parametrize("cut", [1, 15, 16, 17])
def test_a_mapped_file_cut_mid_record_ends_at_its_last_whole_record(
    tmp_path: Path, cut: int
) -> None:
    path = tmp_path / "cut.pcap"
    _small_capture(path, struct.pack("<IIII", 1, 0, 60, 60)[:cut] + bytes(max(0, cut - 16)))
    whole = list(read_capture(path))
    assert len(whole) == 2
    shares = [list(read_capture(path, FileShare(index, 2))) for index in range(2)]
    assert sorted(shares[0] + shares[1]) == sorted(whole)


def test_a_capture_from_a_pipe_is_shared_as_from_a_file(tmp_path: Path) -> None:
    """A pipe hands over at most 64 KB a read: records cut at every kind of
    place between reads, each put back together in the reused buffer."""
    path = tmp_path / "file.pcap"
    with PcapWriter(path) as writer:
        for n in range(3000):
            size = 60 + (n * 37) % 1400
            frame = bytes(Ether() / IP(src=f"198.18.{n % 7}.{n % 250}", dst="198.18.8.9")
                          / UDP(sport=40000 + n % 50, dport=53) / Raw(bytes(size)))  # fmt: skip
            writer.write(1_760_000_000 + n * 1e-3, frame)
    fifo = tmp_path / "pipe.pcap"
    os.mkfifo(fifo)
    for index in range(2):
        feeder = threading.Thread(target=lambda: fifo.write_bytes(path.read_bytes()))
        feeder.start()
        from_pipe = list(read_capture(fifo, FileShare(index, 2)))
        feeder.join()
        assert from_pipe == list(read_capture(path, FileShare(index, 2)))
        assert len(from_pipe) > 1000


def _ng_block(kind: int, body: bytes, little: bool = True) -> bytes:
    order = "<" if little else ">"
    length = 12 + len(body)
    return struct.pack(f"{order}II", kind, length) + body + struct.pack(f"{order}I", length)


def _ng_packet(
    frame: bytes, iface: int = 0, caplen: int | None = None, little: bool = True
) -> bytes:
    order = "<" if little else ">"
    size = len(frame) if caplen is None else caplen
    body = struct.pack(f"{order}IIIII", iface, 0, 1000, size, len(frame)) + frame
    return _ng_block(6, body + bytes(-len(frame) % 4), little)


def _ng_section(little: bool = True) -> bytes:
    order = "<" if little else ">"
    return struct.pack(f"{order}IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack(
        f"{order}I", 28
    )


def _outcome(path: Path, share: FileShare | None) -> tuple[list[tuple[float, bytes, int]], str]:
    records: list[tuple[float, bytes, int]] = []
    try:
        for record in read_capture(path, share):
            records.append(record)
    except PcapError as exc:
        return records, str(exc)
    return records, ""


_GOOD = [
    bytes(Ether() / IP(src=f"198.18.1.{n}", dst="198.18.8.9") / UDP(sport=40000 + n, dport=53))
    for n in range(1, 40)
]
_ETH_IDB = _ng_block(1, struct.pack("<HHI", 1, 0, 0))


@pytest.mark.parametrize(
    "tail",
    [
        struct.pack("<II", 6, 13) + bytes(16),  # a bogus block length
        _ng_block(6, b""),  # a packet block too short for its fields
        _ng_packet(_GOOD[0], iface=3),  # an undeclared interface
        _ng_block(1, struct.pack("<HHI", 101, 0, 0)) + _ng_packet(_GOOD[1], iface=1),  # raw IP link
        _ng_packet(_GOOD[2], caplen=0xFFFFFFF0),  # a captured length past its block
        _ng_packet(_GOOD[3])[:-9],  # cut off mid-block
        _ng_section(little=False)  # a second section, big-endian
        + _ng_block(1, struct.pack(">HHI", 1, 0, 0), little=False)
        + b"".join(_ng_packet(f, little=False) for f in _GOOD[:9]),
        _ng_block(3, struct.pack("<I", len(_GOOD[4])) + _GOOD[4] + bytes(-len(_GOOD[4]) % 4)),
        _ng_block(2989, bytes(8)),  # a block type nobody knows
    ],
    ids=["bogus-length", "short-epb", "undeclared", "raw-ip", "caplen", "cut", "section", "spb", "unknown"],
)  # fmt: skip
def test_a_hostile_pcapng_is_shared_as_it_is_read(tmp_path: Path, tail: bytes) -> None:
    """Packet blocks another process owns are passed over in C; every block
    that is anything else is left to the reader, which says the same line
    about it, after the same records, whichever process reads."""
    path = tmp_path / "hostile.pcapng"
    good = b"".join(_ng_packet(f) for f in _GOOD)
    path.write_bytes(_ng_section() + _ETH_IDB + good + tail + good)
    records, error = _outcome(path, None)
    for native in (True, False):
        shares = []
        for index in range(2):
            share = FileShare(index, 2)
            share.assigner = ShardAssigner(2, native=native)
            got, got_error = _outcome(path, share)
            assert got_error == error
            shares.append(got)
        assert sorted(shares[0] + shares[1]) == sorted(records)
        assert shares[0] and shares[1]


@needs_build
def test_take_lists_at_most_a_batch_and_ends_one_at_a_frame_needing_a_decode(
    tmp_path: Path,
) -> None:
    """`take` lists up to 256 records a call; a frame only a decode can assign
    ends the list wherever it falls (at, just before and just after a
    batch's end), and every share is still the one decoding gives."""
    plain = bytes(Ether() / IP(src="198.18.1.5", dst="198.18.8.9") / TCP(sport=40000, dport=443))
    options = bytes(
        Ether() / IP(src="198.18.1.6", dst="198.18.8.9", options=[b"\x01" * 4]) / TCP(dport=443)
    )
    undecided = {0, 254, 255, 256, 257, 511, 512, 767}
    path = tmp_path / "batches.pcap"
    with PcapWriter(path) as writer:
        for n in range(900):
            writer.write(1_760_000_000 + n * 1e-3, options if n in undecided else plain)
    reference = ShardAssigner(2, native=False)
    every = list(read_capture(path))
    owners = [reference.shard(decode(f, 0.0, len(f))) for _, f, _ in every]
    assert ShardAssigner(2).shard_at(options, 0, len(options)) == -1  # a decode decides it
    for index in range(2):
        share = FileShare(index, 2)
        assert share.assigner.native
        kept = [record for record, owner in zip(every, owners, strict=True) if owner == index]
        assert list(read_capture(path, share)) == kept
    assert owners.count(owners[1]) > 600  # one process lists several whole batches
