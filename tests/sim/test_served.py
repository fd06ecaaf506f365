"""What a poller sees: the simulator walked with net-snmp and with pysnmp, over SNMPv3 authPriv."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from estate import Estate
from monitors.sim import SimulatedEstate
from monitors.sim.probe import get
from tests.sim.conftest import bulkwalk
from tests.waiting import wait_until

IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
OSPF_STATE = "1.3.6.1.2.1.14.10.1.6"
OSPFV3_STATE = "1.3.6.1.2.1.191.1.9.1.8"


def read(sim: SimulatedEstate, device: str, oids: list[str]) -> dict[str, Any]:
    host, port, context = sim.targets()[device]
    # Every caller expects an answer: a generous timeout, as the shared
    # snmpsim may be slow to answer on a loaded machine.
    return asyncio.run(get(host, port, sim.credential_for(device), context, oids, timeout_s=10))


def if_index(sim: SimulatedEstate, device: str, interface: str) -> int:
    names = bulkwalk(sim, device, IF_NAME)
    return next(int(oid.rsplit(".", 1)[1]) for oid, name in names.items() if name == interface)


def test_net_snmp_walk_shows_the_estate_interface_names(
    demo_sim: SimulatedEstate, small: Estate, net_snmp: str
) -> None:
    for device in small.devices():
        names = set(bulkwalk(demo_sim, device.name, IF_NAME).values())
        aliases = set(bulkwalk(demo_sim, device.name, IF_ALIAS).values())
        ends = [(end.interface, link.id) for link in small.links()
                for end in (link.child_end, link.parent_end) if end.device == device.name]  # fmt: skip
        assert names == {name for name, _ in ends}
        assert aliases == {link for _, link in ends}


def test_pysnmp_reads_the_same_names(demo_sim: SimulatedEstate, net_snmp: str) -> None:
    walked = bulkwalk(demo_sim, "qf-cgz-r1", IF_NAME)
    by_pysnmp = read(demo_sim, "qf-cgz-r1", list(walked))
    assert {str(v) for v in by_pysnmp.values()} == set(walked.values()) == {
        "gei-0/1/0/1", "gei-0/1/0/2", "gei-0/2/0/1",
    }  # fmt: skip


def test_failover_county_primary_down_backup_up_at_both_ends(
    demo_sim: SimulatedEstate, small: Estate, net_snmp: str
) -> None:
    pair = next(p for p in small.link_pairs() if p.id == "hl")
    for link, expected in ((pair.primary, 2), (pair.backup, 1)):
        for end in (link.child_end, link.parent_end):
            index = if_index(demo_sim, end.device, end.interface)
            status = read(demo_sim, end.device, [f"{IF_OPER}.{index}"])
            assert int(status[f"{IF_OPER}.{index}"]) == expected, (link.id, end.device)


def test_backup_counter_grows_and_primary_stays_flat(
    demo_sim: SimulatedEstate, small: Estate, net_snmp: str
) -> None:
    pair = next(p for p in small.link_pairs() if p.id == "hl")
    backup = pair.backup.child_end
    primary = pair.primary.child_end
    b = f"{HC_IN}.{if_index(demo_sim, backup.device, backup.interface)}"
    p = f"{HC_IN}.{if_index(demo_sim, primary.device, primary.interface)}"
    first_b, first_p = (
        int(read(demo_sim, backup.device, [b])[b]),
        int(read(demo_sim, primary.device, [p])[p]),
    )
    time.sleep(1.5)
    second_b, second_p = (
        int(read(demo_sim, backup.device, [b])[b]),
        int(read(demo_sim, primary.device, [p])[p]),
    )
    assert second_b > first_b
    # the backup carries the county: well over a third of 1 Gbit/s, in bytes
    assert (second_b - first_b) / 1.5 > 0.3 * pair.backup.bandwidth_bps / 8
    assert second_p == first_p


def test_ospf_neighbour_absent_for_down_links_present_for_up(
    demo_sim: SimulatedEstate, small: Estate, net_snmp: str
) -> None:
    pair = next(p for p in small.link_pairs() if p.id == "hl")
    down = bulkwalk(demo_sim, pair.primary.child_end.device, OSPF_STATE)
    assert f"{OSPF_STATE}.{pair.primary.parent_end.address4}.0" not in down
    up = bulkwalk(demo_sim, pair.backup.child_end.device, OSPF_STATE)
    assert up[f"{OSPF_STATE}.{pair.backup.parent_end.address4}.0"] == "8"
    # OSPFv3 rows are indexed by ifIndex: none on the down interface
    index = if_index(demo_sim, pair.primary.child_end.device, pair.primary.child_end.interface)
    v3 = bulkwalk(demo_sim, pair.primary.child_end.device, OSPFV3_STATE)
    assert not [oid for oid in v3 if oid.startswith(f"{OSPFV3_STATE}.{index}.")]


def test_flapping_township_toggles_status_and_adjacency_together(
    demo_sim: SimulatedEstate, small: Estate, net_snmp: str
) -> None:
    pair = next(p for p in small.link_pairs() if p.id == "qf-cgz")
    end = pair.primary.child_end
    status = f"{IF_OPER}.{if_index(demo_sim, end.device, end.interface)}"
    state = f"{OSPF_STATE}.{pair.primary.parent_end.address4}.0"
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + 60  # a cap only: it ends once both statuses are seen
    while time.monotonic() < deadline and len({s for s, _ in seen}) < 2:
        values = read(demo_sim, end.device, [status, state])
        seen.add((int(values[status]), int(values[state])))
        time.sleep(0.5)
    statuses = {s for s, _ in seen}
    assert statuses == {1, 2}
    # up means a full adjacency, down means none (transitions may straddle one read)
    assert (1, 8) in seen and (2, 1) in seen


def test_silent_failure_stays_up_in_if_mib_while_traffic_and_adjacency_die(
    small: Estate, net_snmp: str
) -> None:
    # Counted from the simulator's boot: its start, the ifIndex walk and the
    # reads before the onset took 4-6 s at load 9, so a wide margin.
    onset_s = 30.0
    with SimulatedEstate(small, "silent-failure:hl-zyl", levels=("township",),
                         silent_after_s=onset_s) as sim:  # fmt: skip
        pair = next(p for p in small.link_pairs() if p.id == "hl-zyl")
        end = pair.primary.child_end
        index = if_index(sim, end.device, end.interface)
        status, counter = f"{IF_OPER}.{index}", f"{HC_IN}.{index}"
        neighbour = f"{OSPF_STATE}.{pair.primary.parent_end.address4}.0"
        oids = [status, counter, neighbour]
        before = read(sim, end.device, oids)
        assert int(before[neighbour]) == 8  # Full: a poller learns the adjacency first
        wait_until(lambda: int(read(sim, end.device, [counter])[counter]) > int(before[counter]),
                   onset_s, "traffic on the link before the onset")  # fmt: skip

        def adjacency_gone() -> dict[str, Any] | None:
            values = read(sim, end.device, oids)
            return values if int(values[neighbour]) == 1 else None

        after = wait_until(adjacency_gone, onset_s + 10, "the silent failure's onset", every=0.2)
        time.sleep(1.0)  # a window to measure over: nothing may pass in it
        later = read(sim, end.device, oids)
        assert int(after[status]) == int(later[status]) == 1  # IF-MIB still says up
        assert int(after[counter]) == int(later[counter])  # nothing passes
        assert int(after[neighbour]) == 1  # adjacency down
        backup = bulkwalk(sim, end.device, OSPF_STATE)
        assert backup[f"{OSPF_STATE}.{pair.backup.parent_end.address4}.0"] == "8"
