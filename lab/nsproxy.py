"""ssh's ProxyCommand into the lab: `python -m lab.nsproxy NAMESPACE HOST PORT`.

Run under `ip netns exec`, it connects to HOST:PORT from inside the lab and
pipes stdin/stdout through, so ssh and Ansible on the machine itself reach
lab hosts without any route into the lab being added to the machine.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys


def pump(conn: socket.socket) -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ)
    selector.register(conn, selectors.EVENT_READ)
    open_ends = 2
    while open_ends:
        for key, _ in selector.select():
            if key.fileobj == stdin:
                data = os.read(stdin, 65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    selector.unregister(stdin)
                    open_ends -= 1
                else:
                    conn.sendall(data)
            else:
                data = conn.recv(65536)
                if not data:
                    selector.unregister(conn)
                    return  # the server closed: ssh sees EOF and finishes
                os.write(stdout, data)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lab.nsproxy HOST PORT (under ip netns exec)", file=sys.stderr)
        return 2
    with socket.create_connection((argv[0], int(argv[1])), timeout=10) as conn:
        conn.settimeout(None)
        pump(conn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
