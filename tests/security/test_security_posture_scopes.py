"""Posture per host and per system, from hardening runs through the real stores.

Two check runs of `yunwang harden` are stored the way the verb stores them
(playbooks.hardening.to_events, the estate's context, the real pipeline and
rules) in SQLite and in a real Elasticsearch node; `yunwang posture` and the
web view then read the compliance of each host and system from the latest
result of each control. Only the ansible run itself is left out: its report
is built here (the lab tests in tests/hardening run the real one).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import EsNode, es_namespace
from typer.testing import CliRunner

from dashboards.web.server import WebOptions, WebServer
from dashboards.web.source import StoreSource
from dashboards.web.users import Users
from estate import Estate, load
from playbooks.controls import catalogue
from playbooks.hardening import ControlResult, HostOutcome, Report
from playbooks.inventory import Policy, estate_targets
from security.posture import COMPONENT_WEIGHT, WARNING_PENALTY, WARNING_SCALE
from security.store import open_store
from tests.dashboards.test_web_access import PASSWORD, Client
from yunwang.cli import app
from yunwang.commands.harden import _store

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "small.yaml"
JWZH = ["jwzh-app-1", "jwzh-app-2", "jwzh-db"]  # gaj/jwzh, MLPS level 3
PORTAL = ["gaj-web-1", "gaj-web-2"]  # gaj/portal, MLPS level 2
# Four controls every level carries, from different clauses.
CONTROLS = [c.id for c in sorted(catalogue().values(), key=lambda c: c.id) if c.levels == (2, 3)][
    ::20
][:4]
runner = CliRunner()


@pytest.fixture(params=["sqlite", "elastic"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    node: EsNode = request.getfixturevalue("es_node")
    return f"{node.url}/?namespace={es_namespace()}"  # spooling under $YUNWANG_HOME


def _check(hosts: list[str], failing: dict[str, list[str]]) -> Report:
    """A check run's report: every control on every host, `failing` fail."""
    return Report(
        "check",
        results=[
            ControlResult(
                host,
                control,
                "fail" if control in failing.get(host, []) else "pass",
                f"{control} as found on {host}",
            )
            for host in hosts
            for control in CONTROLS
        ],
        hosts={host: HostOutcome() for host in hosts},
    )


def _harden(store_url: str, estate: Estate, report: Report) -> None:
    """What `yunwang harden` does with its report: drift against the store,
    the estate's context, rules and warnings, into the store."""
    targets = estate_targets(estate, Policy())
    assert _store(report, targets, estate, store_url) == len(report.results)


def _posture(store_url: str, *args: str) -> object:
    done = runner.invoke(
        app, ["posture", "--store", store_url, "--estate", str(SMALL), "--json", *args]
    )
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


@pytest.fixture
def hardened(store_url: str) -> Iterator[str]:
    """Run 1 checks the whole tenant gaj (jwzh-db fails two controls); run 2
    (--limit jwzh-app-1 jwzh-db) finds jwzh-app-1 drifted on one control and
    jwzh-db fixed on one."""
    estate = load(SMALL)
    _harden(store_url, estate, _check(JWZH + PORTAL, {"jwzh-db": CONTROLS[:2]}))
    _harden(
        store_url,
        estate,
        _check(["jwzh-app-1", "jwzh-db"], {"jwzh-app-1": [CONTROLS[1]], "jwzh-db": [CONTROLS[0]]}),
    )
    yield store_url


