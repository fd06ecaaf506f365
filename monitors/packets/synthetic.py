"""Realistic mixed traffic for benchmarks, demos and the differential test.

The mix follows what an extranet aggregation port carries: mostly TCP
(HTTPS, database, SSH) in complete connections with handshakes, data of
varied sizes and FIN, over both IPv4 and IPv6 (some behind an 802.1Q tag);
DNS, syslog and SNMP over UDP; ICMP and ICMPv6 echo; ARP and neighbour
discovery; IPv6 packets with hop-by-hop and fragment headers; a few
truncated frames. Frames are built by scapy, so they are what scapy itself
would dissect; the seed makes every run identical.
"""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw
from scapy.utils6 import in6_getnsma, in6_getnsmac

Frame = tuple[float, bytes]


@dataclass(frozen=True)
class Host:
    """An endpoint: IPv4 and IPv6 addresses and its MAC."""

    ipv4: str
    ipv6: str
    mac: str


def hosts_in(prefix4: str, prefix6: str, count: int, mac_base: int) -> list[Host]:
    """`count` hosts numbered from the 10th address of an IPv4 and an IPv6 prefix."""
    net4 = ipaddress.IPv4Network(prefix4, strict=False)
    net6 = ipaddress.IPv6Network(prefix6, strict=False)
    return [
        Host(
            str(net4.network_address + 10 + i),
            str(net6.network_address + 10 + i),
            _mac(mac_base + i),
        )
        for i in range(count)
    ]


def _mac(number: int) -> str:
    return "02:" + ":".join(f"{(number >> s) & 0xFF:02x}" for s in (32, 24, 16, 8, 0))


