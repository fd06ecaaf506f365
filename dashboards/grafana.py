"""Grafana dashboards as code (grafana-foundation-sdk): overview, extranet, devices, security.

Every query uses only metrics the exporters expose; tests/dashboards/
test_grafana_live.py runs each one against a real Prometheus scraping a
running `yunwang watch` and requires data back.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from estate import Estate

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def _query(expr: str, legend: str = "", ref: str = "A") -> Dataquery:
    query = Dataquery().expr(expr).datasource(DATASOURCE).ref_id(ref)
    return query.legend_format(legend) if legend else query


def _variable(name: str, label: str, query: str) -> QueryVariable:
    return (
        QueryVariable(name).label(label).query(query).datasource(DATASOURCE)
        .multi(True).include_all(True).all_value(".*")
    )  # fmt: skip


def _base(uid: str, title: str, estate: Estate) -> Dashboard:
    return (
        Dashboard(f"{estate.city.name} · {title}").uid(f"yunwang-{estate.city.code}-{uid}")
        .tags(["yunwang", estate.city.code]).refresh("30s").time("now-6h", "now")
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )  # fmt: skip


def overview(estate: Estate) -> Dashboard:
    return (
        _base("overview", "一屏统览 overview", estate)
        .with_row(Row("态势 posture"))
        .with_panel(Stat().title("城市安全态势 city posture").unit("none").min(0).max(100)
                    .with_target(_query('yunwang_posture_score{scope="city"}', "{{name}}")))
        .with_panel(Stat().title("未关闭预警 open warnings by level")
                    .with_target(_query("sum by (warning_level) (yunwang_warnings)", "{{warning_level}}")))
        .with_panel(Timeseries().title("区县态势 county posture").min(0).max(100)
                    .with_target(_query('yunwang_posture_score{scope="county"}', "{{name}}")))
        .with_row(Row("外网 extranet"))
        .with_panel(Timeseries().title("双链路状态 pairs by level and state")
                    .with_target(_query("sum by (level, state) (yunwang_link_pair_state)", "{{level}} {{state}}")))
        .with_panel(Stat().title("设备状态 devices by state")
                    .with_target(_query("sum by (state) (yunwang_snmp_device_state)", "{{state}}")))
    )  # fmt: skip


def extranet(estate: Estate) -> Dashboard:
    where = 'county=~"$county"'
    return (
        _base("extranet", "电子政务外网 extranet", estate)
        .with_variable(_variable("county", "区县 county", "label_values(yunwang_link_pair_state, county)"))
        .with_row(Row("双链路 dual links"))
        .with_panel(Table().title("链路对状态 pair state")
                    .with_target(_query(f"yunwang_link_pair_state{{{where}}} == 1", "{{pair}} {{state}}")))
        .with_panel(Timeseries().title("在用链路 links carrying").min(0).max(1)
                    .with_target(_query(f"yunwang_link_up{{{where}}}", "{{link}}")))
        .with_row(Row("带宽 bandwidth (owed vs used)"))
        .with_panel(Timeseries().title("实际占用 used").unit("bps")
                    .with_target(_query(f"yunwang_link_receive_bits_per_second{{{where}}}", "{{link}} in"))
                    .with_target(_query(f"yunwang_link_transmit_bits_per_second{{{where}}}", "{{link}} out", "B")))
        .with_panel(Timeseries().title("承诺带宽 owed").unit("bps")
                    .with_target(_query(f"yunwang_link_owed_bandwidth_bits_per_second{{{where}}}", "{{link}}")))
        .with_panel(Timeseries().title("占用率 utilisation of owed").unit("percentunit")
                    .with_target(_query(f"yunwang_link_utilisation_ratio{{{where}}}", "{{link}}")))
    )  # fmt: skip


def devices(estate: Estate) -> Dashboard:
    where = 'device=~"$device"'
    return (
        _base("devices", "设备与接口 devices", estate)
        .with_variable(_variable("device", "设备 device", "label_values(yunwang_snmp_device_state, device)"))
        .with_panel(Table().title("设备状态 device state")
                    .with_target(_query(f"yunwang_snmp_device_state{{{where}}} == 1", "{{device}} {{state}}")))
        .with_panel(Timeseries().title("轮询耗时 poll duration").unit("s")
                    .with_target(_query(f"yunwang_snmp_poll_duration_seconds{{{where}}}", "{{device}}")))
        .with_panel(Timeseries().title("接口流量 interface traffic").unit("bps")
                    .with_target(_query(f"rate(yunwang_interface_receive_bytes_total{{{where}}}[$__rate_interval]) * 8",
                                        "{{device}} {{interface}} in"))
                    .with_target(_query(f"rate(yunwang_interface_transmit_bytes_total{{{where}}}[$__rate_interval]) * 8",
                                        "{{device}} {{interface}} out", "B")))
        .with_panel(Timeseries().title("接口状态 interface up")
                    .with_target(_query(f"yunwang_interface_up{{{where}}}", "{{device}} {{interface}}")))
        .with_panel(Timeseries().title("采集器 poller cycle").unit("s")
                    .with_target(_query("yunwang_snmp_cycle_duration_seconds", "cycle")))
    )  # fmt: skip


def security(estate: Estate) -> Dashboard:
    return (
        _base("security", "安全态势 security and posture", estate)
        .with_panel(Timeseries().title("态势分项 posture components").min(0).max(100)
                    .with_target(_query('yunwang_posture_component_score{scope="city"}', "{{component}}")))
        .with_panel(Table().title("未关闭预警 active warnings")
                    .with_target(_query("yunwang_warning_active", "{{warning_level}} {{rule_id}}")))
        .with_panel(Timeseries().title("安全事件 events/s by dataset")
                    .with_target(_query("rate(yunwang_security_events_total[$__rate_interval])", "{{dataset}}")))
        .with_panel(Timeseries().title("探针 sensor frames")
                    .with_target(_query("yunwang_packets_seen_total", "{{observer}}")))
        .with_panel(Timeseries().title("IPv6 部署率 IPv6 share of flows").unit("percentunit")
                    .with_target(_query("yunwang_packets_ipv6_flow_ratio", "{{segment}}")))
    )  # fmt: skip


BOARDS = {"overview": overview, "extranet": extranet, "devices": devices, "security": security}


def dashboards(estate: Estate) -> dict[str, dict[str, Any]]:
    """Dashboard JSON (as Grafana imports it) by short name."""
    encoder = JSONEncoder(sort_keys=True, indent=2)
    boards = {}
    for name, build in BOARDS.items():
        board = json.loads(encoder.encode(build(estate).build()))
        # The SDK leaves panel ids at 0; Grafana links and edits panels by a unique id.
        for number, panel in enumerate(board.get("panels", []), start=1):
            panel["id"] = number
        boards[name] = board
    return boards


def queries(board: dict[str, Any]) -> list[str]:
    """Every panel query of a dashboard, for checking against a real Prometheus."""
    panels = list(board.get("panels", []))
    for panel in list(panels):
        panels += panel.get("panels", [])
    return [t["expr"] for p in panels for t in p.get("targets", []) if "expr" in t]
