"""Prometheus recording and alerting rules, and the scrape configuration, from the estate.

Every expression uses only metric names the exporters expose
(monitors/exporter.py, security/metrics.py, monitors/packets/metrics.py);
tests/dashboards/test_prometheus.py checks that against a live scrape.
Alerts carry `warning_level` (red|orange|yellow|blue, as everywhere in
yunwang), a matching `severity`, the extranet `level` and the `county`
(and `township`) they concern, so Alertmanager can route by level and
county and inhibit along the topology (dashboards/alertmanager.py).

Severities follow the rules the security pipeline grades with
(security/rules/YW-LINK-*.yaml): a county carries every township below
it, so the same fault is one level graver at county level.
"""

from __future__ import annotations

import re
from typing import Any

from estate import Estate, Node
from security.levels import WarningLevel

SEVERITY: dict[WarningLevel, str] = {
    "red": "critical",
    "orange": "major",
    "yellow": "minor",
    "blue": "info",
}
# Pair state -> (level at county, level at township), after YW-LINK-001..003.
PAIR_STATE_LEVELS: dict[str, tuple[WarningLevel, WarningLevel]] = {
    "isolated": ("red", "orange"),
    "failover": ("orange", "yellow"),
    "flapping": ("orange", "yellow"),
    "degraded": ("yellow", "blue"),
}
# A device that does not answer, by the level of its node: a city core is the gravest.
DEVICE_LEVEL: dict[str, WarningLevel] = {"city": "red", "county": "orange", "township": "yellow"}
UTILISATION_LIMIT = 0.8  # of the owed bandwidth, as monitors/links.py Thresholds
POSTURE_FLOOR = 60.0  # the city's score below this is a warning in itself
POSTURE_DROP = 20.0  # points lost within an hour by a county


def _alert(
    name: str, expr: str, grade: WarningLevel, summary: str, for_: str = "0s",
    **labels: str,
) -> dict[str, Any]:  # fmt: skip
    rule: dict[str, Any] = {
        "alert": name,
        "expr": expr,
        "labels": {"warning_level": grade, "severity": SEVERITY[grade], **labels},
        "annotations": {"summary": summary},
    }
    if for_ != "0s":
        rule["for"] = for_
    return rule


def _devices(nodes: list[Node]) -> str:
    """The nodes' device names as one regex, inside a PromQL string (so each
    regex backslash is doubled)."""
    return "|".join(_REGEX_SPECIAL.sub(r"\\\\\g<0>", d.name) for n in nodes for d in n.devices)


_REGEX_SPECIAL = re.compile(r"[.^$*+?()\[\]{}|\\]")


