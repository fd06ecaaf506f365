"""Run inside the attacker's namespace: `python -m tests.packets.attacker IFACE [SCENARIO...]`.

Sends the scenario frames from scapy through a layer-2 socket, and opens the
cross-zone connections through the kernel's own TCP stack, so the sensor sees
real handshakes (and real resets) for those. Given scenario names (functions
of tests/packets/scenarios.py, e.g. `syn_scan`), it sends only their frames.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time

from scapy.arch.linux import L2Socket

from tests.packets import scenarios


def _connect(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as conn:
        conn.settimeout(2)
        # Refused is fine: the SYN crossed the zones either way.
        with contextlib.suppress(OSError):
            conn.connect((address, port))


def only(iface: str, names: list[str]) -> None:
    """Just these scenarios' frames, nothing through the kernel's stack."""
    frames = [frame for name in names for frame in getattr(scenarios, name)()]
    with L2Socket(iface=iface) as out:
        for frame in frames:
            out.send(frame)
            time.sleep(0.002)


def main(iface: str) -> None:
    with L2Socket(iface=iface) as out:
        frames = (
            scenarios.syn_scan()
            + scenarios.forged_gateway_reply()
            + scenarios.forged_gateway_advert()
            + scenarios.router_adverts()
            + scenarios.dhcp_answers()
        )
        for frame in frames:
            out.send(frame)
            time.sleep(0.002)
    for address in (scenarios.EXCHANGE4, scenarios.EXCHANGE6):
        _connect(address, scenarios.ALLOWED_PORT)
        _connect(address, scenarios.FORBIDDEN_PORT)
        _connect(address, scenarios.FORBIDDEN_PORT)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        only(sys.argv[1], sys.argv[2:])
    else:
        main(sys.argv[1])