def test_hosts_and_systems_score_their_latest_hardening_results(hardened: str) -> None:
    assert len(set(CONTROLS)) == 4
    host = _posture(hardened, "--explain", "jwzh-app-1")
    assert isinstance(host, dict) and (host["scope"], host["name"]) == ("host", "jwzh-app-1")
    # The latest check: 3 of 4 controls pass; the drift (passed, now fails)
    # on a level-3 host is an orange YW-HOST-001 warning that counts here too.
    assert host["components"]["compliance"] == 75.0
    assert host["components"]["warnings"] == pytest.approx(
        100 * math.exp(-WARNING_PENALTY["orange"] / WARNING_SCALE), abs=0.1
    )
    weights = COMPONENT_WEIGHT["compliance"] + COMPONENT_WEIGHT["warnings"]
    expected = (
        COMPONENT_WEIGHT["compliance"] * 75.0
        + COMPONENT_WEIGHT["warnings"] * host["components"]["warnings"]
    ) / weights
    assert host["score"] == pytest.approx(expected, abs=0.01)
    clause = catalogue()[CONTROLS[1]].clause
    control = next(d for d in host["deductions"] if d["component"] == "compliance")
    assert control["subject"] == f"jwzh-app-1 {CONTROLS[1]}"
    assert control["reason"] == f"control fails ({clause}, MLPS level 3)"
    drift = next(d for d in host["deductions"] if d["component"] == "warnings")
    assert f"jwzh-app-1: {CONTROLS[1]} ({clause}) fails" in drift["subject"]

    # jwzh-db: the control fixed in run 2 no longer counts against it, and its warning resolved.
    db = _posture(hardened, "--explain", "jwzh-db")
    assert isinstance(db, dict) and db["components"]["compliance"] == 75.0
    assert [d["subject"] for d in db["deductions"] if d["component"] == "compliance"] == [
        f"jwzh-db {CONTROLS[0]}"
    ]
    assert len([d for d in db["deductions"] if d["component"] == "warnings"]) == 1

    # gaj/jwzh: 2 failing of 12 (all level 3); the tenant adds portal's 8 at weight 1.
    system = _posture(hardened, "--explain", "警务综合平台")  # its name as the screens show it
    assert isinstance(system, dict) and (system["scope"], system["name"]) == ("system", "gaj/jwzh")
    assert system["components"]["compliance"] == pytest.approx(100 * 10 / 12, abs=0.01)
    tenant = _posture(hardened, "--explain", "gaj")
    assert isinstance(tenant, dict)
    assert tenant["components"]["compliance"] == pytest.approx(100 * (20 + 8) / (24 + 8), abs=0.01)

    listed = _posture(hardened, "--scope", "system", "--scope", "host")
    assert isinstance(listed, list)
    scores = {(s["scope"], s["name"]): s for s in listed}
    assert {kind for kind, _ in scores} == {"system", "host"}
    assert scores[("system", "gaj/portal")]["components"]["compliance"] == 100.0
    assert scores[("host", "jwzh-app-2")]["score"] == 100.0
    assert scores[("host", "sbjb-db")]["components"]["compliance"] is None  # quiet: no run yet
    assert scores[("system", "gaj/jwzh")]["score"] == system["score"]


def test_a_bad_host_or_system_name_is_one_line(hardened: str) -> None:
    typo = runner.invoke(
        app, ["posture", "--store", hardened, "--estate", str(SMALL), "--explain", "jwzh-ap-1"]
    )
    assert typo.exit_code == 1
    assert typo.stderr.startswith(
        f"--explain: no tenant, county, zone, system or host named 'jwzh-ap-1' in {SMALL}; "
        "did you mean jwzh-app-1, jwzh-app-2, "
    )
    assert typo.stderr.count("\n") == 1
    bare = runner.invoke(app, ["posture", "--store", hardened, "--explain", "jwzh-ap-1"])
    assert bare.exit_code == 1 and bare.stderr.count("\n") == 1
    assert "did you mean jwzh-app-1, jwzh-app-2" in bare.stderr
    kind = runner.invoke(app, ["posture", "--store", hardened, "--scope", "hosts"])
    assert kind.exit_code == 1 and kind.stderr == (
        "--scope 'hosts': expected one of city, county, tenant, zone, system, host\n"
    )


def test_the_web_view_reads_host_and_system_posture(hardened: str, yunwang_home: Path) -> None:
    users = Users(  # where the server looks; cheap argon2 parameters keep the test fast
        yunwang_home / "web" / "users.json",
        PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
    )
    users.set("op", "operator", PASSWORD)
    with WebServer(StoreSource(load(SMALL), open_store(hardened)), WebOptions(port=0)) as web:
        client = Client(web.url)
        assert client.login("op", PASSWORD) == 200
        status, view = client.call("api/view")
        assert status == 200
        systems = {s["key"]: s for s in view["systems"]}
        jwzh = systems["gaj/jwzh"]
        assert jwzh["compliance"] == pytest.approx(100 * 10 / 12, abs=0.1)
        assert {h["name"]: h["compliance"] for h in jwzh["hosts"]} == {
            "jwzh-app-1": 75.0,
            "jwzh-app-2": 100.0,
            "jwzh-db": 75.0,
        }
        assert systems["rsj/sbjb"]["compliance"] is None
        status, explained = client.call("api/explain/system/gaj/jwzh")
        assert status == 200 and explained["score"] == jwzh["score"]
        status, explained = client.call("api/explain/host/jwzh-app-1")
        assert status == 200 and explained["components"]["compliance"] == 75.0
        assert client.call("api/explain/rack/r1")[0] == 404
