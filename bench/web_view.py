"""The web view at full city size: page load and live-update latency in headless Chromium.

    .venv/bin/python bench/web_view.py --runs 5

For examples/puyang.yaml (6 counties, 85 townships, 2,980 villages) and,
as the reference in the same run, examples/small.yaml: a real Pipeline
(SQLite store) with warnings raised by real link events, the city's link
readings (townships in failover, villages down), served by uvicorn and
opened in the system Chromium.

- page load: navigation start to the first complete render (posture,
  extranet picture, warnings), `window.ywFirstRender` in the page;
- update latency: from the watch loop's `changed()` after a new warning
  to the page having rendered it from the server-sent event;
- view build: the server's time to compute the page's JSON, and its size.

Saves the full city's page as docs/web-view-puyang.png.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dashboards.web.server import WebOptions, WebServer  # noqa: E402
from dashboards.web.source import LinkReadings, PipelineSource  # noqa: E402
from dashboards.web.users import Users  # noqa: E402
from dashboards.web.view import city_view  # noqa: E402
from estate import Estate, load  # noqa: E402
from security.events import Context, Event  # noqa: E402
from security.pipeline import Pipeline  # noqa: E402
from security.store import open_store  # noqa: E402
from tests.dashboards.conftest import chromium  # noqa: E402

PASSWORD = "bench password 123"


def pair_event(estate: Estate, pair_id: str, state: str) -> Event:
    pair = next(p for p in estate.link_pairs() if p.id == pair_id)
    return Event(
        timestamp=datetime.now(UTC), dataset="yunwang.links", action="pair-state-changed",
        message=f"{pair_id} {state}",
        context=Context(pair=pair_id, node=pair_id, level=pair.primary.level,
                        county=pair.primary.county, township=pair.primary.township, state=state),
    )  # fmt: skip


def readings(estate: Estate, rng: random.Random) -> LinkReadings:
    found = LinkReadings()
    for pair in estate.link_pairs():
        found.states[pair.id] = rng.choices(["normal", "failover", "flapping"], [8, 1, 1])[0]
        found.used_bps[pair.primary.id] = pair.primary.bandwidth_bps * rng.random()
    for village in estate.nodes(level="village"):
        found.states[village.id] = rng.choices(["normal", "isolated", "degraded"], [20, 1, 1])[0]
    for node in estate.nodes():
        found.ipv6_ratio[node.id] = rng.random()
    return found


def measure(estate_path: Path, runs: int, home: Path) -> dict[str, list[float]]:
    estate = load(estate_path)
    rng = random.Random(7)
    pipeline = Pipeline(open_store(f"sqlite:///{home / (estate_path.stem + '.db')}"))
    city = readings(estate, rng)
    pipeline.submit(pair_event(estate, p, s) for p, s in city.states.items() if s == "failover")
    source = PipelineSource(estate, pipeline, lambda: city)
    source.changed()
    Users(home / "users.json").set("op", "operator", PASSWORD)
    figures: dict[str, list[float]] = {
        "load_ms": [],
        "update_ms": [],
        "build_ms": [],
        "json_kb": [],
    }
    with WebServer(source, WebOptions(port=0, users_file=home / "users.json")) as server:
        browser = chromium(Path(tempfile.mkdtemp(dir=home)))
        try:
            browser.get(server.url + "login")
            browser.find_element(By.ID, "user").send_keys("op")
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "login").click()
            WebDriverWait(browser, 30).until(
                lambda b: b.execute_script("return window.ywFirstRender")
            )
            for _ in range(runs):
                browser.get(server.url)
                WebDriverWait(browser, 60).until(
                    lambda b: b.execute_script("return window.ywFirstRender")
                )
                figures["load_ms"].append(browser.execute_script("return window.ywFirstRender"))
            pairs = [p.id for p in estate.link_pairs() if city.states[p.id] == "normal"]
            WebDriverWait(browser, 30).until(
                lambda b: b.execute_script("return window.ywLastUpdate")
            )
            for i in range(runs):
                before = browser.execute_script("return window.ywLastUpdate.version")
                pipeline.submit([pair_event(estate, pairs[i % len(pairs)], "failover")])
                started = time.time() * 1000
                source.changed()
                WebDriverWait(browser, 30, poll_frequency=0.01).until(
                    lambda b, seen=before: (
                        b.execute_script("return window.ywLastUpdate.version") != seen
                    )
                )
                figures["update_ms"].append(
                    browser.execute_script("return window.ywLastUpdate.at") - started
                )
            if estate_path.stem == "puyang":
                browser.save_screenshot(str(REPO / "docs" / "web-view-puyang.png"))
            for _ in range(runs):
                t0 = time.perf_counter()
                doc = city_view(estate, source.state(), source.trend())
                figures["build_ms"].append((time.perf_counter() - t0) * 1000)
                figures["json_kb"].append(len(json.dumps(doc, ensure_ascii=False).encode()) / 1024)
        finally:
            browser.quit()
    pipeline.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["YUNWANG_HOME"] = tmp
        results = {
            name: measure(REPO / "examples" / f"{name}.yaml", args.runs, Path(tmp))
            for name in ("small", "puyang")
        }
    print("| measure | small.yaml median | puyang.yaml median | ratio | puyang runs |")
    print("|---|---:|---:|---:|---|")
    for key, label in (("load_ms", "page load to first full render, ms"),
                       ("update_ms", "new warning to rendered in the page (SSE), ms"),
                       ("build_ms", "server: page JSON built, ms"), ("json_kb", "page JSON size, KiB")):  # fmt: skip
        small, full = (
            statistics.median(results["small"][key]),
            statistics.median(results["puyang"][key]),
        )
        runs = " ".join(f"{v:.0f}" for v in results["puyang"][key])
        print(f"| {label} | {small:.1f} | {full:.1f} | {full / small:.2f} | {runs} |")


if __name__ == "__main__":
    main()
