"""Real device recordings (snmpsim-data) as simulated devices.

Where a user has no device at hand, or a test needs a Huawei or a ZTE, a
recorded walk served by snmpsim stands in. The recordings ship bz2-compressed
and snmpsim indexes a large one for minutes, so `install` decompresses only
the subtrees the poller reads (system, interfaces, ifMIB, OSPF) into a cache
outside the repo. The community (v2c) or context (v3) is the file's stem.

    python -m monitors.snmp.recordings install DATA_DIR CACHE_DIR
"""

from __future__ import annotations

import bz2
import sys
from collections.abc import Iterator
from pathlib import Path

from monitors.snmp import ber

# The one vendor table. Estate device model -> its recording inside
# snmpsim-data's data/ directory (without .snmprec.bz2); also the stem
# snmpsim serves a sliced recording under.
MODEL_RECORDINGS: dict[str, str] = {
    "huawei-s12704": "network/switch/huawei-s12704",
    "huawei-s5720": "network/router/huawei-s5720",
    "h3c-comware": "network/switch/h3c-comware-7-1-075",
    "ruijie-s5750": "network/switch/ruijie-s5750-24gt12sfp",
    "zte-zxr10": "network/switch/zte-zxr10-5250",
    "cisco-c3560": "network/switch/cisco-c3560",
    "cisco-c3750": "network/switch/cisco-c3750",
    "maipu-sm4200": "network/switch/maipu-sm4200-16gef8ge-ac",
}
# Models nobody recorded answer like their vendor's closest recording;
# generic devices and FRR routers like net-snmp on Linux.
LINUX = "os/linux/unknown-001"
VENDOR_RECORDINGS: dict[str, str] = {
    "huawei": MODEL_RECORDINGS["huawei-s5720"],
    "h3c": MODEL_RECORDINGS["h3c-comware"],
    "ruijie": MODEL_RECORDINGS["ruijie-s5750"],
    "zte": MODEL_RECORDINGS["zte-zxr10"],
    "cisco": MODEL_RECORDINGS["cisco-c3750"],
    "maipu": MODEL_RECORDINGS["maipu-sm4200"],
    "generic": LINUX,
    "frr": LINUX,
}
# The models `install` slices for the poller's differential tests.
SLICED_MODELS = ("huawei-s5720", "huawei-s12704", "h3c-comware", "ruijie-s5750", "zte-zxr10",
                 "cisco-c3560")  # fmt: skip
KEPT_SUBTREES = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.2.", "1.3.6.1.2.1.31.1.1.", "1.3.6.1.2.1.14.")

# snmprec type codes -> BER tags.
SNMPREC_TAGS = {
    "2": ber.TAG_INTEGER,
    "4": ber.TAG_OCTET_STRING,
    "5": ber.TAG_NULL,
    "6": ber.TAG_OID,
    "64": ber.TAG_IPADDRESS,
    "65": ber.TAG_COUNTER32,
    "66": ber.TAG_GAUGE32,
    "67": ber.TAG_TIMETICKS,
    "68": ber.TAG_OPAQUE,
    "70": ber.TAG_COUNTER64,
}


def recording_for(model: str, vendor: str) -> str:
    if model in MODEL_RECORDINGS:
        return MODEL_RECORDINGS[model]
    return VENDOR_RECORDINGS.get(vendor, VENDOR_RECORDINGS["generic"])


def slice_lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line.startswith(KEPT_SUBTREES):
            yield line


def install(data_dir: Path, cache: Path) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem in SLICED_MODELS:
        target = cache / f"{stem}.snmprec"
        source = data_dir / "data" / f"{MODEL_RECORDINGS[stem]}.snmprec.bz2"
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            written.append(target)
            continue
        with bz2.open(source, "rt", encoding="utf-8", errors="surrogateescape") as lines:
            body = "".join(slice_lines(iter(lines)))
        partial = target.with_suffix(".tmp")
        partial.write_text(body, encoding="utf-8", errors="surrogateescape")
        partial.rename(target)
        written.append(target)
    return written


def parse_record(line: str) -> tuple[ber.Oid, int, ber.Value] | None:
    """One snmprec line as (oid, tag, value); None for lines we don't model
    (variation modules, unknown types) or can't read (a few recordings carry
    broken lines, which snmpsim refuses too)."""
    try:
        return _parse(line)
    except ValueError:
        return None


def _parse(line: str) -> tuple[ber.Oid, int, ber.Value] | None:
    oid_text, _, rest = line.rstrip("\n").partition("|")
    type_text, _, value_text = rest.partition("|")
    hexed = type_text.endswith("x")
    type_code = type_text.rstrip("x")
    tag = SNMPREC_TAGS.get(type_code)
    if tag is None or ":" in type_text:
        return None
    oid = ber.oid_from_str(oid_text)
    value: ber.Value
    if tag in (ber.TAG_OCTET_STRING, ber.TAG_OPAQUE):
        raw = value_text.encode("utf-8", "surrogateescape")
        value = bytes.fromhex(value_text) if hexed else raw
    elif tag == ber.TAG_IPADDRESS:
        value = bytes.fromhex(value_text) if hexed else bytes(int(p) for p in value_text.split("."))
    elif tag == ber.TAG_OID:
        value = ber.oid_from_str(value_text)
    elif tag == ber.TAG_NULL:
        value = None
    else:
        value = int(value_text)
    return oid, tag, value


def records(path: Path) -> Iterator[tuple[ber.Oid, int, ber.Value]]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            parsed = parse_record(line)
            if parsed is not None:
                yield parsed


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "install":
        print(
            "usage: python -m monitors.snmp.recordings install DATA_DIR CACHE_DIR", file=sys.stderr
        )
        return 2
    for path in install(Path(argv[1]), Path(argv[2])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