class _Builder:
    def __init__(self, seed: int, vlan_share: float, ipv6_share: float) -> None:
        self.rng = random.Random(seed)
        self.vlan_share = vlan_share
        self.ipv6_share = ipv6_share
        self.frames: list[Frame] = []
        self.clock = 1_760_000_000.0

    def emit(self, frame: Packet | bytes) -> None:
        self.clock += self.rng.expovariate(20_000.0)
        self.frames.append((round(self.clock, 6), bytes(frame)))

    def l2(self, src: Host, dst: Host, vlan: int | None) -> Packet:
        ether = Ether(src=src.mac, dst=dst.mac)
        return ether / Dot1Q(vlan=vlan) if vlan is not None else ether

    def l3(self, src: Host, dst: Host, v6: bool) -> Packet:
        return IPv6(src=src.ipv6, dst=dst.ipv6) if v6 else IP(src=src.ipv4, dst=dst.ipv4)

    def tcp_connection(self, client: Host, server: Host, port: int) -> None:
        rng = self.rng
        v6 = rng.random() < self.ipv6_share
        vlan = rng.choice((100, 200, 300)) if rng.random() < self.vlan_share else None
        cport = rng.randint(32768, 60999)
        c2s = self.l2(client, server, vlan) / self.l3(client, server, v6)
        s2c = self.l2(server, client, vlan) / self.l3(server, client, v6)
        seq, ack = rng.getrandbits(32), rng.getrandbits(32)
        self.emit(c2s / TCP(sport=cport, dport=port, flags="S", seq=seq))
        self.emit(s2c / TCP(sport=port, dport=cport, flags="SA", seq=ack, ack=seq + 1))
        self.emit(c2s / TCP(sport=cport, dport=port, flags="A", seq=seq + 1, ack=ack + 1))
        # Data segments of one size are identical bytes here; build each once.
        built: dict[tuple[bool, int], bytes] = {}
        for _ in range(rng.randint(2, 30)):
            size = rng.choice((0, 64, 200, 512, 1200, 1400))
            upstream = rng.random() < 0.4
            frame = built.get((upstream, size))
            if frame is None:
                if upstream:
                    segment = c2s / TCP(sport=cport, dport=port, flags="PA") / Raw(b"q" * size)
                else:
                    segment = s2c / TCP(sport=port, dport=cport, flags="A") / Raw(b"r" * size)
                frame = built[(upstream, size)] = bytes(segment)
            self.emit(frame)
        self.emit(c2s / TCP(sport=cport, dport=port, flags="FA"))
        self.emit(s2c / TCP(sport=port, dport=cport, flags="FA"))
        self.emit(c2s / TCP(sport=cport, dport=port, flags="A"))

    def udp_exchange(self, client: Host, server: Host) -> None:
        rng = self.rng
        v6 = rng.random() < self.ipv6_share
        c2s = self.l2(client, server, None) / self.l3(client, server, v6)
        s2c = self.l2(server, client, None) / self.l3(server, client, v6)
        cport = rng.randint(32768, 60999)
        kind = rng.random()
        if kind < 0.5:
            query = DNS(id=rng.getrandbits(16), rd=1, qd=DNSQR(qname="www.gov.example"))
            self.emit(c2s / UDP(sport=cport, dport=53) / query)
            self.emit(s2c / UDP(sport=53, dport=cport) / DNS(id=query.id, qr=1, qd=query.qd))
        elif kind < 0.8:
            self.emit(c2s / UDP(sport=cport, dport=514) / Raw(b"<134>sshd: session opened"))
        else:
            self.emit(c2s / UDP(sport=cport, dport=161) / Raw(b"\x30\x26" + b"\x00" * 38))
            self.emit(s2c / UDP(sport=161, dport=cport) / Raw(b"\x30\x30" + b"\x00" * 48))

    def echo(self, client: Host, server: Host) -> None:
        if self.rng.random() < self.ipv6_share:
            base = Ether(src=client.mac, dst=server.mac) / IPv6(src=client.ipv6, dst=server.ipv6)
            back = Ether(src=server.mac, dst=client.mac) / IPv6(src=server.ipv6, dst=client.ipv6)
            self.emit(base / ICMPv6EchoRequest(id=7, seq=1) / Raw(b"p" * 56))
            self.emit(back / ICMPv6EchoReply(id=7, seq=1) / Raw(b"p" * 56))
        else:
            base = Ether(src=client.mac, dst=server.mac) / IP(src=client.ipv4, dst=server.ipv4)
            back = Ether(src=server.mac, dst=client.mac) / IP(src=server.ipv4, dst=client.ipv4)
            self.emit(base / ICMP(type=8, id=7, seq=1) / Raw(b"p" * 56))
            self.emit(back / ICMP(type=0, id=7, seq=1) / Raw(b"p" * 56))

    def neighbours(self, asker: Host, owner: Host) -> None:
        broadcast = "ff:ff:ff:ff:ff:ff"
        self.emit(
            Ether(src=asker.mac, dst=broadcast)
            / ARP(op=1, hwsrc=asker.mac, psrc=asker.ipv4, pdst=owner.ipv4)
        )
        self.emit(
            Ether(src=owner.mac, dst=asker.mac)
            / ARP(op=2, hwsrc=owner.mac, psrc=owner.ipv4, hwdst=asker.mac, pdst=asker.ipv4)
        )
        group = in6_getnsma(socket.inet_pton(socket.AF_INET6, owner.ipv6))
        solicited = socket.inet_ntop(socket.AF_INET6, group)
        self.emit(
            Ether(src=asker.mac, dst=in6_getnsmac(group))
            / IPv6(src=asker.ipv6, dst=solicited, hlim=255)
            / ICMPv6ND_NS(tgt=owner.ipv6)
        )
        self.emit(
            Ether(src=owner.mac, dst=asker.mac)
            / IPv6(src=owner.ipv6, dst=asker.ipv6, hlim=255)
            / ICMPv6ND_NA(tgt=owner.ipv6, R=0, S=1, O=1)
        )

    def extension_headers(self, client: Host, server: Host) -> None:
        base = Ether(src=client.mac, dst=server.mac) / IPv6(src=client.ipv6, dst=server.ipv6)
        self.emit(base / IPv6ExtHdrHopByHop() / UDP(sport=40000, dport=514) / Raw(b"hbh"))
        self.emit(
            base
            / IPv6ExtHdrFragment(id=9, m=1, offset=0)
            / UDP(sport=40001, dport=514)
            / Raw(b"a" * 64)
        )
        self.emit(base / IPv6ExtHdrFragment(id=9, m=0, offset=9) / Raw(b"b" * 64))

    def truncated(self, client: Host, server: Host) -> None:
        full = bytes(
            Ether(src=client.mac, dst=server.mac)
            / IP(src=client.ipv4, dst=server.ipv4)
            / TCP(sport=1234, dport=443, flags="S")
        )
        self.emit(full[: self.rng.randint(14, 40)])


def mixed_traffic(
    clients: Sequence[Host],
    servers: Sequence[Host],
    connections: int,
    seed: int = 1,
    ipv6_share: float = 0.4,
    vlan_share: float = 0.1,
    ports: Sequence[int] = (443, 443, 443, 8443, 5432, 22, 80),
    tcp_only: bool = False,
) -> list[Frame]:
    """`connections` conversations between random clients and servers, in order."""
    builder = _Builder(seed, vlan_share, ipv6_share)
    rng = builder.rng
    for _ in range(connections):
        client, server = rng.choice(clients), rng.choice(servers)
        roll = 0.0 if tcp_only else rng.random()
        if roll < 0.70:
            builder.tcp_connection(client, server, rng.choice(ports))
        elif roll < 0.88:
            builder.udp_exchange(client, server)
        elif roll < 0.93:
            builder.echo(client, server)
        elif roll < 0.97:
            builder.neighbours(client, server)
        elif roll < 0.99:
            builder.extension_headers(client, server)
        else:
            builder.truncated(client, server)
    return builder.frames


