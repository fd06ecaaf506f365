"""The v2c fast path: our own UDP requests, decoded with `ber`.

One socket per address family serves every device of the process (like one
SNMP engine per process): requests are told apart by request-id and checked
against the address they were sent to, so a stray or spoofed datagram can't
complete someone else's request. Retries back off exponentially; a malformed
answer fails the request at once (counted as `malformed`) rather than waiting
for a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from monitors.snmp import ber, usm
from monitors.snmp.errors import SnmpAgentError, SnmpMalformed, SnmpTimeout

Address = tuple[str, int]


Answer = ber.Response | bytes  # decoded v1/v2c, or a raw v3 message for the session


@dataclass(slots=True)
class _Pending:
    address: Address
    future: asyncio.Future[Answer]


@dataclass(slots=True)
class TransportStats:
    sent: int = 0
    received: int = 0
    malformed: int = 0
    stray: int = 0
    varbinds: int = 0


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.owner.receive(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the request will time out.
        pass


@dataclass
class UdpTransport:
    """Shared UDP endpoints (IPv4 and IPv6) with request-id demultiplexing."""

    stats: TransportStats = field(default_factory=TransportStats)
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _endpoints: dict[int, asyncio.DatagramTransport] = field(default_factory=dict)
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(random.randrange(1, 2**30))
    )

    async def _endpoint(self, host: str) -> asyncio.DatagramTransport:
        family = 6 if ":" in host else 4
        endpoint = self._endpoints.get(family)
        if endpoint is None:
            loop = asyncio.get_running_loop()
            local = ("0.0.0.0", 0) if family == 4 else ("::", 0)
            endpoint, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=local
            )
            self._endpoints[family] = endpoint
        return endpoint

    def next_request_id(self) -> int:
        request_id = next(self._ids) & 0x7FFFFFFF
        return request_id or next(self._ids) & 0x7FFFFFFF

    def receive(self, data: bytes, addr: Address) -> None:
        self.stats.received += 1
        answer: Answer
        try:
            if ber.message_version(data) == 3:
                key, answer = usm.peek_msg_id(data), data
            else:
                answer = ber.decode_message(data)
                key = answer.request_id
                self.stats.varbinds += len(answer.varbinds)
        except ber.BerError as error:
            self.malformed(addr, error)
            return
        pending = self._pending.get(key)
        if pending is None or not _same_host(pending.address, addr) or pending.future.done():
            self.stats.stray += 1
            return
        pending.future.set_result(answer)

    def malformed(self, addr: Address, error: Exception) -> None:
        self.stats.malformed += 1
        self._fail_one_from(addr, SnmpMalformed(f"malformed response from {addr[0]}: {error}"))

    def _fail_one_from(self, addr: Address, error: Exception) -> None:
        for pending in self._pending.values():
            if _same_host(pending.address, addr) and not pending.future.done():
                pending.future.set_exception(error)
                return

    async def request(
        self,
        address: Address,
        build: RequestBytes,
        timeout: float,
        retries: int,
        backoff: float = 2.0,
    ) -> tuple[Answer, int]:
        """Send, wait, resend with a longer wait; returns (response, attempts)."""
        endpoint = await self._endpoint(address[0])
        loop = asyncio.get_running_loop()
        wait = timeout
        for attempt in range(retries + 1):
            request_id = self.next_request_id()
            future: asyncio.Future[Answer] = loop.create_future()
            self._pending[request_id] = _Pending(address, future)
            try:
                endpoint.sendto(build(request_id), address)
                self.stats.sent += 1
                response = await asyncio.wait_for(future, wait)
            except TimeoutError:
                wait *= backoff
                continue
            finally:
                del self._pending[request_id]
            if isinstance(response, ber.Response) and response.error_status:
                raise SnmpAgentError(
                    f"{address[0]} answered error-status {response.error_status} "
                    f"at varbind {response.error_index}"
                )
            return response, attempt + 1
        raise SnmpTimeout(f"no answer from {address[0]} after {retries + 1} attempts")

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            # RuntimeError: its loop is already closed, and the socket with it.
            with contextlib.suppress(RuntimeError):
                endpoint.close()
        self._endpoints.clear()


RequestBytes = Callable[[int], bytes]


class _RequestBuilder:
    """Builds the request bytes for a request-id (a new id on every retry)."""

    __slots__ = ("community", "max_repetitions", "oids", "pdu_type")

    def __init__(
        self, community: bytes, pdu_type: int, oids: list[ber.Oid], max_repetitions: int = 0
    ) -> None:
        self.community = community
        self.pdu_type = pdu_type
        self.oids = oids
        self.max_repetitions = max_repetitions

    def __call__(self, request_id: int) -> bytes:
        return ber.encode_request(
            self.community,
            self.pdu_type,
            request_id,
            self.oids,
            max_repetitions=self.max_repetitions,
        )


RequestBuilder = _RequestBuilder


def _same_host(a: Address, b: Address) -> bool:
    if a == b:  # the kernel reports addresses normalised: the usual case
        return True
    if a[1] != b[1]:
        return False
    try:
        return ipaddress.ip_address(a[0]) == ipaddress.ip_address(b[0].split("%")[0])
    except ValueError:
        return a[0] == b[0]
