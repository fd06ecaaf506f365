"""Write one `.snmprec` per simulated device, from the estate and a scenario.

Each file holds what the poller reads (monitors/snmp/tables.py): the system
group of a real device of the same vendor, ifTable and ifXTable rows for
every link end the estate puts on the device (ifName exactly as declared,
ifAlias = link id, ifHighSpeed = owed bandwidth), ipAddrTable rows for the
link addresses, and OSPF-MIB / OSPFv3-MIB neighbour rows for the links that
are up. Liveness comes from snmpsim's
`numeric` variation module, evaluated at request time:

- octet counters grow at `rate` bytes/s from a fixed start (they restart,
  like a rebooted device's, when the simulator restarts, and so does
  sysUpTime);
- a silent failure's counters stop and its adjacency leaves Full at a set
  time (numeric clamps at max/min);
- a flapping status is a step function of time: numeric computes
  `initial + scale * fmod(t / period, 2)` and clamps it to [min, max], so
  with a steep scale the value sits on one bound for a period, then on the
  other. (snmpsim's `multiplex` module was the first choice, but it orders
  snapshot files as the directory lists them, so on ext4 time-based
  switching sticks to one file.)
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from estate import Device, Estate, Link, LinkEnd
from estate.spec_types import Level
from monitors.sim.scenarios import Behaviour, Scenario
from monitors.sim.vendors import system_group
from monitors.snmp.recordings import recording_for

Record = tuple[str, str, str]  # (OID, snmprec type, value)
LEVELS: tuple[Level, ...] = ("city", "county", "township", "village")
# Share of the owed bandwidth a link carries, (towards the child, towards the parent).
LOAD: dict[Behaviour, tuple[float, float]] = {
    "up": (0.30, 0.12),
    "carrying": (0.55, 0.25),
    "flapping": (0.10, 0.04),
    "down": (0.0, 0.0),
    "silent": (0.30, 0.12),  # a primary's load until the failure, then nothing
}
STANDBY_LOAD = (0.002, 0.001)  # a healthy backup: hellos and BFD only
STEEP = 1_000_000  # slope of the step functions (see module docstring)
OSPF_FULL, OSPF_DOWN = 8, 1

_IF = "1.3.6.1.2.1.2.2.1"
_IFX = "1.3.6.1.2.1.31.1.1.1"
_IP_ADDR = "1.3.6.1.2.1.4.20.1"
_OSPF_NBR = "1.3.6.1.2.1.14.10.1"
_OSPFV3_NBR = "1.3.6.1.2.1.191.1.9.1"


@dataclass(frozen=True)
class Port:
    """One link end on a simulated device, with what the scenario makes of it."""

    if_index: int
    link: Link
    end: LinkEnd
    far: LinkEnd
    towards_parent: bool  # this end is the child's: its output goes up
    behaviour: Behaviour


def simulated_devices(estate: Estate, levels: Iterable[Level] | None = None) -> list[Device]:
    wanted = set(levels or LEVELS)
    return [d for n in estate.nodes() if n.level in wanted for d in n.devices]


def ports(estate: Estate, behaviours: dict[str, Behaviour]) -> dict[str, list[Port]]:
    """Device name -> its link ends, ifIndex 1..n in estate order (one pass over the links)."""
    found: dict[str, list[Port]] = {}
    for link in estate.links():
        for end, far, up in ((link.child_end, link.parent_end, True),
                             (link.parent_end, link.child_end, False)):  # fmt: skip
            mine = found.setdefault(end.device, [])
            mine.append(Port(len(mine) + 1, link, end, far, up, behaviours[link.id]))
    return found


def _hex(text: str) -> str:
    return text.encode("utf-8").hex()


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:6], "big")


def _step(low: int, high: int, period_s: float, low_first: bool) -> str:
    """A numeric variation that sits at one value for a period, then the other."""
    first, scale = (low, STEEP) if low_first else (high, -STEEP)
    initial = first - STEEP if low_first else first + STEEP
    return (
        f"function=fmod%<time>%2,rate={1 / period_s:.6f},scale={scale},"
        f"initial={initial},min={low},max={high}"
    )


def _counter(
    tag: str, start: int, rate: float, stop_after_s: float | None = None
) -> tuple[str, str]:
    """A counter growing at `rate`/s; with `stop_after_s`, frozen from then on."""
    if rate <= 0 or stop_after_s == 0:
        return tag, str(start)
    if stop_after_s is not None:  # numeric clamps at max: growth, then flat
        return (
            f"{tag}:numeric",
            f"rate={rate:.0f},initial={start},max={start + rate * stop_after_s:.0f}",
        )
    limit = ",max=4294967295,wrap=1" if tag == "65" else ""
    return f"{tag}:numeric", f"rate={rate:.0f},initial={start}{limit}"


def _onset(low: int, high: int, after_s: float) -> str:
    """A numeric variation at `high` until `after_s`, then at `low` for good."""
    return f"scale=-{STEEP},initial={high + STEEP * after_s:.0f},min={low},max={high}"


def _oper_status(port: Port, period_s: float) -> tuple[str, str]:
    if port.behaviour == "flapping":  # up (1) for a period, then down (2)
        return "2:numeric", _step(1, 2, period_s, low_first=True)
    return "2", "2" if port.behaviour == "down" else "1"


def _interface_records(
    port: Port, scenario: Scenario, device: str
) -> Iterator[tuple[str, str, str]]:
    link, i = port.link, port.if_index
    name = port.end.interface
    load = LOAD[port.behaviour]
    if port.behaviour == "up" and link.role == "backup":
        load = STANDBY_LOAD
    down_share, up_share = load
    octets_per_s = link.bandwidth_bps / 8
    # The child receives what flows down and sends what flows up; the parent the reverse.
    rx, tx = (down_share, up_share) if port.towards_parent else (up_share, down_share)
    rx_rate, tx_rate = rx * octets_per_s, tx * octets_per_s
    start_in = _seed(device, name, "in") % 10**13
    start_out = _seed(device, name, "out") % 10**13
    stop = scenario.silent_after_s if port.behaviour == "silent" else None
    # A counter that will freeze must not wrap first: start it low in 32-bit space.
    room32 = 2**31 if stop is not None else 2**32
    mac = "02" + f"{_seed(device, name):012x}"[-10:]
    yield f"{_IF}.1.{i}", "2", str(i)
    yield f"{_IF}.2.{i}", "4x", _hex(name)
    yield f"{_IF}.3.{i}", "2", "6"  # ethernetCsmacd
    yield f"{_IF}.4.{i}", "2", "1500"
    yield f"{_IF}.5.{i}", "66", str(min(link.bandwidth_bps, 4_294_967_295))
    yield f"{_IF}.6.{i}", "4x", mac
    yield f"{_IF}.7.{i}", "2", "1"  # admin up: a failure, not an engineer's shutdown
    yield f"{_IF}.8.{i}", *_oper_status(port, scenario.flap_period_s)
    yield f"{_IF}.9.{i}", "67", "0"
    yield f"{_IF}.10.{i}", *_counter("65", start_in % room32, rx_rate, stop)
    yield f"{_IF}.13.{i}", "65", "0"
    yield f"{_IF}.14.{i}", "65", "0"
    yield f"{_IF}.16.{i}", *_counter("65", start_out % room32, tx_rate, stop)
    yield f"{_IF}.19.{i}", "65", "0"
    yield f"{_IF}.20.{i}", "65", "0"
    yield f"{_IFX}.1.{i}", "4x", _hex(name)
    yield f"{_IFX}.6.{i}", *_counter("70", start_in, rx_rate, stop)
    yield f"{_IFX}.10.{i}", *_counter("70", start_out, tx_rate, stop)
    yield f"{_IFX}.15.{i}", "66", str(link.bandwidth_bps // 1_000_000)
    yield f"{_IFX}.18.{i}", "4x", _hex(link.id)


def _address_records(port: Port) -> Iterator[tuple[str, str, str]]:
    """IP-MIB ipAddrTable: the poller maps an OSPFv2 neighbour to our interface by subnet."""
    address = port.end.address4
    yield f"{_IP_ADDR}.1.{address}", "64", str(address)
    yield f"{_IP_ADDR}.2.{address}", "2", str(port.if_index)
    yield f"{_IP_ADDR}.3.{address}", "64", str(port.link.net4.netmask)


def _neighbour_records(
    port: Port, router_ids: dict[str, str], scenario: Scenario
) -> Iterator[tuple[str, str, str]]:
    if port.behaviour == "down" or (port.behaviour == "silent" and scenario.silent_after_s == 0):
        return  # the adjacency is gone: no row, as OSPF-MIB shows after the dead interval
    state: tuple[str, str]
    if port.behaviour == "flapping":  # full (8) for a period, then down (1)
        state = ("2:numeric", _step(OSPF_DOWN, OSPF_FULL, scenario.flap_period_s, low_first=False))
    elif port.behaviour == "silent":  # full until the failure, then down (1)
        state = ("2:numeric", _onset(OSPF_DOWN, OSPF_FULL, scenario.silent_after_s))
    else:
        state = ("2", str(OSPF_FULL))
    router_id = router_ids[port.far.device]
    v2 = f"{port.far.address4}.0"
    yield f"{_OSPF_NBR}.1.{v2}", "64", str(port.far.address4)
    yield f"{_OSPF_NBR}.2.{v2}", "2", "0"
    yield f"{_OSPF_NBR}.3.{v2}", "64", str(router_id)
    yield f"{_OSPF_NBR}.6.{v2}", *state
    v3 = f"{port.if_index}.0.{int(ipaddress.IPv4Address(router_id))}"
    yield f"{_OSPFV3_NBR}.4.{v3}", "2", "2"  # ipv6
    yield f"{_OSPFV3_NBR}.5.{v3}", "4x", ipaddress.IPv6Address(port.far.address6).packed.hex()
    yield f"{_OSPFV3_NBR}.8.{v3}", *state


@dataclass(frozen=True)
class Plan:
    """What every device's records are built from, indexed once."""

    scenario: Scenario
    ports: dict[str, list[Port]]
    router_ids: dict[str, str]  # device -> its mgmt4, the OSPF router id
    node_names: dict[str, str]


