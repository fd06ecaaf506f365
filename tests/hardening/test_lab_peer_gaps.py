"""The two policy gaps ComplianceAsCode found on a yunwang-hardened host
(bench/RESULTS.md, issue 14), closed on a real lab host: sshd ends a session
whose client stopped answering (ClientAliveCountMax 1, never the peer's 0,
which OpenSSH >= 8.2 reads as "never end it"), and logs rotate daily while
still kept 26 weeks. Runs on the township host, which test_lab_hardening
leaves alone, with only these controls: small and independent of order.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from estate import load
from lab.lab import Lab
from playbooks.controls import catalogue
from playbooks.hardening import harden
from playbooks.inventory import Policy, Targets, lab_targets

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"

GAPS = ("YW-C-IA-017", "YW-C-IA-026", "YW-C-AU-021", "YW-C-AU-022")
BROKEN_BY_TEST = "jwzh-app-1"  # test_lab_hardening's host, left broken on purpose


def _ssh_works(lab: Lab, host: str) -> None:
    done = lab.ssh(host, "sudo -n true && echo ok", user="yunwang", check=False)
    assert done.stdout.strip() == "ok", f"{host}: {done.stderr}"


def test_keepalive_and_daily_rotation_fix_once_and_fail_when_broken(lab: Lab) -> None:
    targets: Targets = lab_targets(load(SMALL), lab, Policy())
    host = next(name for name in targets.hosts if name != BROKEN_BY_TEST)

    fix = harden(targets, mode="fix", controls=GAPS, limit=[host])
    assert fix.ok, [(r.control, r.evidence) for r in fix.results if r.status != "pass"]
    assert {r.control for r in fix.results if r.status == "pass"} == set(GAPS)
    sshd = lab.ssh(host, "sudo -n /usr/sbin/sshd -T", user="yunwang").stdout
    assert "clientaliveinterval 300" in sshd and "clientalivecountmax 1" in sshd
    rotation = lab.ssh(host, "cat /etc/logrotate.conf /etc/logrotate.d/rsyslog", user="yunwang")
    text = rotation.stdout
    assert not re.search(r"^\s*weekly", text, re.M) and text.count("rotate 182") == 2, text
    _ssh_works(lab, host)

    again = harden(targets, mode="fix", controls=GAPS, limit=[host])
    assert again.ok and again.changed_total() == 0, [r for r in again.results if r.changed]
    _ssh_works(lab, host)

    known = catalogue()
    for control in GAPS:
        fixture = known[control].fixtures
        assert fixture is not None
        lab.ssh(host, f"sudo -n sh -c {shlex.quote(fixture.break_)}", user="yunwang")
    _ssh_works(lab, host)  # the peer's ClientAliveCountMax 0 does not lock us out
    check = harden(targets, mode="check", controls=GAPS, limit=[host])
    failing = {r.control: r.evidence for r in check.failing()}
    assert set(failing) == set(GAPS), check.results
    assert "clientalivecountmax = 0" in failing["YW-C-IA-026"]
    assert "/etc/logrotate.conf: weekly" in failing["YW-C-AU-022"]
    assert "rotate 0 weekly = 0 days" in failing["YW-C-AU-021"]

    repaired = harden(targets, mode="fix", controls=GAPS, limit=[host])
    assert repaired.ok, [(r.control, r.evidence) for r in repaired.results]
    _ssh_works(lab, host)
