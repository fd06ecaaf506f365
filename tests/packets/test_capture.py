"""Reading captures: pcap (both byte orders, µs and ns), pcapng, broken files."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.utils import PcapNgWriter, RawPcapReader, wrpcap

from monitors.packets.capture import (
    PcapError,
    PcapWriter,
    capture_problem,
    check_capture,
    read_capture,
)
from monitors.packets.shards import FileShare
from tests.packets import scenarios


def _frames() -> list[bytes]:
    return [bytes(p) for p in scenarios.all_frames()]


def test_our_reader_matches_scapys_raw_reader(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    packets = scenarios.all_frames()
    for index, packet in enumerate(packets):
        packet.time = 1_700_000_000 + index * 0.25
    wrpcap(str(path), packets)
    ours = list(read_capture(path))
    theirs = [
        (meta.sec + meta.usec / 1e6, data, meta.wirelen) for data, meta in RawPcapReader(str(path))
    ]
    assert [(round(t, 6), f, n) for t, f, n in ours] == theirs


def test_our_writer_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "w.pcap"
    with PcapWriter(path) as writer:
        for index, frame in enumerate(_frames()):
            writer.write(100.5 + index, frame)
    records = list(read_capture(path))
    assert [f for _, f, _ in records] == _frames()
    assert records[3][0] == pytest.approx(103.5)


def test_nanosecond_and_big_endian_pcaps(tmp_path: Path) -> None:
    frame = _frames()[0]
    for endian, magic, fraction, expected in (
        (">", 0xA1B2C3D4, 250_000, 7.25),
        ("<", 0xA1B23C4D, 250_000_000, 7.25),
    ):
        path = tmp_path / f"{endian}{magic:x}.pcap"
        header = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
        record = struct.pack(endian + "IIII", 7, fraction, len(frame), len(frame)) + frame
        path.write_bytes(header + record)
        [(ts, data, wirelen)] = list(read_capture(path))
        assert ts == pytest.approx(expected)
        assert (data, wirelen) == (frame, len(frame))


def test_pcapng_from_scapy_and_from_editcap(tmp_path: Path) -> None:
    packets = scenarios.all_frames()
    for index, packet in enumerate(packets):
        packet.time = 1_700_000_000 + index
    ng = tmp_path / "s.pcapng"
    with PcapNgWriter(str(ng)) as writer:
        for packet in packets:
            writer.write(packet)
    records = list(read_capture(ng))
    assert [f for _, f, _ in records] == [bytes(p) for p in packets]
    assert records[1][0] == pytest.approx(1_700_000_001)
    if shutil.which("editcap"):
        classic = tmp_path / "s.pcap"
        wrpcap(str(classic), packets)
        converted = tmp_path / "editcap.pcapng"
        subprocess.run(
            ["editcap", "-F", "pcapng", str(classic), str(converted)], check=True, timeout=30
        )
        assert [f for _, f, _ in read_capture(converted)] == [bytes(p) for p in packets]


def test_pcapng_packet_longer_than_its_block_stops_at_the_block(tmp_path: Path) -> None:
    """A hostile captured length in an enhanced packet block: the frame ends
    with its block (it never takes the next block's bytes) and the next
    packet is read whole."""
    packets = scenarios.all_frames()[:3]
    ng = tmp_path / "lying.pcapng"
    with PcapNgWriter(str(ng)) as writer:
        for packet in packets:
            writer.write(packet)
    data = bytearray(ng.read_bytes())
    first = data.index(struct.pack("<I", 6))  # the first enhanced packet block
    block_len = struct.unpack_from("<I", data, first + 4)[0]
    struct.pack_into("<I", data, first + 20, 0xFFFF)  # its captured length
    ng.write_bytes(bytes(data))
    frames = [f for _, f, _ in read_capture(ng)]
    assert len(frames) == 3
    assert frames[0][: len(bytes(packets[0]))] == bytes(packets[0])
    assert len(frames[0]) == block_len - 32  # the frame and its padding, no more
    assert frames[1:] == [bytes(p) for p in packets[1:]]


def test_capture_cut_mid_record_ends_at_the_last_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    with PcapWriter(path) as writer:
        for frame in _frames()[:3]:
            writer.write(1.0, frame)
    path.write_bytes(path.read_bytes()[:-10])
    assert len(list(read_capture(path))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a pcap or pcapng file"),
        (b"GIF89a....", "not a pcap or pcapng file"),
        (
            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101),
            "link type 101 is not Ethernet",
        ),
        (
            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
            + struct.pack("<IIII", 0, 0, 1 << 30, 60),
            "corrupt file",
        ),
    ],
)
def test_bad_files_give_one_line_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(PcapError) as info:
        list(read_capture(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    # The check the commands make before anything slow starts: the same line.
    # (The corrupt record is the first one, so the check reads as far as it.)
    assert capture_problem(path) == str(info.value)
    with pytest.raises(PcapError):
        check_capture(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PcapError, match="cannot open capture"):
        list(read_capture(tmp_path / "nope.pcap"))
    assert "cannot open capture" in (capture_problem(tmp_path / "nope.pcap") or "")


def test_a_capture_that_reads_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "good.pcap"
    with PcapWriter(path) as writer:
        for frame in _frames()[:3]:
            writer.write(1.0, frame)
    assert capture_problem(path) is None
    check_capture(path)
    empty = tmp_path / "empty.pcap"  # a header and no record yet: a capture still
    with PcapWriter(empty):
        pass
    assert capture_problem(empty) is None


def test_large_pcapng_streams_across_chunks_and_matches_pcap(tmp_path: Path) -> None:
    """A pcapng bigger than the reader's chunk, converted by editcap from a
    pcap: every record crosses the same, whatever chunk boundary it straddles."""
    if not shutil.which("editcap"):
        pytest.skip("editcap (wireshark-common) is installed by ci/setup.d/40-packets.sh")
    frames = [bytes(p) for p in scenarios.all_frames()]
    classic = tmp_path / "big.pcap"
    with PcapWriter(classic) as writer:
        for index in range(9000):
            writer.write(10.0 + index * 1e-3, frames[index % len(frames)] + b"\x00" * (index % 900))
    converted = tmp_path / "big.pcapng"
    subprocess.run(
        ["editcap", "-F", "pcapng", str(classic), str(converted)], check=True, timeout=60
    )
    assert converted.stat().st_size > 4 << 20
    theirs = list(read_capture(converted))
    ours = list(read_capture(classic))
    assert [(f, n) for _, f, n in theirs] == [(f, n) for _, f, n in ours]
    assert [round(t, 6) for t, _, _ in theirs] == [round(t, 6) for t, _, _ in ours]


def test_pcapng_bogus_block_length(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcapng"
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    path.write_bytes(shb + struct.pack("<II", 6, 13) + b"\x00" * 16)
    with pytest.raises(PcapError, match="pcapng block of bogus length 13 at offset 28"):
        list(read_capture(path))


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


_SHB = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
_IDB = _block(1, struct.pack("<HHI", 1, 0, 0))


@pytest.mark.parametrize(
    ("block", "where", "expected"),
    [
        # A block too short for its own fields, found mid-file and at the end:
        # each is one line naming the block, its offset and what was expected.
        (_block(6, b""), 48, "enhanced packet block of 12 bytes at offset 48: expected at least 32"),
        (_block(6, b"\x00" * 8), 48, "enhanced packet block of 20 bytes at offset 48: expected at least 32"),
        (_block(3, b""), 48, "simple packet block of 12 bytes at offset 48: expected at least 16"),
        (_block(1, b""), 48, "interface description block of 12 bytes at offset 48: expected at least 20"),
    ],
)  # fmt: skip
def test_pcapng_blocks_too_short_for_their_fields(
    tmp_path: Path, block: bytes, where: int, expected: str
) -> None:
    frame = _frames()[0]
    packet = _block(6, struct.pack("<IIIII", 0, 0, 0, len(frame), len(frame)) + frame)
    for name, data in (("end", _SHB + _IDB + block), ("mid", _SHB + _IDB + block + packet)):
        path = tmp_path / f"{name}.pcapng"
        path.write_bytes(data)
        with pytest.raises(PcapError, match=expected):
            list(read_capture(path))


def test_big_endian_pcapng_with_nanosecond_interface(tmp_path: Path) -> None:
    """Every field of a big-endian section is read big-endian, and the
    interface's if_tsresol (here 10^-9) scales its timestamps."""
    frames = _frames()[:4]

    def block(kind: int, body: bytes) -> bytes:
        length = 12 + len(body)
        return struct.pack(">II", kind, length) + body + struct.pack(">I", length)

    shb = block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsresol = struct.pack(">HH", 9, 1) + b"\x09\x00\x00\x00" + struct.pack(">HH", 0, 0)
    idb = block(1, struct.pack(">HHI", 1, 0, 0) + tsresol)
    stamp = 1_700_000_000_123_456_789
    packets = b"".join(
        block(6, struct.pack(">IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(f), len(f) + 4)
              + f + b"\x00" * (-len(f) % 4))
        for f in frames
    )  # fmt: skip
    path = tmp_path / "big.pcapng"
    path.write_bytes(shb + idb + packets)
    records = list(read_capture(path))
    assert [(f, n) for _, f, n in records] == [(f, len(f) + 4) for f in frames]
    assert records[0][0] == pytest.approx(1_700_000_000.123456789)


def test_corrupted_captures_give_records_or_one_line(tmp_path: Path) -> None:
    """Hostile bytes anywhere in a pcap or pcapng container: the reader (alone,
    and as each of two processes sharing the file) yields records or raises
    PcapError, nothing else; a file refused alone is refused by both shares
    (the command says so with any number of workers), and a file read
    whole is, by its two shares together, frame for frame."""
    from monitors.packets.shards import FileShare

    frames = _frames()[:12]
    classic = tmp_path / "base.pcap"
    with PcapWriter(classic) as writer:
        for index, frame in enumerate(frames):
            writer.write(1_700_000_000 + index, frame)
    ng = tmp_path / "base.pcapng"
    with PcapNgWriter(str(ng)) as ng_writer:
        for packet in scenarios.all_frames()[:12]:
            ng_writer.write(packet)
    rng = random.Random(5)
    mutated = tmp_path / "mutated"
    for base in (classic.read_bytes(), ng.read_bytes()):
        for _ in range(300):
            data = bytearray(base)
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(4, len(data))  # the magic kept: the container is what is fuzzed
                if rng.random() < 0.5:
                    data[at] = rng.randrange(256)
                else:  # a length or count field: four bytes at once
                    data[at : at + 4] = rng.randbytes(4)
            if rng.random() < 0.2:
                del data[rng.randrange(4, len(data)) :]
            mutated.write_bytes(bytes(data))
            whole = _read_or_error(mutated, None)
            shares = [_read_or_error(mutated, FileShare(index, 2)) for index in (0, 1)]
            assert [share is None for share in shares] == [whole is None] * 2
            if whole is not None and shares[0] is not None and shares[1] is not None:
                assert sorted(shares[0] + shares[1]) == sorted(whole)


def _read_or_error(path: Path, share: FileShare | None) -> list[bytes] | None:
    try:
        return [frame for _, frame, _ in read_capture(path, share)]
    except PcapError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return None
