"""Verbs that take a county, tenant or zone take the name the screens show (华龙区) too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from security.store import open_store

ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "examples" / "small.yaml")


def yunwang(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_")}
    env["YUNWANG_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "yunwang", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip


def test_posture_explains_a_county_tenant_and_zone_by_name(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    open_store(store).close()
    for name, scope, key in [("华龙区", "county", "hl"), ("市公安局", "tenant", "gaj"),
                             ("电子政务外网", "zone", "gov-extranet")]:  # fmt: skip
        done = yunwang("posture", "--store", store, "--estate", SMALL, "--explain", name,
                       "--json", home=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert (doc["scope"], doc["name"]) == (scope, key)


def test_an_unknown_name_is_one_line_with_close_matches(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    open_store(store).close()
    done = yunwang("posture", "--store", store, "--estate", SMALL, "--explain", "华龙",
                   home=tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"--explain: no tenant, county, zone, system or host named '华龙' in {SMALL}; did you mean 华龙区?\n"
    )
    done = yunwang("collect", SMALL, "--once", "--county", "華龍區", home=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "no county named '華龍區'" in done.stderr and "counties: hl, qf" in done.stderr


def test_collect_shards_by_county_name(tmp_path: Path) -> None:
    # Secrets unset: collect names every device it would poll, then stops; nothing is sent.
    done = yunwang("collect", SMALL, "--once", "--county", "华龙区", home=tmp_path)
    assert done.returncode == 1 and "no device can be polled" in done.stderr
    named = {line.split(": ")[1] for line in done.stderr.splitlines()[:-1]}
    assert named and all(device.startswith("hl-") for device in named)
