"""The mlps role on real Debian hosts (lab chroots over ssh), never this machine.

One sequence, in order: a refused run changes nothing; fix then check pass
everywhere; a second fix changes nothing; one control per area broken by
hand is named (control and clause) by the check and raised as drift
(YW-HOST-001) through `yunwang harden`; fixing only those brings the host
back. ssh with the lab key and sudo work after every run.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from estate import load
from lab.lab import Lab
from playbooks.controls import catalogue
from playbooks.hardening import Report, harden
from playbooks.inventory import Policy, Targets, lab_targets
from security.store.sqlite import SqliteStore
from yunwang.cli import app

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"
HOST = "jwzh-app-1"
# One control per area, broken by its own fixture (the examples first).
BROKEN = (
    "YW-C-AC-001",  # PermitRootLogin yes
    "YW-C-AC-007",  # chmod 666 /etc/passwd
    "YW-C-AC-002",  # a second uid-0 account
    "YW-C-IA-013",  # faillock deny raised
    "YW-C-AU-004",  # account changes no longer audited
    "YW-C-IN-009",  # ICMP redirects accepted again (live and on file)
    "YW-C-MW-002",  # the AIDE baseline deleted
    "YW-C-TV-001",  # apt told to accept unsigned packages
    "YW-C-DI-001",  # SHA-1 MACs for ssh
    "YW-C-DC-004",  # old password hashes readable by all
    "YW-C-BR-001",  # the daily backup unscheduled
    "YW-C-RI-001",  # core dumps allowed
    "YW-C-BD-001",  # the host firewall flushed
    "YW-C-MC-007",  # rsyslog stopped
)
# Controls that fail with another one, by design: their check reads what it broke.
DEPENDENT = {
    "YW-C-BD-002": "YW-C-BD-001",  # no firewall, so no ssh restriction either
    "YW-C-AC-017": "YW-C-AC-007",  # /etc/passwd is now a world-writable file in /etc
    "YW-C-TV-003": "YW-C-MW-002",  # no baseline, so no protected baseline
}


def _ssh_works(lab: Lab) -> None:
    for host in lab.hosts:
        done = lab.ssh(host.name, "sudo -n true && echo ok", user="yunwang", check=False)
        assert done.stdout.strip() == "ok", f"{host.name}: {done.stderr}"


def _statuses(report: Report, host: str) -> Counter[str]:
    return Counter(r.status for r in report.results if r.host == host)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("harden-home")


@pytest.fixture(scope="module")
def targets(lab: Lab) -> Targets:
    return lab_targets(load(SMALL), lab, Policy())


@pytest.fixture(scope="module")
def fixed(lab: Lab, targets: Targets) -> dict[str, Report]:
    """A run refused as root, then the fix run on both hosts (shared below)."""
    as_root = Targets(targets.hosts, {**targets.common, "ansible_user": "root"})
    done = {"refused": harden(as_root, mode="fix"), "fix": harden(targets, mode="fix")}
    _ssh_works(lab)
    return done


def test_root_login_control_is_refused_when_ansible_is_root(fixed: dict[str, Report]) -> None:
    refused = fixed["refused"]
    assert {h.state for h in refused.hosts.values()} == {"refused"}
    assert all("YW-C-AC-001 refused" in h.message for h in refused.hosts.values())
    assert refused.changed_total() == 0 and refused.results == []


def test_fix_then_check_passes_everywhere(
    fixed: dict[str, Report], lab: Lab, targets: Targets
) -> None:
    check = harden(targets, mode="check")
    for report in (fixed["fix"], check):
        assert all(h.state == "done" for h in report.hosts.values()), report.hosts
        assert report.failing() == [], [(r.host, r.control, r.evidence) for r in report.failing()]
    level3 = [c for c in catalogue().values() if 3 in c.levels]
    for host in (h.name for h in lab.hosts):
        counts = _statuses(check, host)
        # Only auditd's daemon does not apply: lab hosts share this machine's kernel.
        assert counts["na"] == 1 and counts["pass"] == len(level3) - 1, counts
    root = lab.ssh(HOST, "true", user="root", check=False)
    assert root.returncode != 0  # PermitRootLogin no took effect


def test_second_fix_run_changes_nothing(
    fixed: dict[str, Report], lab: Lab, targets: Targets
) -> None:
    again = harden(targets, mode="fix", limit=[HOST])
    _ssh_works(lab)
    assert fixed["fix"].changed_total() > 100
    changed = [(r.control, r.changed) for r in again.results if r.changed]
    assert again.changed_total() == 0, (again.hosts[HOST], changed)
    assert again.ok


def _cli(lab: Lab, home: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["harden", str(SMALL), "--lab-dir", str(lab.directory), "--json", *args],
        env={"YUNWANG_HOME": str(home), "YUNWANG_ACTOR": "tester"},
    )
    assert result.exit_code in (0, 1), result.output
    return dict(json.loads(result.stdout))


def test_broken_controls_are_named_and_raised_as_drift(
    fixed: dict[str, Report], lab: Lab, home: Path
) -> None:
    before = _cli(lab, home, "--check", "--limit", HOST)
    assert before["ok"], before["results"]
    known = catalogue()
    for control in BROKEN:
        fixture = known[control].fixtures
        assert fixture is not None
        lab.ssh(HOST, f"sudo sh -c {shlex.quote(fixture.break_)}", user="yunwang")
    _ssh_works(lab)  # the broken firewall and sshd still let us in

    after = _cli(lab, home, "--check", "--limit", HOST)
    failing = {r["control"]: r for r in after["results"] if r["status"] == "fail"}
    assert set(failing) == set(BROKEN) | set(DEPENDENT)
    assert "666" in failing["YW-C-AC-007"]["evidence"]
    assert "toor" in failing["YW-C-AC-002"]["evidence"]

    store = SqliteStore(home / "events.db")
    warnings = {w.summary.split()[1]: w for w in store.find_warnings(rule_id="YW-HOST-001")}
    store.close()
    for control in BROKEN:
        warning = warnings[control]
        assert warning.rule_id == "YW-HOST-001"
        assert warning.summary.startswith(f"{HOST}: {control} ({known[control].clause}) fails")
        assert warning.level == "orange"  # drift on a level-3 system

    repaired = _cli(lab, home, "--limit", HOST, *(f"--control={c}" for c in BROKEN))
    assert repaired["ok"], [r for r in repaired["results"] if r["status"] != "pass"]
    assert {r["control"] for r in repaired["results"]} == set(BROKEN)
    _ssh_works(lab)
    audit = (home / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    actions = [json.loads(line)["action"] for line in audit]
    assert actions.count("hardening.check") == 2 and actions.count("hardening.fix") == 1


# Fail fixtures that would cut the check's own way in: sudo refuses to run
# with a world-writable /etc/sudoers, and sshd drops a host key others can
# read (a lab host has only one). Every other fixture is proven below.
LOCKOUT = {
    "YW-C-AC-012": "chmod 666 /etc/sudoers: sudo then refuses every command",
    "YW-C-DC-002": "chmod 644 on the host key: sshd then refuses every connection",
}


def test_every_fail_fixture_is_named_by_its_own_check(
    fixed: dict[str, Report], lab: Lab, targets: Targets
) -> None:
    """Last in this file (it leaves the host broken). The pass fixture of a
    control is the fixed host, proven above; its fail fixture, applied with
    all the others at once, must make its own check fail."""
    known = catalogue()
    broken = sorted(c for c, k in known.items() if k.fixtures is not None and c not in LOCKOUT)
    assert len(broken) >= 100
    script = "\n".join(
        f"( {known[c].fixtures.break_} ) >/dev/null 2>&1 || true"  # type: ignore[union-attr]
        for c in broken
    )
    lab.ssh(HOST, f"sudo sh -c {shlex.quote(script)}", user="yunwang")
    _ssh_works(lab)
    check = harden(targets, mode="check", limit=[HOST])
    assert check.hosts[HOST].state == "done", check.hosts[HOST]
    missed = sorted(set(broken) - {r.control for r in check.failing()})
    assert missed == [], [(r.control, r.evidence) for r in check.results if r.control in missed]
