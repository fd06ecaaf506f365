"""Reading pcap and pcapng files at raw speed.

scapy's `RawPcapReader` reads ~500k records/s here; this reader does the same
job with one `read()` per megabyte and each pcap record header read in
place, so reading never dominates the sensor's budget. It yields
`(timestamp, frame, wire_length)` and accepts only Ethernet link types: the
fast path decodes Ethernet, and a capture of anything else is a user error
worth one clear line.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from io import BufferedReader
from pathlib import Path
from typing import Final

Record = tuple[float, bytes, int]

LINKTYPE_ETHERNET: Final = 1
# A megabyte: four cost more in page faults (each chunk a fresh allocation)
# than they save in calls.
CHUNK: Final = 1 << 20
# A record larger than this is a corrupt file, not a jumbo frame.
MAX_RECORD: Final = 256 << 10
_MAX_BLOCK: Final = 16 << 20

_PCAP_MAGIC: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"


class PcapError(ValueError):
    """The file is not a capture this sensor can read (one line, names the file)."""


class RecordFilter:
    """Which records a reader hands on, decided in its read buffer before the
    frame is copied out: a sensor process sharing a file with others skips
    most of the file (`shards.FileShare`), and a skipped frame costs only
    this call. Keeps every record."""

    def keep(self, buf: bytes, start: int, end: int, length: int) -> bool:
        """Whether the frame `buf[start:end]` (wire length `length`) is wanted."""
        return True

    def records(
        self, path: Path, handle: BufferedReader, little: bool, scale: float
    ) -> Iterator[Record] | None:
        """The records of the classic pcap `handle` (past its file header)
        this filter keeps, read by the filter itself; None to have the
        reader read them and ask `keep` about each. `shards.FileShare`
        reads them itself, in C. Reads none."""
        return None

    def take_blocks(
        self, buf: bytes, pos: int, size: int, little: bool, ethernet: bytes, units: bytes
    ) -> tuple[list[Record], int] | None:
        """From the pcapng block at `pos` in `buf[:size]`, the records of the
        whole packet blocks this filter keeps, and where it stopped: a
        filter may walk runs of packet blocks itself (`shards.FileShare`
        does, in C), handing on its own records and passing over the rest,
        and stop at any block it leaves to the reader. `ethernet[i]` is 1
        when interface i is Ethernet, `units` its seconds per timestamp
        unit (a native double each). None: the reader reads every block."""
        return None


def read_capture(path: str | Path, keep: RecordFilter | None = None) -> Iterator[Record]:
    """Records of a pcap or pcapng file, in file order (those `keep` keeps)."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise PcapError(f"{path}: cannot open capture ({exc.strerror})") from exc
    with handle:
        magic = handle.read(4)
        if magic in _PCAP_MAGIC:
            endian, scale = _PCAP_MAGIC[magic]
            yield from _pcap(path, handle, endian, scale, keep or _EVERY)
        elif magic == _PCAPNG_SHB:
            yield from _pcapng(path, handle, keep or _EVERY)
        else:
            raise PcapError(f"{path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'})")


_EVERY: Final = RecordFilter()


def check_capture(path: str | Path) -> None:
    """PcapError when `path` is no capture this reader reads: its header and
    first record are read, so a mistyped path or a wrong file costs a moment,
    before anything slow (the estate, its policy, forked workers) starts."""
    next(iter(read_capture(path)), None)


def capture_problem(path: str | Path) -> str | None:
    """`check_capture`'s one line, or None for a capture that reads."""
    try:
        check_capture(path)
    except PcapError as exc:
        return str(exc)
    return None


def _pcap(
    path: Path, handle: BufferedReader, endian: str, scale: float, keep: RecordFilter
) -> Iterator[Record]:
    header = handle.read(20)
    if len(header) < 20:
        raise PcapError(f"{path}: truncated pcap file header")
    linktype = struct.unpack(endian + "I", header[16:20])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: link type {linktype} is not Ethernet (1)")
    little = endian == "<"
    own = keep.records(path, handle, little, scale)
    if own is not None:
        yield from own
        return
    buf = b""
    pos = 0
    consumed = 24  # file offset of buf[0] (past the file header), for error messages
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            break
        consumed += pos
        buf = buf[pos:] + chunk
        pos = 0
        size = len(buf)
        while pos + 16 <= size:
            # Read in place, not with struct: compiled, four index reads cost
            # less than the call, and most records of a shared file are skipped.
            caplen = _u32(buf, pos + 8, little)
            if caplen > MAX_RECORD:
                raise PcapError(
                    f"{path}: record of {caplen} bytes at offset {consumed + pos}: corrupt file"
                )
            end = pos + 16 + caplen
            if end > size:
                break
            wirelen = _u32(buf, pos + 12, little)
            if keep.keep(buf, pos + 16, end, wirelen):
                ts = _u32(buf, pos, little) + _u32(buf, pos + 4, little) * scale
                yield ts, buf[pos + 16 : end], wirelen
            pos = end
    # A capture cut off mid-record (tcpdump killed) ends at its last whole record.


def _u32(buf: bytes, pos: int, little: bool) -> int:
    if little:
        return buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16 | buf[pos + 3] << 24
    return buf[pos] << 24 | buf[pos + 1] << 16 | buf[pos + 2] << 8 | buf[pos + 3]


