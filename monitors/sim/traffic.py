"""A capture of the estate's own traffic with a few attacks in it, for the demo.

`yunwang watch` replays it through the packet sensor so a newcomer sees the
sensor's warnings without root or a live interface. Every address comes
from the estate: the frames are only ever written to a file and read back,
never sent. The attacks are the ones the sensor exists for: a port scan of
a government server, a forged ARP reply claiming a township gateway, a
rogue IPv6 router advertising a prefix outside the plan, and flows the
isolation matrix forbids (internet into gov-extranet, exchange into
management), next to allowed flows that must stay quiet.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from estate import Estate
from monitors.packets.capture import PcapWriter
from monitors.packets.synthetic import Host, mixed_traffic

ATTACKER_MAC = "02:aa:00:00:00:66"
FOREIGN_PREFIX = "2001:db8:bad::"
INTERNET_HOST = Host("203.0.113.7", "2001:db8:ffff::7", "02:ee:00:00:00:07")  # documentation ranges


@dataclass(frozen=True)
class DemoCapture:
    path: Path
    frames: int
    attacks: tuple[str, ...]


def _host(address4: object, address6: object, number: int) -> Host:
    return Host(
        str(address4), str(address6), f"02:5e:00:00:{number >> 8 & 0xFF:02x}:{number & 0xFF:02x}"
    )


def write_demo_capture(
    estate: Estate, path: Path, start: float, background: int = 400
) -> DemoCapture:
    """Write the demo capture; timestamps begin at `start` (epoch seconds)."""
    hosts = [h for s in estate.systems() for h in s.hosts]
    by_zone: dict[str, list[Host]] = {}
    for number, system_host in enumerate(((s, h) for s in estate.systems() for h in s.hosts), 1):
        system, host = system_host
        by_zone.setdefault(system.zone, []).append(_host(host.address4, host.address6, number))
    if not hosts or "gov-extranet" not in by_zone:
        raise ValueError(f"{estate.file}: the demo capture needs hosts in the gov-extranet zone")
    township = next(n for n in estate.nodes(level="township"))
    lan_host = _host(township.lan4[10], township.lan6[10], 900)
    attacker = Host(str(township.lan4[13]), str(township.lan6[0x66]), ATTACKER_MAC)
    declared = township.devices[0].lan_macs
    gateway_mac = declared[0] if declared else "02:00:5e:00:01:01"
    server = by_zone["gov-extranet"][0]
    frames: list[Packet] = []
    attacks: list[str] = []

    # What a quiet network looks like: the gateway answering for itself first.
    frames.append(
        Ether(src=gateway_mac, dst=lan_host.mac)
        / ARP(
            op=2,
            hwsrc=gateway_mac,
            psrc=str(township.gateway4),
            hwdst=lan_host.mac,
            pdst=lan_host.ipv4,
        )
    )
    frames += [
        Ether(src=attacker.mac, dst=server.mac)
        / IP(src=attacker.ipv4, dst=server.ipv4)
        / TCP(sport=41000, dport=port, flags="S")
        for port in range(1000, 1030)
    ]
    attacks.append(f"port scan {attacker.ipv4} -> {server.ipv4}")
    frames.append(
        Ether(src=attacker.mac, dst=lan_host.mac)
        / ARP(
            op=2,
            hwsrc=attacker.mac,
            psrc=str(township.gateway4),
            hwdst=lan_host.mac,
            pdst=lan_host.ipv4,
        )
    )
    attacks.append(f"forged ARP reply for gateway {township.gateway4} ({township.id})")
    frames.append(
        Ether(src=attacker.mac, dst="33:33:00:00:00:01")
        / IPv6(src="fe80::66", dst="ff02::1", hlim=255)
        / ICMPv6ND_RA(routerlifetime=1800)
        / ICMPv6NDOptSrcLLAddr(lladdr=attacker.mac)
        / ICMPv6NDOptPrefixInfo(prefix=FOREIGN_PREFIX, prefixlen=64, L=1, A=1)
    )
    attacks.append(f"rogue router advertisement for {FOREIGN_PREFIX}/64 on {township.id}")
    flows = [(INTERNET_HOST, server, 3389, "internet -> gov-extranet tcp/3389")]
    if "exchange" in by_zone and "management" in by_zone:
        flows.append(
            (by_zone["exchange"][0], by_zone["management"][0], 22, "exchange -> management tcp/22")
        )
        flows.append((server, by_zone["exchange"][0], 443, ""))  # allowed: must stay quiet
    for index, (client, target, port, label) in enumerate(flows):
        for family, src, dst in ((IP, client.ipv4, target.ipv4), (IPv6, client.ipv6, target.ipv6)):
            frames.append(
                Ether(src=client.mac, dst=target.mac)
                / family(src=src, dst=dst)
                / TCP(sport=52000 + index, dport=port, flags="S")
            )
            frames.append(
                Ether(src=target.mac, dst=client.mac)
                / family(src=dst, dst=src)
                / TCP(sport=port, dport=52000 + index, flags="SA")
            )
        if label:
            attacks.append(f"forbidden flow {label}")
    # Background: what the matrix allows (gov-extranet opening HTTPS in the
    # exchange zone), so every warning in the demo comes from an attack.
    servers = by_zone.get("exchange") or by_zone["gov-extranet"]
    background_frames = mixed_traffic(
        by_zone["gov-extranet"], servers, background, seed=7, ports=(443, 8443), tcp_only=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PcapWriter(path)
    try:
        step = 0.001
        for i, (_, raw) in enumerate(background_frames):
            writer.write(start + i * step, raw)
        offset = start + len(background_frames) * step
        for i, frame in enumerate(frames):
            writer.write(offset + i * step, bytes(frame))
    finally:
        writer.close()
    return DemoCapture(path, len(background_frames) + len(frames), tuple(attacks))


# Where the destination port sits in a SYN written by write_scan_storm:
# Ethernet, IPv4 without options, then the TCP source port.
_DPORT_AT = 14 + 20 + 2
SCAN_SOURCES = "198.18.0.0"  # the benchmark range: outside any estate, never sent


def write_scan_storm(
    estate: Estate, path: Path, scanners: int, ports: int, start: float
) -> DemoCapture:
    """`scanners` distinct sources each SYN-scanning `ports` ports of one of the
    gov-extranet's servers: a capture whose every frame is an event (a
    forbidden flow from outside the estate) and every source a port scan when
    `ports` passes the threshold. For the store's and the loop's worst case.

    scapy builds one frame per scanner and the ports are patched in: the TCP
    checksum goes stale, which a SPAN-port sensor must not (and does not) check.
    """
    servers = [h for s in estate.systems() if s.zone == "gov-extranet" for h in s.hosts]
    if not servers:
        raise ValueError(f"{estate.file}: a scan storm needs hosts in the gov-extranet zone")
    first = int(ipaddress.IPv4Address(SCAN_SOURCES)) + 1
    frames = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with PcapWriter(path) as writer:
        for n in range(scanners):
            server = servers[n % len(servers)]
            template = bytearray(
                bytes(
                    Ether(src=ATTACKER_MAC, dst="02:5e:00:00:ff:01")
                    / IP(src=str(ipaddress.IPv4Address(first + n)), dst=str(server.address4))
                    / TCP(sport=40000 + n % 20000, dport=1, flags="S")
                )
            )
            for port in range(1, ports + 1):
                struct.pack_into("!H", template, _DPORT_AT, port)
                writer.write(start + frames * 1e-4, bytes(template))
                frames += 1
    return DemoCapture(path, frames, (f"{scanners} port scans of {ports} ports",))
