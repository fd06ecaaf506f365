"""Our own UDP requests for every session, v2c and v3.

One socket per address family serves every device of the process (like one
SNMP engine per process). A datagram is routed to its request by the id it
carries (request-id, or msgID on v3) and the address it came from before
anything else is decoded, so unsolicited traffic costs a dict lookup. The
request's session then decodes and checks it (`accept`); what it refuses
(malformed, unauthenticated, another request's, a replay) is dropped and the
request keeps waiting, so a spoofed or broken datagram can't fail someone
else's request while the real answer is on its way. If nothing acceptable
arrives in time, a request whose answer was refused ends with that refusal
(its answer would be here by now); undecodable bytes from the device's
address prove nothing (anyone can send them from there), so the request is
retried, and ends "malformed" rather than "timeout" only when nothing better
came. Retries back off exponentially. Request ids are random: a device that
sees its own requests' ids cannot predict its neighbours'.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from monitors.snmp import ber
from monitors.snmp.errors import SnmpError, SnmpMalformed, SnmpTimeout

Address = tuple[str, int]
Answer = TypeVar("Answer")
# The session's check of a datagram routed to its request (data, request id):
# returns the answer or raises Rejected.
Accept = Callable[[bytes, int], Answer]


class Rejected(Exception):
    """A datagram that matched a request by id and source but is not its
    answer. `error` is how the request ends if nothing better arrives."""

    def __init__(self, error: SnmpError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class _Pending:
    address: Address
    future: asyncio.Future[Any]
    accept: Callable[[bytes, int], Any]
    refused: SnmpError | None = None


@dataclass(slots=True)
class TransportStats:
    sent: int = 0
    received: int = 0
    malformed: int = 0  # not decodable, or failing authentication
    rejected: int = 0  # decodable but not the answer (wrong PDU, stale, spoofed report)
    stray: int = 0  # no request waits for this id from this address
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
    # Addresses with requests in flight, and the garbage each sent meanwhile
    # (only for those: unsolicited garbage is counted, never stored).
    _waiting: Counter[Address] = field(default_factory=Counter)
    _garbage: dict[Address, SnmpError] = field(default_factory=dict)

    async def _endpoint(self, host: str) -> asyncio.DatagramTransport:
        family = 6 if ":" in host else 4
        endpoint = self._endpoints.get(family)
        # A socket asyncio closed after a fatal send error is replaced, so
        # one device's failure does not silence every other.
        if endpoint is None or endpoint.is_closing():
            loop = asyncio.get_running_loop()
            local = ("0.0.0.0", 0) if family == 4 else ("::", 0)
            created, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=local
            )
            endpoint = self._endpoints.get(family)
            if endpoint is None or endpoint.is_closing():
                self._endpoints[family] = endpoint = created
            else:
                created.close()  # a concurrent first request opened one meanwhile
        return endpoint

    def next_request_id(self) -> int:
        """Random in 1..2^31-1 and not in flight (a counter would tell a hostile
        device the ids of the requests to every other device)."""
        while True:
            request_id = secrets.randbelow(0x7FFFFFFF) + 1
            if request_id not in self._pending:
                return request_id

    def receive(self, data: bytes, addr: Address) -> None:
        self.stats.received += 1
        try:
            key = ber.peek_request_id(data)
        except ber.BerError as error:
            self.stats.malformed += 1
            home = _normal(addr)
            if home in self._waiting:
                self._garbage[home] = SnmpMalformed(f"malformed response from {addr[0]}: {error}")
            return
        pending = self._pending.get(key)
        if pending is None or pending.future.done() or not _same_host(pending.address, addr):
            self.stats.stray += 1
            return
        try:
            answer = pending.accept(data, key)
        except Rejected as rejected:
            if isinstance(rejected.error, SnmpMalformed):
                self.stats.malformed += 1
            else:
                self.stats.rejected += 1
            pending.refused = rejected.error
            return
        except Exception as error:  # a defect this datagram hit: its request's error
            pending.future.set_exception(error)
            return
        pending.future.set_result(answer)

    async def request(
        self,
        address: Address,
        build: RequestBytes,
        accept: Accept[Answer],
        timeout: float,
        retries: int,
        backoff: float = 2.0,
    ) -> tuple[Answer, int]:
        """Send, wait, resend with a longer wait; returns (answer, attempts)."""
        endpoint = await self._endpoint(address[0])
        loop = asyncio.get_running_loop()
        home = _normal(address)
        wait = timeout
        garbage: SnmpError | None = None
        for attempt in range(retries + 1):
            request_id = self.next_request_id()
            pending = _Pending(address, loop.create_future(), accept)
            self._pending[request_id] = pending
            self._waiting[home] += 1
            try:
                endpoint.sendto(build(request_id), address)
                self.stats.sent += 1
                return await asyncio.wait_for(pending.future, wait), attempt + 1
            except TimeoutError:
                # The agent answered this request, but not acceptably: its
                # answer would be here by now, so don't retry.
                if pending.refused is not None:
                    raise pending.refused from None
                garbage = self._garbage.get(home) or garbage
                wait *= backoff
            finally:
                del self._pending[request_id]
                self._waiting[home] -= 1
                if not self._waiting[home]:
                    del self._waiting[home]
                    self._garbage.pop(home, None)
        raise garbage or SnmpTimeout(f"no answer from {address[0]} after {retries + 1} attempts")

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


def _normal(address: Address) -> Address:
    """The address as the kernel reports a datagram's source."""
    try:
        return ipaddress.ip_address(address[0].split("%")[0]).compressed, address[1]
    except ValueError:
        return address


def _same_host(a: Address, b: Address) -> bool:
    if a == b:  # the kernel reports addresses normalised: the usual case
        return True
    if a[1] != b[1]:
        return False
    try:
        return ipaddress.ip_address(a[0]) == ipaddress.ip_address(b[0].split("%")[0])
    except ValueError:
        return a[0] == b[0]