def rules(estate: Estate) -> dict[str, Any]:
    """The rules file (groups) for this estate."""
    interval = estate.monitoring.poll_interval_s
    stale = f"{int(interval * 3)}s"
    recording = {
        "name": "yunwang-recording",
        "rules": [
            {"record": "level_state:yunwang_link_pair_state:sum",
             "expr": "sum by (level, state) (yunwang_link_pair_state)"},
            {"record": "county_state:yunwang_link_pair_state:sum",
             "expr": "sum by (county, state) (yunwang_link_pair_state)"},
            {"record": "pair:yunwang_link_utilisation_ratio:max",
             "expr": "max by (pair, level, county, township) (yunwang_link_utilisation_ratio)"},
            {"record": "state:yunwang_snmp_device_state:sum",
             "expr": "sum by (state) (yunwang_snmp_device_state)"},
            {"record": "warning_level:yunwang_warnings:sum",
             "expr": "sum by (warning_level) (yunwang_warnings)"},
        ],
    }  # fmt: skip
    links = []
    for level in ("county", "township"):
        if not estate.link_pairs(level=level):
            continue
        at_township = level == "township"
        for state, levels in PAIR_STATE_LEVELS.items():
            links.append(
                _alert(
                    f"YunwangLinkPair{state.capitalize()}",
                    f'yunwang_link_pair_state{{level="{level}",state="{state}"}} == 1',
                    levels[at_township],
                    f"{level} {{{{ $labels.pair }}}} dual link is {state}",
                    level=level,
                )
            )
        owed = estate.owed_bandwidth(level)
        links += [
            _alert(
                "YunwangLinkSlowerThanOwed",
                f'yunwang_link_speed_bits_per_second{{level="{level}"}} < {owed}',
                "yellow",
                f"{level} link {{{{ $labels.link }}}} runs slower than the {owed} b/s it is owed",
                "2m",
                level=level,
            ),
            _alert(
                "YunwangLinkOwedBandwidthBreached",
                f'yunwang_link_utilisation_ratio{{level="{level}"}} > {UTILISATION_LIMIT}',
                "yellow" if level == "county" else "blue",
                f"{level} link {{{{ $labels.link }}}} above {UTILISATION_LIMIT:.0%} of its owed bandwidth",
                "5m",
                level=level,
            ),
        ]
    devices = []
    villages_of: dict[str | None, list[Node]] = {}
    for village in estate.nodes(level="village"):
        if village.devices:
            villages_of.setdefault(village.parent, []).append(village)
    for node in estate.nodes():
        if node.level == "village" or not node.devices:
            continue
        place = {"level": node.level, "county": node.county or "", "township": node.township or ""}
        grade = DEVICE_LEVEL[node.level]
        devices.append(
            _alert(
                "YunwangDeviceUnreachable",
                f'yunwang_snmp_device_state{{state="unreachable",device=~"{_devices([node])}"}} == 1',
                grade,
                f"{node.level} {node.name}: {{{{ $labels.device }}}} does not answer SNMP",
                "1m",
                **place,
            )
        )
        villages = villages_of.get(node.id, [])
        if villages:
            devices.append(
                _alert(
                    "YunwangDeviceUnreachable",
                    f'yunwang_snmp_device_state{{state="unreachable",device=~"{_devices(villages)}"}} == 1',
                    "blue",
                    f"a village of {node.name}: {{{{ $labels.device }}}} does not answer SNMP",
                    "1m",
                    **{**place, "level": "village"},
                )
            )
    health = [
        _alert("YunwangPollerStale", f"time() - yunwang_snmp_last_cycle_timestamp_seconds > {interval * 3:g}",
               "orange", "no complete SNMP poll cycle for three intervals", stale),
        _alert("YunwangSnmpErrors", "increase(yunwang_snmp_errors_total[5m]) > 0", "blue",
               "{{ $labels.device }}: SNMP {{ $labels.kind }} errors"),
        _alert("YunwangSnmpMalformedResponses", "increase(yunwang_snmp_malformed_responses_total[5m]) > 0",
               "yellow", "datagrams that are not valid SNMP responses reach the poller"),
        _alert("YunwangSensorDropping", "increase(yunwang_packets_dropped_total[5m]) > 0", "yellow",
               "sensor {{ $labels.observer }}: the kernel drops frames before the sensor reads them"),
        _alert("YunwangSensorDetectionErrors", "increase(yunwang_packets_detection_errors_total[5m]) > 0",
               "yellow", "sensor {{ $labels.observer }}: a detection failed on frames (a sensor bug)"),
        _alert("YunwangSecurityStoreErrors", "increase(yunwang_security_errors_total[5m]) > 0", "orange",
               "the security pipeline cannot write to {{ $labels.component }}"),
    ]  # fmt: skip
    posture = [
        _alert("YunwangPostureLow", f'yunwang_posture_score{{scope="city"}} < {POSTURE_FLOOR:g}',
               "orange", "the city's security posture is {{ $value | printf \"%.0f\" }} / 100", "5m"),
        _alert("YunwangPostureDrop",
               'label_replace(max_over_time(yunwang_posture_score{scope="county"}[1h])'
               f' - yunwang_posture_score{{scope="county"}}, "county", "$1", "name", "(.*)") > {POSTURE_DROP:g}',
               "yellow", "county {{ $labels.county }} lost {{ $value | printf \"%.0f\" }} posture points within an hour"),
        _alert("YunwangRedWarningOpen", 'yunwang_warnings{warning_level="red",status="open"} > 0',
               "red", "{{ $value }} red early warning(s) open and unacknowledged"),
    ]  # fmt: skip
    return {
        "groups": [
            recording,
            {"name": "yunwang-links", "rules": links},
            {"name": "yunwang-devices", "rules": devices},
            {"name": "yunwang-health", "rules": health},
            {"name": "yunwang-posture", "rules": posture},
        ]
    }


def scrape_config(
    estate: Estate, targets: dict[str, str], rules_file: str = "yunwang-rules.yml",
    alertmanager: str = "127.0.0.1:9093",
) -> dict[str, Any]:  # fmt: skip
    """prometheus.yml: one job per county shard (`targets`: county id -> host:port)
    plus `central` (the `yunwang watch` holding the posture and warnings)."""
    interval = f"{int(estate.monitoring.poll_interval_s)}s"
    jobs = [
        {
            "job_name": "yunwang-central",
            "static_configs": [{"targets": [targets["central"]], "labels": {"shard": "central"}}],
        }
    ] if "central" in targets else []  # fmt: skip
    for county in estate.nodes(level="county"):
        if county.id in targets:
            jobs.append(
                {
                    "job_name": f"yunwang-county-{county.id}",
                    "static_configs": [
                        {"targets": [targets[county.id]], "labels": {"shard": county.id}}
                    ],
                }
            )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [rules_file],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }
