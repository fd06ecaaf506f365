"""The generated Alertmanager configuration in a real Alertmanager: routing by level and
county, and inhibition that follows the extranet topology."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.alertmanager import config
from estate import load
from tests.dashboards.conftest import REPO, free_port
from tests.security.conftest import ALERTMANAGER, Receiver


class Alertmanager:
    def __init__(self, workdir: Path, webhook: str) -> None:
        doc = config(load(REPO / "examples" / "small.yaml"), webhook)
        doc["route"]["group_wait"] = "1s"  # the test should not wait the production 10 s
        path = workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(doc))
        self.url = f"http://127.0.0.1:{free_port()}"
        assert ALERTMANAGER, "prometheus-alertmanager missing: ci/setup.d/65-dashboards.sh"
        self.process = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={path}", f"--storage.path={workdir / 'data'}",
             f"--web.listen-address={self.url[7:]}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("alertmanager did not become ready")

    def post(self, alerts: list[dict[str, str]]) -> None:
        now = datetime.now(UTC)
        body = [
            {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}
            for labels in alerts
        ]  # fmt: skip
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            found: list[dict[str, Any]] = json.loads(response.read())
            return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[Alertmanager, Receiver]]:
    receiver = Receiver()
    am = Alertmanager(tmp_path, receiver.url)
    yield am, receiver
    am.stop()
    receiver.close()


def test_an_isolated_county_silences_what_hangs_below_it(
    alertmanager: tuple[Alertmanager, Receiver],
) -> None:
    am, receiver = alertmanager
    am.post([
        {"alertname": "YunwangLinkPairIsolated", "warning_level": "red", "level": "county",
         "county": "hl", "pair": "hl"},
        {"alertname": "YunwangLinkPairFailover", "warning_level": "yellow", "level": "township",
         "county": "hl", "township": "hl-zyl", "pair": "hl-zyl"},
        {"alertname": "YunwangDeviceUnreachable", "warning_level": "blue", "level": "village",
         "county": "hl", "township": "hl-zyl", "device": "hl-zyl-v001-r1"},
        {"alertname": "YunwangDeviceUnreachable", "warning_level": "orange", "level": "county",
         "county": "hl", "device": "hl-agg-1"},
        {"alertname": "YunwangLinkPairFailover", "warning_level": "yellow", "level": "township",
         "county": "qf", "township": "qf-cgz", "pair": "qf-cgz"},
        {"alertname": "YunwangLinkPairIsolated", "warning_level": "orange", "level": "township",
         "county": "qf", "township": "qf-mzq", "pair": "qf-mzq"},
        {"alertname": "YunwangDeviceUnreachable", "warning_level": "yellow", "level": "township",
         "county": "qf", "township": "qf-mzq", "device": "qf-mzq-r1"},
    ])  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = {a["labels"].get("pair") or a["labels"]["device"]: a["status"] for a in am.alerts()}
        if len(state) == 7 and {r["body"]["receiver"] for r in receiver.bodies} >= {
            "city-red",
            "county-qf",
            "county-qf-urgent",
        }:
            break
        time.sleep(0.3)
    inhibited = {name for name, status in state.items() if status["inhibitedBy"]}
    # behind the isolated county, and the isolated township's own router
    assert inhibited == {"hl-zyl", "hl-zyl-v001-r1", "hl-agg-1", "qf-mzq-r1"}
    sent = {
        (r["body"]["receiver"], a["labels"].get("pair"))
        for r in receiver.bodies
        for a in r["body"]["alerts"]
    }
    assert ("city-red", "hl") in sent and ("county-hl-urgent", "hl") in sent  # red: city and county
    assert ("county-qf", "qf-cgz") in sent  # another county's township still reaches its county
    assert ("county-qf-urgent", "qf-mzq") in sent  # the isolated township itself is told
    assert not any(pair == "hl-zyl" for _, pair in sent)
