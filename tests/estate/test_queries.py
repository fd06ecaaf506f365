"""The queries other rooms rely on."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from estate import Estate, UnknownName, load
from estate.model import ScopeKind


@pytest.fixture(scope="module")
def small(small_path: Path) -> Estate:
    return load(small_path)


def test_nodes_and_links_by_level_and_county(small: Estate) -> None:
    assert [n.id for n in small.nodes(level="township", county="hl")] == ["hl-zyl", "hl-ycz"]
    assert [link.id for link in small.links(level="county", role="backup")] == [
        "hl/backup",
        "qf/backup",
    ]
    assert {link.county for link in small.links(county="qf")} == {"qf"}
    village = small.node("hl-zyl-v002")
    assert (village.name, village.parent, village.county, village.township) == (
        "孟轲村",
        "hl-zyl",
        "hl",
        "hl-zyl",
    )


def test_link_ends_are_addressed_from_a_point_to_point_pair(small: Estate) -> None:
    for link in small.links():
        assert link.net4.prefixlen == 31 and link.net6.prefixlen == 127
        assert {link.parent_end.address4, link.child_end.address4} == set(link.net4)
        assert {link.parent_end.address6, link.child_end.address6} == set(link.net6)
    backup = small.links(level="county", role="backup")[0]
    assert (backup.child_end.device, backup.parent_end.device) == ("hl-agg-2", "py-core-2")
    assert backup.parent_end.interface == "XGigabitEthernet2/0/1"


def test_link_pairs_cover_counties_and_townships(small: Estate) -> None:
    assert [p.id for p in small.link_pairs()] == [
        "hl",
        "hl-zyl",
        "hl-ycz",
        "qf",
        "qf-cgz",
        "qf-mzq",
    ]
    assert [p.id for p in small.link_pairs(level="county")] == ["hl", "qf"]


def test_zone_of_an_address(small: Estate) -> None:
    jwzh = small.systems(tenant="gaj")[0].hosts[0]
    assert small.zone_of(jwzh.address4) == "gov-extranet"
    assert small.zone_of(str(jwzh.address6)) == "gov-extranet"
    assert small.zone_of("10.35.200.7") == "management"  # the pinned override
    assert small.zone_of(small.node("qf-cgz").lan4[3]) == "gov-extranet"
    assert small.zone_of(small.links()[0].net6[0]) == "gov-extranet"
    assert small.zone_of("203.0.113.9") == "internet"
    assert small.zone_of("10.34.0.1") is None  # in the plan, in no zone


def test_isolation_matrix(small: Estate) -> None:
    assert small.allowed("gov-extranet", "exchange", "tcp", 443)
    assert not small.allowed("gov-extranet", "exchange", "tcp", 80)
    assert not small.allowed("internet", "gov-extranet", "tcp", 443)
    assert small.allowed("management", "dr-replication", "udp", 161)  # "*" target
    assert small.allowed("management", "exchange", "icmpv6")  # icmp opens both families
    assert not small.allowed("exchange", "internet", "tcp", 443)
    assert small.allowed("exchange", "exchange", "udp", 9)  # inside a zone is not isolation


def test_systems_filters_and_tenant_prefixes(small: Estate) -> None:
    assert [s.code for s in small.systems(mlps_level=2)] == ["portal"]
    assert [s.code for s in small.systems(zone="exchange")] == ["portal", "gxjh"]
    assert [s.code for s in small.replicated_systems()] == [
        "jwzh",
        "portal",
        "sbjb",
        "gxjh",
        "soc",
        "backup",
    ]
    net4, net6 = small.tenant_prefix("gaj", "gov-extranet")
    hosts = small.systems(tenant="gaj", zone="gov-extranet")[0].hosts
    assert [h.name for h in hosts] == ["jwzh-app-1", "jwzh-app-2", "jwzh-db"]
    assert all(h.address4 in net4 and h.address6 in net6 for h in hosts)
    zone = small.zone("gov-extranet")
    assert zone.prefix4 is not None and net4.subnet_of(zone.prefix4)


def test_devices_and_credentials(small: Estate) -> None:
    device = small.device("hl-zyl-v001-r1")
    assert device.node == "hl-zyl-v001" and device.credential == "extranet-v3"
    assert device.mgmt4 in small.node("hl-zyl-v001").lan4
    assert small.node("py").gateway4 == small.device("py-core-1").mgmt4
    cred = small.credential("extranet-v3")
    assert (
        cred.version == 3 and cred.auth_key is not None and cred.auth_key.env == "YUNWANG_SNMP_AUTH"
    )
    assert len({d.mgmt4 for d in small.devices()}) == len(small.devices())
    assert ip_address("10.40.0.1") == small.device("py-core-1").mgmt4


def test_resolve_takes_codes_and_the_names_people_see(small: Estate) -> None:
    assert small.resolve("hl") == small.resolve("华龙区") == ("county", "hl")
    assert small.resolve(" 市公安局 ") == ("tenant", "gaj")
    assert small.resolve("电子政务外网") == ("zone", "gov-extranet")
    assert small.resolve("安全交换区") == ("zone", "exchange")  # without "(safe-exchange DMZ)"
    township = small.nodes(level="township")[0]
    assert small.resolve(township.name) == ("township", township.id)
    assert small.resolve("华龙区", ("county",)) == ("county", "hl")


def test_resolve_names_close_matches_for_an_unknown_name(small: Estate) -> None:
    with pytest.raises(UnknownName) as caught:
        small.resolve("华龙", ("county",))
    assert str(caught.value) == f"no county named '华龙' in {small.file}; did you mean 华龙区?"
    with pytest.raises(UnknownName, match="no tenant or zone named 'hl'"):
        small.resolve("hl", ("tenant", "zone"))  # a county is not what was asked for


def test_a_system_is_named_and_found_by_tenant_slash_code(small: Estate) -> None:
    for system in small.systems():
        assert system.ref == f"{system.tenant}/{system.code}"
        assert small.system(system.ref) is system
    for wrong in ("gaj", "gaj/", "/jwzh", "gaj/jwzh/x", "nobody/jwzh"):
        with pytest.raises(KeyError):
            small.system(wrong)


def test_resolve_takes_systems_and_hosts(small: Estate) -> None:
    kinds: tuple[ScopeKind, ...] = ("tenant", "system", "host")
    assert small.resolve("gaj/jwzh", kinds) == ("system", "gaj/jwzh")
    assert (
        small.resolve("jwzh", kinds)
        == small.resolve("警务综合平台", kinds)
        == ("system", "gaj/jwzh")
    )
    assert small.resolve("jwzh-app-1", kinds) == ("host", "jwzh-app-1")
    with pytest.raises(UnknownName):
        small.resolve("jwzh-app-1")  # hosts and systems only when asked for
    with pytest.raises(UnknownName) as caught:
        small.resolve("jwzh-app-9", kinds)
    assert str(caught.value).startswith(
        f"no tenant, system or host named 'jwzh-app-9' in {small.file}; did you mean jwzh-app-"
    )


def test_a_system_code_many_tenants_share_must_name_its_tenant(small_path: Path) -> None:
    city = load(small_path.parent / "puyang.yaml")
    with pytest.raises(UnknownName) as caught:
        city.resolve("ywbl", ("system",))
    message = str(caught.value)
    assert message.startswith("'ywbl' is a system of 34 tenants in ") and "\n" not in message
    assert "name one as TENANT/CODE (zfb/ywbl, " in message and "and 29 more" in message
    assert city.resolve("zfb/ywbl", ("system",)) == ("system", "zfb/ywbl")
    assert city.resolve("人民政府办公室业务办理系统", ("system",)) == ("system", "zfb/ywbl")
