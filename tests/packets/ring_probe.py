"""A capture run inside a namespace for tests/packets/test_live_ring.py.

    ip netns exec NS python -m tests.packets.ring_probe IFACE OUT.pcap --expect N [--no-ring]

Run as its own process in the namespace: scapy learns the interfaces of the
namespace it starts in, so a capture opened by a thread that only entered
it would look for the host's. Prints `ready ring|receive BYTES` (the
socket's receive buffer) once capturing,
keeps the frames from the test's sender (its MAC) in OUT.pcap, and ends
after N of them, at --duration, or with the capture's one-line error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from monitors.packets.capture import PcapWriter
from monitors.packets.live import CaptureError, LiveCapture

SENDER_MAC = bytes.fromhex("02005e00aa01")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("iface")
    parser.add_argument("out", type=Path)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--no-ring", action="store_true")
    args = parser.parse_args()
    kept = 0
    with LiveCapture(args.iface, ring=not args.no_ring) as capture, PcapWriter(args.out) as out:
        how = "ring" if capture.ring_in_use else "receive"
        print("ready", how, capture.receive_buffer, flush=True)
        begun = time.time()
        try:
            for ts, frame, length in capture.records(duration=args.duration):
                if not begun - 1 < ts < time.time() + 1 or length != len(frame):
                    print(f"bad record: ts {ts}, length {length} of {len(frame)}", flush=True)
                    return 1
                if frame[6:12] == SENDER_MAC:
                    out.write(ts, frame, length)
                    kept += 1
                if args.expect and kept >= args.expect:
                    break
        except CaptureError as exc:
            print(f"error {exc}", flush=True)
            return 2
    print(f"kept {kept}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
