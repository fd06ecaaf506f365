"""Estate context: producers name a device, link or address; rules get county, tenant, zone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sec_helpers import make_event

from estate import load
from security.context import EstateContext
from security.events import Endpoint
from security.pipeline import Pipeline
from security.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
ESTATE = load(ROOT / "examples" / "small.yaml")


def test_device_and_link_get_node_level_and_county() -> None:
    ctx = EstateContext(ESTATE)
    by_device = ctx.enrich(
        make_event(0, dataset="yunwang.snmp", action="device-unreachable", device="hl-zyl-r1")
    )
    assert (by_device.context.node, by_device.context.level, by_device.context.county) == (
        "hl-zyl",
        "township",
        "hl",
    )
    by_link = ctx.enrich(make_event(0, action="link-flapping", link="hl/primary"))
    assert (by_link.context.level, by_link.context.county) == ("county", "hl")


def test_hosts_and_addresses_get_tenant_zone_and_mlps() -> None:
    ctx = EstateContext(ESTATE)
    system = ESTATE.systems()[0]
    host = system.hosts[0]
    hardening = replace(
        make_event(0, dataset="yunwang.hardening", action="control-checked"),
        observer=Endpoint(name=host.name),
        outcome="failure",
        rule_id="ssh",
    )
    got = ctx.enrich(hardening)
    assert (got.context.tenant, got.context.system, got.context.zone) == (
        system.tenant,
        system.code,
        system.zone,
    )
    assert dict(got.labels)["mlps_level"] == str(system.mlps_level)
    flow = replace(
        make_event(0, dataset="yunwang.packets", action="forbidden-cross-zone-flow"),
        source=Endpoint(ip="8.8.8.8"),
        destination=Endpoint(ip=str(host.address4)),
    )
    labels = dict(ctx.enrich(flow).labels)
    assert (labels["source_zone"], labels["destination_zone"]) == ("internet", system.zone)


def test_producer_values_win_and_plain_events_pass_unchanged() -> None:
    ctx = EstateContext(ESTATE)
    event = make_event(0, device="hl-zyl-r1", county="override")
    assert ctx.enrich(event).context.county == "override"
    plain = make_event(0, dataset="yunwang.metrics", action="poll")
    assert ctx.enrich(plain) is plain


def test_pipeline_grades_with_estate_context(tmp_path: Path) -> None:
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), enrich=EstateContext(ESTATE).enrich)
    [change] = pipeline.submit(
        [make_event(0, dataset="yunwang.snmp", action="device-unreachable", device="hl-agg-1")]
    )
    assert change.warning.level == "orange" and change.warning.context["county"] == "hl"
    pipeline.close()
