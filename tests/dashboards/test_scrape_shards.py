"""The generated scrape configuration with one collector per county: a real Prometheus
scrapes two `yunwang collect --county` shards (and the central watch), each under its
own job, and the generated device rules match what each shard exposes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.prometheus import rules
from tests.dashboards.conftest import REPO, WatchWeb, free_port
from tests.dashboards.test_grafana_live import ESTATE, Prometheus
from tests.snmp.agents import free_udp_port


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`yunwang collect --county C` for each county, every device mapped to a silent
    loopback port (nothing answers, so each shard reports its devices unreachable)."""
    env = {
        **os.environ,
        "YUNWANG_HOME": str(tmp_path / "home"),
        "YUNWANG_SNMP_AUTH": "auth-key-for-tests",
        "YUNWANG_SNMP_PRIV": "priv-key-for-tests",
    }
    silent = f"127.0.0.1:{free_udp_port()}"
    addresses = tmp_path / "addresses.json"
    addresses.write_text(json.dumps({d.name: silent for n in ESTATE.nodes() for d in n.devices}))
    targets, processes = {}, []
    for county in (c.id for c in ESTATE.nodes(level="county")):
        port = free_port()
        targets[county] = f"127.0.0.1:{port}"
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "yunwang", "collect", str(REPO / "examples" / "small.yaml"),
                 "--county", county, "--addresses", str(addresses), "--port", str(port)],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    yield targets
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def test_each_county_shard_is_its_own_job(
    shards: dict[str, str], watch_web: WatchWeb, tmp_path: Path
) -> None:
    central = watch_web.metrics_url.split("/")[2]
    prometheus = Prometheus(tmp_path, {"central": central, **shards})
    try:
        for county in shards:
            job = f'job="yunwang-county-{county}",shard="{county}"'
            prometheus.wait(f"up{{{job}}} == 1")
            prometheus.wait(f'yunwang_snmp_device_state{{{job},state="unreachable"}} == 1')
        prometheus.wait('up{job="yunwang-central",shard="central"} == 1')
        for county in shards:
            seen = prometheus.query(f'yunwang_snmp_device_state{{job="yunwang-county-{county}"}}')
            devices = {r["metric"]["device"] for r in seen}
            assert devices == {d.name for n in ESTATE.nodes(county=county) for d in n.devices}
        # The county nodes' device rule, as generated, finds that county's devices
        # in that county's shard (the `for: 1m` is the rule's, not the query's).
        for alert in (r for g in rules(ESTATE)["groups"] for r in g["rules"]):
            if (
                alert.get("alert") == "YunwangDeviceUnreachable"
                and alert["labels"]["level"] == "county"
            ):
                found = {
                    (r["metric"]["device"], r["metric"]["job"])
                    for r in prometheus.query(alert["expr"])
                }
                county = alert["labels"]["county"]
                assert found == {
                    (d.name, f"yunwang-county-{county}")
                    for n in ESTATE.nodes(level="county")
                    if n.id == county
                    for d in n.devices
                }
    finally:
        prometheus.stop()
