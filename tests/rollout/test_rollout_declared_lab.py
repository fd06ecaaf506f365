"""The rollout gives routers the costs and BFD timers the estate declares, and
checks that they run them.

A lab of the smallest dual link (the city and one county) from an estate
declaring costs 20/200, BFD 400 ms x 4, and on hl's backup its own cost 300
and BFD 500 ms x 5, started without routing and with the estate's timers.
After `yunwang rollout dual-links`, each router's vtysh JSON shows exactly
those numbers at both ends; a router whose running cost has drifted from
the estate by the time the batch is verified fails it, naming node, link,
what it runs and what is declared.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.lab import Lab
from lab.testing import TEST_SECRETS, needs_root
from tests.rollout.helpers import vtysh_json, yunwang

pytestmark = [pytest.mark.lab, pytest.mark.slow]
SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"

# (interface on hl, interface on py, link, cost, BFD interval ms, multiplier)
DECLARED = [
    ("up-p", "d0-p", "hl/primary", 20, 400, 4),
    ("up-b", "d0-b", "hl/backup", 300, 500, 5),
]


def _declaring_estate(path: Path) -> Path:
    data = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    data["extranet"]["dual_links"] = {
        "primary_cost": 20,
        "backup_cost": 200,
        "bfd": {"interval_ms": 400, "multiplier": 4},
    }
    hl = next(n for n in data["extranet"]["nodes"] if n["id"] == "hl")
    hl["uplinks"][1].update(cost=300, bfd={"interval_ms": 500, "multiplier": 5})
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path]]:
    needs_root()
    estate = _declaring_estate(tmp_path_factory.mktemp("estate") / "declared.yaml")
    lab = Lab.up(
        estate,
        directory=tmp_path_factory.mktemp("lab") / "lab",
        counties=1,
        townships=0,
        villages=0,
        hosts=0,
        bfd_ms=None,  # the estate's timers, not the lab's
        routing=False,
        secrets=TEST_SECRETS,
    )
    try:
        yield lab, estate
    finally:
        lab.down()


def _running(lab: Lab, node: str) -> dict[str, tuple[int, int, int, int, int, str]]:
    """interface -> (OSPFv2 cost, OSPFv3 cost, BFD tx ms, rx ms, multiplier, status)
    for each BFD session on it, as the router itself reports them."""
    v4 = vtysh_json(lab, node, "show ip ospf interface json")
    v6 = vtysh_json(lab, node, "show ipv6 ospf6 interface json")
    peers = vtysh_json(lab, node, "show bfd peers json")
    assert isinstance(v4, dict) and isinstance(v6, dict) and isinstance(peers, list)
    out = {}
    for peer in peers:
        name = peer["interface"]
        family = "6" if ":" in peer["peer"] else "4"
        out[f"{name}/{family}"] = (
            v4["interfaces"][name]["cost"],
            v6[name]["cost"],
            peer["transmit-interval"],
            peer["receive-interval"],
            peer["detect-multiplier"],
            peer["status"],
        )
    return out


def test_routers_run_the_declared_costs_and_timers_and_a_drift_fails_its_batch(
    declared: tuple[Lab, Path], tmp_path: Path
) -> None:
    lab, estate = declared
    done = yunwang(
        "rollout", "dual-links", str(estate), "--lab-dir", str(lab.directory),
        "--store", f"sqlite:///{tmp_path / 'events.db'}", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    lab.wait_converged(timeout_s=20)

    hl, py = _running(lab, "hl"), _running(lab, "py")
    for up, down, link, cost, interval, multiplier in DECLARED:
        for family in ("4", "6"):
            want = (cost, cost, interval, interval, multiplier, "up")
            assert hl[f"{up}/{family}"] == want, f"hl {link} IPv{family}"
            assert py[f"{down}/{family}"] == want, f"py {link} IPv{family}"
    assert len(hl) == len(py) == 4  # one session per link and family, nothing else

    # Something on hl keeps setting its backup's OSPFv2 cost to 150 (a second
    # management system, a hand on the console): the rollout's reload puts
    # the estate's 300 back, the drift returns before the verification reads
    # hl, and the batch fails naming node, link, what runs and what is declared.
    stop = threading.Event()

    def drift() -> None:
        while not stop.is_set():
            subprocess.run(
                ["vtysh", "-N", lab.namespace("hl"), "-c", "configure terminal",
                 "-c", "interface up-b", "-c", "ip ospf cost 150"],
                capture_output=True, check=False,
            )  # fmt: skip
            stop.wait(0.2)

    drifting = threading.Thread(target=drift)
    drifting.start()
    try:
        done = yunwang(
            "rollout", "dual-links", str(estate), "--lab-dir", str(lab.directory),
            "--store", f"sqlite:///{tmp_path / 'events.db'}", "--level", "county",
            "--settle", "5", "--json",
        )  # fmt: skip
    finally:
        stop.set()
        drifting.join()
    assert done.returncode == 1, done.stderr + done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        "rollout stopped at batch 1: hl hl/backup: OSPFv2 cost on up-b is 150, declared 300"
    )
    (hl_outcome,) = json.loads(done.stdout)["batches"][0]["routers"].values()
    assert hl_outcome["reloaded"]  # the estate's cost was applied, then drifted away
