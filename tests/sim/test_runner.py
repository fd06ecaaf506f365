"""The runner's promises: loopback, v3 authPriv only, keys off the command line,
demo keys scoped to the run, stopped by pid, audited."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from estate import Estate
from monitors.sim import SimError, SimulatedEstate
from monitors.sim.probe import SYS_UPTIME, get
from monitors.snmp.collection import resolve_credential
from security.audit import AuditTrail


def test_targets_are_loopback_one_context_per_device(
    demo_sim: SimulatedEstate, small: Estate
) -> None:
    targets = demo_sim.targets()
    assert set(targets) == {d.name for d in small.devices()}
    for device, (host, port, context) in targets.items():
        assert (host, port, context) == ("127.0.0.1", demo_sim.port, device)


def test_keys_are_not_on_the_command_line(demo_sim: SimulatedEstate) -> None:
    cmdline = Path(f"/proc/{demo_sim.pid}/cmdline").read_bytes().decode()
    assert demo_sim.credential.auth_key not in cmdline
    assert demo_sim.credential.priv_key not in cmdline
    assert "--v3-only" in cmdline


def test_wrong_key_and_v2c_get_no_answer(demo_sim: SimulatedEstate, net_snmp: str) -> None:
    host, port, context = demo_sim.targets()["py-core-1"]
    wrong = replace(demo_sim.credential, priv_key="not-the-priv-key")
    with pytest.raises(RuntimeError):
        asyncio.run(get(host, port, wrong, context, [SYS_UPTIME], timeout_s=0.5))
    v2c = subprocess.run(
        ["snmpget", "-v2c", "-c", context, "-t", "0.5", "-r", "0", f"{host}:{port}", SYS_UPTIME],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert v2c.returncode != 0


def test_demo_keys_are_handed_over_never_put_in_the_environment(
    small: Estate, yunwang_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newcomer's shell: neither key set.
    monkeypatch.delenv("YUNWANG_SNMP_AUTH", raising=False)
    monkeypatch.delenv("YUNWANG_SNMP_PRIV", raising=False)
    with SimulatedEstate(small, "normal", levels=("city",)) as sim:
        pid = sim.pid
        assert pid is not None
        assert sorted(sim.demo_keys) == ["YUNWANG_SNMP_AUTH", "YUNWANG_SNMP_PRIV"]
        assert sim.demo_keys["YUNWANG_SNMP_AUTH"] == sim.credential.auth_key
        assert "YUNWANG_SNMP_AUTH" not in os.environ
        # The poller, handed the same mapping, resolves the same keys; the agent answers.
        polled = resolve_credential(small, sim.credential.name, sim.demo_keys)
        assert (polled.auth_key, polled.priv_key) == (
            sim.credential.auth_key,
            sim.credential.priv_key,
        )
        host, port, context = sim.targets()["py-core-1"]
        assert asyncio.run(get(host, port, sim.credential, context, [SYS_UPTIME]))
        assert set(sim.targets()) == {"py-core-1", "py-core-2"}
        assert not list((yunwang_home / "sim-cache" / "run").glob("*/engine.args"))
    assert not Path(f"/proc/{pid}").exists()
    actions = [(r.action, r.outcome) for r in AuditTrail().records()]
    assert ("sim.start", "success") in actions and ("sim.stop", "success") in actions
    assert (yunwang_home / "sim-cache" / "index").is_dir()  # indexes cached outside the repo


def test_keys_already_set_are_used_not_replaced(
    small: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUNWANG_SNMP_AUTH", "operator-auth-key")
    monkeypatch.setenv("YUNWANG_SNMP_PRIV", "operator-priv-key")
    with SimulatedEstate(small, "normal", levels=("city",)) as sim:
        assert sim.demo_keys == {}
        assert sim.credential.auth_key == "operator-auth-key"
        host, port, context = sim.targets()["py-core-1"]
        assert asyncio.run(get(host, port, sim.credential, context, [SYS_UPTIME]))
    assert os.environ["YUNWANG_SNMP_AUTH"] == "operator-auth-key"


def test_a_short_key_is_one_clear_line(small: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUNWANG_SNMP_AUTH", "short")
    monkeypatch.setenv("YUNWANG_SNMP_PRIV", "operator-priv-key")
    with pytest.raises(SimError, match=r"auth_key \(env:YUNWANG_SNMP_AUTH\) must be at least 8"):
        SimulatedEstate(small, "normal").start()


def test_unknown_level_is_refused(small: Estate) -> None:
    with pytest.raises(SimError, match="expected city, county, township or village"):
        SimulatedEstate(small, "normal", levels=("province",))  # type: ignore[arg-type]


def test_serves_on_ipv6_loopback_when_asked(small: Estate) -> None:
    with SimulatedEstate(small, "normal", levels=("city",), host="::1") as sim:
        host, port, context = sim.targets()["py-core-2"]
        assert host == "::1"
        answer = asyncio.run(get(host, port, sim.credential, context, ["1.3.6.1.2.1.1.5.0"]))
        assert str(answer["1.3.6.1.2.1.1.5.0"]) == "py-core-2"