_TCP_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def varied_traffic(
    clients: Sequence[Host],
    servers: Sequence[Host],
    exchange: Sequence[Host],
    connections: int,
    seed: int = 13,
) -> list[Frame]:
    """A mix unlike `mixed_traffic`'s, IPv4 only: TCP sessions with full
    option sets (MSS, SACK, timestamps, window scale) and 200-1400 byte
    payloads, DNS queries and answers, fragmented syslog datagrams (first,
    middle, last), a third of the frames 802.1Q-tagged, and a forbidden-flow
    storm into `exchange` (tcp/22, 445 and 3389 from many clients)."""
    rng = random.Random(seed)
    out: list[Frame] = []
    t = 1_767_225_600.0

    def put(frame: Packet, vlan: bool) -> None:
        nonlocal t
        t += rng.expovariate(2000)
        if vlan:
            tag = Dot1Q(vlan=100 + rng.randrange(50))
            frame = Ether(src=frame.src, dst=frame.dst) / tag / frame.payload
        out.append((t, bytes(frame)))

    for n in range(connections):
        c = rng.choice(clients)
        vlan = rng.random() < 0.33
        kind = rng.random()
        if kind < 0.45:  # a TCP session with options and payload
            s = rng.choice(servers if rng.random() < 0.7 else exchange)
            port, sport = 443, 20000 + n % 40000
            e1, e2 = Ether(src=c.mac, dst=s.mac), Ether(src=s.mac, dst=c.mac)
            ip1, ip2 = IP(src=c.ipv4, dst=s.ipv4), IP(src=s.ipv4, dst=c.ipv4)
            put(e1 / ip1 / TCP(sport=sport, dport=port, flags="S", options=_TCP_OPTIONS), vlan)
            put(e2 / ip2 / TCP(sport=port, dport=sport, flags="SA", options=_TCP_OPTIONS), vlan)
            for i in range(6):
                fwd = i % 2 == 0
                size = rng.randrange(200, 1400)
                ts_opt = [("NOP", None), ("NOP", None), ("Timestamp", (1000 + i, 999 + i))]
                tcp = TCP(sport=sport if fwd else port, dport=port if fwd else sport,
                          flags="PA", options=ts_opt)  # fmt: skip
                put((e1 / ip1 if fwd else e2 / ip2) / tcp / Raw(rng.randbytes(size)), vlan)
            put(e1 / ip1 / TCP(sport=sport, dport=port, flags="FA"), vlan)
        elif kind < 0.75:  # DNS query and answer
            s = rng.choice(servers)
            name = f"host{rng.randrange(5000)}.gov.example."
            q = DNS(id=n & 0xFFFF, rd=1, qd=DNSQR(qname=name))
            a = DNS(id=n & 0xFFFF, qr=1, rd=1, ra=1, qd=DNSQR(qname=name),
                    an=DNSRR(rrname=name, rdata=s.ipv4))  # fmt: skip
            put(Ether(src=c.mac, dst=s.mac) / IP(src=c.ipv4, dst=s.ipv4)
                / UDP(sport=30000 + n % 30000, dport=53) / q, vlan)  # fmt: skip
            put(Ether(src=s.mac, dst=c.mac) / IP(src=s.ipv4, dst=c.ipv4)
                / UDP(sport=53, dport=30000 + n % 30000) / a, vlan)  # fmt: skip
        elif kind < 0.85:  # a fragmented UDP datagram (syslog bulk)
            s = rng.choice(servers)
            big = (
                IP(src=c.ipv4, dst=s.ipv4, id=n & 0xFFFF)
                / UDP(sport=514, dport=514)
                / Raw(rng.randbytes(3000))
            )
            for piece in fragment(big, fragsize=1200):  # type: ignore[no-untyped-call]
                put(Ether(src=c.mac, dst=s.mac) / piece, vlan)
        else:  # cross-zone: forbidden services into the exchange zone
            s = rng.choice(exchange)
            port = rng.choice((22, 445, 3389))
            put(Ether(src=c.mac, dst=s.mac) / IP(src=c.ipv4, dst=s.ipv4)
                / TCP(sport=40000 + n % 20000, dport=port, flags="S", options=_TCP_OPTIONS), vlan)  # fmt: skip
    return out