def _pcapng(path: Path, handle: BufferedReader, keep: RecordFilter) -> Iterator[Record]:
    """Blocks are read in chunks too: dumpcap and Wireshark write pcapng by
    default, and investigation captures can be many gigabytes. Each block's
    fields are read in place, as the pcap reader's are: compiled, index
    reads cost a fifth of what `struct.unpack_from` calls did (pcapng was
    read five times slower than pcap, bench/RESULTS.md)."""
    buf = _PCAPNG_SHB + handle.read(CHUNK)
    pos = 0
    consumed = 0  # file offset of buf[0], for error messages
    little = True
    # Per interface: (link type, seconds per timestamp unit).
    interfaces: list[tuple[int, float]] = []
    ethernet = b""  # per interface, 1 when its link type is Ethernet
    units = b""  # per interface, its unit as a native double (`take_blocks`)
    while True:
        taken = keep.take_blocks(buf, pos, len(buf), little, ethernet, units)
        if taken is not None:
            records, pos = taken
            if records:
                yield from records
                continue  # it stopped when its list was full, or at a block for the reader
        size = len(buf)
        block_type = 0
        block_len = 0
        if pos + 12 <= size:
            if buf[pos] == 0x0A and buf[pos + 1 : pos + 4] == b"\x0d\x0d\x0a":
                little = buf[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a"
                interfaces = []
                ethernet = b""
                units = b""
            block_type = _u32(buf, pos, little)
            block_len = _u32(buf, pos + 4, little)
            if block_len < 12 or block_len % 4 or block_len > _MAX_BLOCK:
                raise PcapError(
                    f"{path}: pcapng block of bogus length {block_len} at offset {consumed + pos}"
                )
        if block_len == 0 or pos + block_len > size:
            more = handle.read(CHUNK)
            if not more:
                return  # the end, or a capture cut off mid-block
            buf = buf[pos:] + more
            consumed += pos
            pos = 0
            continue
        body = pos + 8
        if block_type == 6:
            if block_len < 32:  # the block's own fields and its trailing length
                raise PcapError(
                    f"{path}: enhanced packet block of {block_len} bytes at offset "
                    f"{consumed + pos}: expected at least 32"
                )
            iface = _u32(buf, body, little)
            if iface >= len(interfaces):
                raise PcapError(
                    f"{path}: packet for undeclared interface {iface} at offset {consumed + pos}"
                )
            linktype, unit = interfaces[iface]
            _check_linktype(path, linktype)
            caplen = _u32(buf, body + 12, little)
            start = body + 20
            # A captured length past its own block would read the next block's bytes.
            end = start + max(0, min(caplen, block_len - 32))
            wirelen = _u32(buf, body + 16, little)
            if keep.keep(buf, start, end, wirelen):
                stamp = (_u32(buf, body + 4, little) << 32) | _u32(buf, body + 8, little)
                yield stamp * unit, buf[start:end], wirelen
        elif block_type == 1:
            if block_len < 20:
                raise PcapError(
                    f"{path}: interface description block of {block_len} bytes at offset "
                    f"{consumed + pos}: expected at least 20"
                )
            linktype = struct.unpack_from("<H" if little else ">H", buf, body)[0]
            unit = _if_tsresol(buf, body + 8, pos + block_len - 4, little)
            interfaces.append((linktype, unit))
            ethernet += b"\x01" if linktype == LINKTYPE_ETHERNET else b"\x00"
            units += struct.pack("d", unit)
        elif block_type == 3:
            if not interfaces:
                raise PcapError(
                    f"{path}: simple packet block before any interface at offset {consumed + pos}"
                )
            _check_linktype(path, interfaces[0][0])
            if block_len < 16:
                raise PcapError(
                    f"{path}: simple packet block of {block_len} bytes at offset "
                    f"{consumed + pos}: expected at least 16"
                )
            wirelen = _u32(buf, body, little)
            caplen = min(wirelen, block_len - 16)
            if keep.keep(buf, body + 4, body + 4 + caplen, wirelen):
                yield 0.0, buf[body + 4 : body + 4 + caplen], wirelen
        pos += block_len


def _check_linktype(path: Path, linktype: int) -> None:
    if linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: link type {linktype} is not Ethernet (1)")


def _if_tsresol(data: bytes, pos: int, end: int, little: bool) -> float:
    """The interface's timestamp unit (option 9, if_tsresol); microseconds by default."""
    while pos + 4 <= end:
        code, length = struct.unpack_from("<HH" if little else ">HH", data, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = data[pos + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        pos += 4 + length + (-length % 4)
    return 1e-6


class PcapWriter:
    """Classic little-endian microsecond pcap, Ethernet link type.

    Used to keep what a live sensor saw (`yunwang sense --write`), so the
    same frames can be replayed later with identical events.
    """

    def __init__(self, path: str | Path, snaplen: int = 262144) -> None:
        self.path = Path(path)
        self._handle = self.path.open("wb")
        self._handle.write(
            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET)
        )
        self._record = struct.Struct("<IIII").pack

    def write(self, ts: float, frame: bytes, length: int = 0) -> None:
        seconds = int(ts)
        micros = round((ts - seconds) * 1e6)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        self._handle.write(self._record(seconds, micros, len(frame), length or len(frame)))
        self._handle.write(frame)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
