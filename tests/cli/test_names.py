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


def test_rollout_limits_by_county_and_township_name(tmp_path: Path) -> None:
    # --level township with the county hl leaves nothing to roll out: the name
    # was taken for the router, and nothing is contacted.
    for name in ("hl", "华龙区"):
        done = yunwang("rollout", "dual-links", SMALL, "--limit", name, "--level", "township",
                       home=tmp_path)  # fmt: skip
        assert (done.returncode, done.stderr) == (1, f"{SMALL}: no router to roll out to\n")
    done = yunwang("rollout", "dual-links", SMALL, "--limit", "华龙", home=tmp_path)
    assert done.returncode == 2 and "--limit 华龙: no router of that id" in done.stderr


def test_dr_takes_the_tenant_and_system_by_name(tmp_path: Path) -> None:
    # An empty lab directory: the verb gets past the system to the lab, which is not up.
    (tmp_path / "nolab").mkdir()
    for system in ("gaj/jwzh", "市公安局/jwzh", "市公安局/警务综合平台", "gaj/警务综合平台"):
        done = yunwang("dr", "check", SMALL, system, "--lab-dir", str(tmp_path / "nolab"),
                       home=tmp_path)  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stderr == f"--lab: no lab is up in {tmp_path / 'nolab'}\n"
    done = yunwang("dr", "check", SMALL, "市公安/jwzh", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{SMALL}: no system '市公安/jwzh' (expected tenant/system)")


def test_harden_limits_by_tenant_name() -> None:
    from estate import load
    from playbooks.inventory import estate_targets, load_policy
    from yunwang.commands.harden import _tenant_code

    estate = load(SMALL)
    targets = estate_targets(estate, load_policy(None))
    by_code = targets.select(["gaj"])
    assert by_code and targets.select([_tenant_code(estate, "市公安局")]) == by_code


def test_collect_watches_a_standby_given_by_names(tmp_path: Path) -> None:
    (tmp_path / "nolab").mkdir()
    for item in ("gaj/jwzh=dr-h1", "市公安局/警务综合平台=dr-h1"):
        done = yunwang("collect", SMALL, "--once", "--dr-standby", item,
                       "--lab-dir", str(tmp_path / "nolab"), home=tmp_path)  # fmt: skip
        assert done.returncode == 1 and done.stderr.startswith("no lab is up"), done.stderr
