"""A service on this machine's loopback, reachable from inside one lab namespace.

The fleet test's producers run where the lab puts them (a county router's
namespace, the NMS); the Elasticsearch node runs on this machine's
127.0.0.1. Rather than route the machine into the lab, each namespace gets a
listener on its own 127.0.0.1 whose connections are piped to the node: the
listening socket is opened inside the namespace (`Lab.entered` moves only
the calling thread) and every pipe runs in this process, on this machine's
side. While the node is down a new connection is reset at once, as the
node's closed port would refuse it.

The bridge notes the `Authorization` values its clients present, so a test
can tell whose credentials reached the node.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading

from lab.lab import Lab

AUTHORIZATION = re.compile(rb"\r\nauthorization: *([^\r\n]+)", re.IGNORECASE)


class LoopbackBridge:
    def __init__(self, lab: Lab, node: str, upstream_port: int) -> None:
        with lab.entered(node):
            self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.upstream_port = upstream_port
        self.credentials: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"bridge-{node}", daemon=True)
        self._thread.start()

    def url(self, path_and_query: str) -> str:
        """The URL a process inside the namespace uses to reach the service."""
        return f"http://127.0.0.1:{self.port}{path_and_query}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            # Reset, not a polite close: the client sees a refusal, as from the node itself.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=self._copy, args=(upstream, client, False), daemon=True)
        back.start()
        self._copy(client, upstream, True)
        back.join()
        client.close()
        upstream.close()

    def _copy(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests:
                    found = {
                        m.group(1).decode(errors="replace") for m in AUTHORIZATION.finditer(data)
                    }
                    if found:
                        with self._lock:
                            self.credentials |= found
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