def build_plan(estate: Estate, scenario: Scenario) -> Plan:
    return Plan(
        scenario,
        ports(estate, scenario.behaviours(estate)),
        {d.name: str(d.mgmt4) for d in estate.devices()},
        {n.id: n.name for n in estate.nodes()},
    )


def device_records(device: Device, plan: Plan) -> list[tuple[str, str, str]]:
    system = system_group(recording_for(device.model, device.vendor))
    records: list[tuple[str, str, str]] = [
        (oid, kind, value) for oid, (kind, value) in system.records.items()
    ]
    records += [
        ("1.3.6.1.2.1.1.3.0", "67:numeric", f"rate=100,initial={system.uptime_ticks}"),
        ("1.3.6.1.2.1.1.5.0", "4x", _hex(device.name)),
        ("1.3.6.1.2.1.1.6.0", "4x", _hex(plan.node_names[device.node])),
        ("1.3.6.1.2.1.14.1.1.0", "64", str(device.mgmt4)),  # ospfRouterId
    ]
    device_ports = plan.ports.get(device.name, [])
    records.append(("1.3.6.1.2.1.2.1.0", "2", str(len(device_ports))))  # ifNumber
    for port in device_ports:
        records += _interface_records(port, plan.scenario, device.name)
        records += _address_records(port)
        records += _neighbour_records(port, plan.router_ids, plan.scenario)
    records.sort(key=lambda r: tuple(int(x) for x in r[0].split(".")))
    return records


def render(records: list[tuple[str, str, str]]) -> str:
    return "".join(f"{oid}|{kind}|{value}\n" for oid, kind, value in records)


def generate(
    estate: Estate, scenario: Scenario, levels: Iterable[Level] | None = None
) -> dict[str, str]:
    """Device name -> snmprec text, for every simulated device."""
    plan = build_plan(estate, scenario)
    return {
        device.name: render(device_records(device, plan))
        for device in simulated_devices(estate, levels)
    }


def write(files: dict[str, str], data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = data_dir / f"{name}.snmprec"
        partial = path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.rename(path)
