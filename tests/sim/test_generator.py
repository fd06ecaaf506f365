"""The generated recordings, read as text: every device, every link end, each vendor."""

from __future__ import annotations

import pytest

from estate import Estate
from monitors.sim import SimError, generate, parse, simulated_devices
from monitors.sim.scenarios import demo

IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18."
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15."
ENTERPRISE = {
    "huawei": "1.3.6.1.4.1.2011.",
    "h3c": "1.3.6.1.4.1.25506.",
    "ruijie": "1.3.6.1.4.1.4881.",
    "zte": "1.3.6.1.4.1.3902.",
    "cisco": "1.3.6.1.4.1.9.",
    "maipu": "1.3.6.1.4.1.5651.",
    "generic": "1.3.6.1.4.1.8072.",
}


def rows(text: str) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        oid, kind, value = line.split("|", 2)
        out[oid] = (kind, value)
    return out


def column(records: dict[str, tuple[str, str]], prefix: str) -> dict[int, str]:
    return {
        int(oid[len(prefix) :]): bytes.fromhex(value).decode() if kind == "4x" else value
        for oid, (kind, value) in records.items()
        if oid.startswith(prefix)
    }


def test_every_device_gets_its_link_ends_with_estate_names(small: Estate) -> None:
    files = generate(small, parse("normal", small))
    assert set(files) == {d.name for d in small.devices()}
    for device in small.devices():
        records = rows(files[device.name])
        names = column(records, IF_NAME)
        aliases = column(records, IF_ALIAS)
        speeds = column(records, IF_HIGH_SPEED)
        expected = {
            (end.interface, link.id, link.bandwidth_bps // 1_000_000)
            for link in small.links()
            for end in (link.child_end, link.parent_end)
            if end.device == device.name
        }
        assert {(names[i], aliases[i], int(speeds[i])) for i in names} == expected
        assert len(names) == len(expected)  # one row per link end, no duplicates


def test_records_are_sorted_as_snmpsim_needs(small: Estate) -> None:
    for text in generate(small, demo(small)).values():
        oids = [
            tuple(int(x) for x in line.split("|", 1)[0].split(".")) for line in text.splitlines()
        ]
        assert oids == sorted(oids)
        assert len(set(oids)) == len(oids)


def test_system_group_comes_from_a_recording_of_the_same_vendor(small: Estate) -> None:
    files = generate(small, parse("normal", small))
    for device in small.devices():
        records = rows(files[device.name])
        assert records["1.3.6.1.2.1.1.2.0"][1].startswith(ENTERPRISE[device.vendor]), device
        assert bytes.fromhex(records["1.3.6.1.2.1.1.5.0"][1]).decode() == device.name


def test_levels_filter_the_devices(small: Estate) -> None:
    chosen = simulated_devices(small, ("county", "township"))
    assert {small.node(d.node).level for d in chosen} == {"county", "township"}
    files = generate(small, parse("normal", small), ("county", "township"))
    assert set(files) == {d.name for d in chosen}


def test_failover_removes_the_primary_neighbour_and_flattens_its_counters(small: Estate) -> None:
    files = generate(small, parse("county-failover:hl", small))
    primary = small.link_pairs()[0].primary
    assert primary.id == "hl/primary"
    child = rows(files[primary.child_end.device])
    neighbour = f"1.3.6.1.2.1.14.10.1.6.{primary.parent_end.address4}.0"
    assert neighbour not in child
    index = next(
        i for i, name in column(child, IF_NAME).items() if name == primary.child_end.interface
    )
    assert child[f"1.3.6.1.2.1.31.1.1.1.6.{index}"][0] == "70"  # a fixed value: flat
    assert child[f"1.3.6.1.2.1.2.2.1.8.{index}"] == ("2", "2")  # ifOperStatus down
    backup = rows(files[small.link_pairs()[0].backup.child_end.device])
    assert all(
        kind == "70:numeric"
        for oid, (kind, _) in backup.items()
        if oid.startswith("1.3.6.1.2.1.31.1.1.1.6.")
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("county-failover:zz", "'zz' is not a county link pair in"),
        ("township-flapping:hl", "'hl' is not a township link pair"),
        ("meltdown", "expected normal, demo, county-failover"),
        ("county-failover:hl+silent-failure:hl", "given two behaviours"),
    ],
)
def test_bad_scenarios_are_one_clear_line(small: Estate, text: str, expected: str) -> None:
    with pytest.raises(SimError) as caught:
        parse(text, small)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_demo_is_hl_in_failover_and_qf_cgz_flapping(small: Estate) -> None:
    scenario = demo(small)
    assert scenario.failover == ("hl",)
    assert scenario.flapping == ("qf-cgz",)


def test_silent_from_the_start_has_no_neighbour_rows_and_flat_counters(small: Estate) -> None:
    files = generate(small, parse("silent-failure:hl-zyl", small, silent_after_s=0))
    primary = next(p for p in small.link_pairs() if p.id == "hl-zyl").primary
    child = rows(files[primary.child_end.device])
    index = next(
        i for i, name in column(child, IF_NAME).items() if name == primary.child_end.interface
    )
    assert child[f"1.3.6.1.2.1.2.2.1.8.{index}"] == ("2", "1")  # up in IF-MIB
    assert child[f"1.3.6.1.2.1.31.1.1.1.6.{index}"][0] == "70"  # flat
    assert f"1.3.6.1.2.1.14.10.1.6.{primary.parent_end.address4}.0" not in child
    assert not [oid for oid in child if oid.startswith(f"1.3.6.1.2.1.191.1.9.1.8.{index}.")]


def test_ip_addr_table_maps_link_addresses_to_interfaces(small: Estate) -> None:
    files = generate(small, parse("normal", small))
    for link in small.links():
        for end in (link.child_end, link.parent_end):
            records = rows(files[end.device])
            index = next(i for i, n in column(records, IF_NAME).items() if n == end.interface)
            assert records[f"1.3.6.1.2.1.4.20.1.2.{end.address4}"] == ("2", str(index))
            assert records[f"1.3.6.1.2.1.4.20.1.3.{end.address4}"] == ("64", str(link.net4.netmask))


def test_scenarios_take_the_names_the_screens_show(small: Estate) -> None:
    by_name = parse("county-failover:华龙区+township-flapping:城关镇", small)
    by_code = parse("county-failover:hl+township-flapping:qf-cgz", small)
    assert (by_name.failover, by_name.flapping) == (by_code.failover, by_code.flapping)
