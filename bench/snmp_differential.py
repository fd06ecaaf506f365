"""The fast BER decoder against pysnmp over every snmpsim-data recording.

For each of the 116 recordings, up to --per-recording records (evenly spread
over the file) are packed 40 to a Response, encoded by pysnmp, and decoded
by both pysnmp and `monitors.snmp.ber`; any difference is printed and the
script exits 1. The pytest suite does the same for every record of the six
vendor recordings; this covers the long tail.

    .venv/bin/python bench/snmp_differential.py [--per-recording 3000]
"""

from __future__ import annotations

import argparse
import bz2
import sys
import time
from pathlib import Path

import snmpsim_data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitors.snmp import ber  # noqa: E402
from monitors.snmp.recordings import parse_record  # noqa: E402
from tests.snmp.test_ber_differential import encode_response, reference  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-recording", type=int, default=3000)
    args = parser.parse_args()
    data = Path(snmpsim_data.__file__).parent / "data"
    files = sorted(data.rglob("*.snmprec*"))
    started = time.monotonic()
    checked = failures = skipped = 0
    for path in files:
        opener = bz2.open if path.suffix == ".bz2" else open
        with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as lines:
            parsed = [parse_record(line) for line in lines]
        rows = [row for row in parsed if row is not None]
        skipped += len(parsed) - len(rows)
        stride = max(1, len(rows) // args.per_recording)
        sample = rows[::stride][: args.per_recording]
        for start in range(0, len(sample), 40):
            message = encode_response(sample[start : start + 40], request_id=start)
            _request_id, _community, expected = reference(message)
            if ber.decode_message(message).varbinds != expected:
                failures += 1
                print(f"MISMATCH {path.relative_to(data)} at record {start}", file=sys.stderr)
        checked += len(sample)
    print(
        f"{len(files)} recordings, {checked} records, {failures} mismatches, "
        f"{skipped} lines not modelled (variation modules, broken lines), "
        f"{time.monotonic() - started:.0f}s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
