"""Every Grafana panel query and every rule's metric, against a real Prometheus
scraping a running `yunwang watch` (the simulated city)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.grafana import dashboards, queries
from dashboards.prometheus import rules, scrape_config
from estate import load
from tests.dashboards.conftest import REPO, WatchWeb, free_port

PROMETHEUS = shutil.which("prometheus")
ESTATE = load(REPO / "examples" / "small.yaml")
# What a dashboard variable stands for when Grafana runs the query.
VARIABLES = {"$county": ".*", "$device": ".*", "$__rate_interval": "30s"}


class Prometheus:
    def __init__(self, workdir: Path, targets: dict[str, str]) -> None:
        """`targets`: shard (central or a county) -> host:port, as `yunwang dashboards` takes them."""
        doc = scrape_config(ESTATE, targets, rules_file=str(workdir / "rules.yml"))
        doc["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        del doc["alerting"]
        (workdir / "rules.yml").write_text(yaml.safe_dump(rules(ESTATE), allow_unicode=True))
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(doc))
        self.url = f"http://127.0.0.1:{free_port()}"
        assert PROMETHEUS, "prometheus missing: ci/setup.d/65-dashboards.sh installs it"
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address={self.url[7:]}",
             "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            doc = json.loads(response.read())
        assert doc["status"] == "success", doc
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def wait(self, expr: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.query(expr):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr} within {timeout}s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def prometheus(
    watch_web: WatchWeb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    target = urllib.parse.urlparse(watch_web.metrics_url).netloc
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), {"central": target})
    try:
        # Link rates need two polls; Prometheus rates need two scrapes of the counters.
        server.wait('yunwang_link_pair_state{job="yunwang-central"}', timeout=120)
        server.wait("yunwang_link_receive_bits_per_second")
        server.wait("count_over_time(yunwang_interface_receive_bytes_total[30s]) > 2")
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("board", sorted(dashboards(ESTATE)))
def test_every_panel_query_returns_data(prometheus: Prometheus, board: str) -> None:
    exprs = queries(dashboards(ESTATE)[board])
    assert exprs
    empty = []
    for expr in exprs:
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        if not prometheus.query(expr):
            empty.append(expr)
    assert not empty, f"panels with no data: {empty}"


def test_rules_use_only_metrics_the_exporters_expose(watch_web: WatchWeb) -> None:
    with urllib.request.urlopen(watch_web.metrics_url, timeout=10) as response:
        text = response.read().decode()
    exposed = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)", text, re.M):
        exposed.add(name + "_total" if kind == "counter" and not name.endswith("_total") else name)
    recorded = {r["record"] for g in rules(ESTATE)["groups"] for r in g["rules"] if "record" in r}
    used = {
        name
        for g in rules(ESTATE)["groups"]
        for r in g["rules"]
        for name in re.findall(r"\b(yunwang_[a-z_]+|[a-z_]+:yunwang_[a-z_:]+)\b", r["expr"])
    }
    assert used - recorded <= exposed, f"not exposed: {sorted(used - recorded - exposed)}"
    assert "yunwang_link_pair_state" in used and "yunwang_posture_score" in used
