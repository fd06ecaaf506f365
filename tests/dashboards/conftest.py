"""A running `yunwang watch --web` (the embedded simulated city) and a headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT_S = 120.0


@dataclass
class WatchWeb:
    url: str
    metrics_url: str
    home: Path
    admin_password: str
    process: subprocess.Popen[str]
    stderr: Path


def start_watch(home: Path, *args: str, duration: float = 240.0) -> WatchWeb:
    """`yunwang watch --web` on free ports; returns once the page answers."""
    env = {**os.environ, "YUNWANG_HOME": str(home)}
    stderr = home / "watch.stderr"
    home.mkdir(parents=True, exist_ok=True)
    metrics_port = free_port()
    with open(stderr, "w") as sink:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "yunwang", "watch", "--web", "--web-port", "0",
             "--port", str(metrics_port), "--json", "--duration", str(duration), *args],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = stderr.read_text()
        found = re.search(r"web view: (\S+)", text)
        if found:
            password = (home / "web" / "first-login.txt").read_text().split("password: ")[1].strip()
            return WatchWeb(
                found.group(1),
                f"http://127.0.0.1:{metrics_port}/metrics",
                home,
                password,
                process,
                stderr,
            )
        if process.poll() is not None:
            raise AssertionError(f"watch exited {process.returncode}: {text[-2000:]}")
        time.sleep(0.2)
    process.terminate()
    raise AssertionError(f"watch --web did not start in {START_TIMEOUT_S}s: {stderr.read_text()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_watch(watch: WatchWeb) -> None:
    if watch.process.poll() is None:
        watch.process.terminate()
        try:
            watch.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watch.process.kill()
            watch.process.wait()


@pytest.fixture(scope="package")
def watch_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WatchWeb]:
    """One simulated city for the browser and the Prometheus/Grafana tests, stopped
    when they end (package scope) rather than polling under the tests after them."""
    watch = start_watch(tmp_path_factory.mktemp("yunwang-home"), duration=600)
    yield watch
    stop_watch(watch)


def chromium(profile: Path) -> webdriver.Chrome:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise AssertionError(
            "chromium and chromium-driver are needed (ci/setup.d/65-dashboards.sh)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1600,1300", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()
