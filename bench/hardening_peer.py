"""Hardening measured against ComplianceAsCode (ssg-debian + OpenSCAP), same lab, same run.

    YUNWANG_ROOTFS=... .venv/bin/python bench/hardening_peer.py [--hosts 20] [--runs 3]
    .venv/bin/python bench/hardening_peer.py --gaps   # one host: the closed gaps only

`--gaps`: the peer's keepalive, idle-timeout and logrotate rules on a fresh
host and after yunwang fixed only the controls closing those gaps, and what
this OpenSSH does with a frozen client at ClientAliveCountMax 0 and 1.

Brings up a lab slice of examples/puyang.yaml (one county, one township,
`--hosts` Debian hosts; root) whose rootfs carries `openscap-scanner` and
`ssg-debian` (lab/rootfs.py). Then, on those hosts:

1. Check time on every host, `--runs` times each, alternating: `yunwang
   harden ESTATE --lab-dir DIR --check --json` (the product path: the CLI,
   ansible-runner, the store) against the peer's `oscap xccdf eval` of the
   ANSSI BP-028 high profile, run inside every host at once over ssh (as
   Ansible's forks do).
2. Fix and second-run changes: yunwang's fix on host A (CLI, twice); the
   peer's own remediation (`oscap xccdf eval --remediate`, its bash fixes)
   on host B, twice. The peer's fixes run in a mount namespace where
   /proc/sys (but net.*) and /sys are read-only and auditctl/augenrules are
   /bin/true: lab hosts share this machine's kernel, and the peer's
   remediation would otherwise set kernel.*/fs.* sysctls on it.
3. Cross checks: the peer's profile on the yunwang-hardened host A (each
   failing rule with the MLPS clause it maps to), and yunwang's check on the
   peer-hardened host B.

The peer's content targets Debian 11: its benchmark-level platform
(cpe:/o:debian:debian_linux:11) is removed from a copy of the data stream
so its rules are evaluated on Debian 12 instead of all reporting
"notapplicable". Prints Markdown; tears the lab down.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.lab import SSH_OPTIONS, Lab
from lab.testing import TEST_SECRETS
from playbooks.controls import catalogue

REPO = Path(__file__).resolve().parent.parent
ESTATE = REPO / "examples" / "puyang.yaml"
PROFILE = "xccdf_org.ssgproject.content_profile_anssi_np_nt28_high"
RULE = "xccdf_org.ssgproject.content_rule_"
DS = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml"
DS_ON_12 = "/var/tmp/yunwang-bench-ssg-debian11-on-12-ds.xml"
RESULTS = "/var/tmp/yunwang-bench-oscap-results.xml"
XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"
# The peer cuts the automation's own sudo (NOPASSWD removed): every later
# run would be locked out, which yunwang refuses by design (docs/hardening.md).
PEER_SKIPPED = ("sudo_remove_nopasswd", "sudo_remove_no_authenticate")
# The peer's rules, by name, to the GB/T 22239-2019 clause they serve (our
# reading; None: no MLPS host clause, e.g. disk partitioning, hardware IOMMU).
PEER_CLAUSE = (
    (r"^apt_", "8.1.4.6"),
    (r"^file_(groupowner|owner|permissions)_etc_", "8.1.4.2"),
    (r"^file_permissions_systemmap$", "8.1.4.2"),
    (r"^(package_audit_installed|service_auditd_enabled)$", "8.1.4.3"),
    (r"^(package_rsyslog_installed|service_rsyslog_enabled|rsyslog_files_)", "8.1.4.3"),
    (r"^ensure_logrotate_activated$", "8.1.4.3"),
    (r"^package_(ntp_installed|ntpdate_removed)$|^service_ntp_enabled$", "8.1.5"),
    (r"^package_.*(telnet|nis).*_removed$", "8.1.4.4"),
    (r"^sshd_(allow_only_protocol2|set_idle_timeout|set_keepalive_0|disable_empty)", "8.1.4.1"),
    (r"^sshd_disable_root_login$", "8.1.4.2"),
    (r"^sudo_", "8.1.4.2"),
    (r"^sysctl_kernel_randomize_va_space$", "8.1.4.4"),
    (r"^sysctl_fs_suid_dumpable$", "8.1.4.10"),
    (r"^sysctl_fs_", "8.1.4.4"),
)
# The peer's sysctl probes read /proc/sys: on a lab host kernel.* and fs.*
# are this machine's, which no lab run may change.
SHARED_KERNEL = re.compile(r"^sysctl_(kernel|fs)_")
SANDBOX = (
    "unshare --mount --propagation private sh -c '"
    "mount --bind /proc/sys /proc/sys && mount --bind /proc/sys/net /proc/sys/net"
    " && mount -o remount,bind,ro /proc/sys && mount --bind /sys /sys"
    " && mount -o remount,bind,ro /sys"
    " && mount --bind /bin/true /usr/sbin/auditctl && mount --bind /bin/true /usr/sbin/augenrules"
    " && if echo 2 > /proc/sys/kernel/randomize_va_space 2>/dev/null;"
    ' then echo sandbox leaks >&2; exit 99; fi && exec "$0" "$@"\''
)


def clause_of(rule: str) -> str | None:
    return next((clause for pattern, clause in PEER_CLAUSE if re.search(pattern, rule)), None)


def selected(results: dict[str, str]) -> int:
    """Rules the profile selects (the results list every rule of the benchmark)."""
    return sum(1 for r in results.values() if r != "notselected")


def fixed(results: dict[str, str]) -> int:
    return sum(1 for r in results.values() if r == "fixed")


def load() -> str:
    """The machine is shared: say how busy it was."""
    return " (load average {:.1f} {:.1f} {:.1f})".format(*os.getloadavg())


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Peer:
    """`oscap xccdf eval` inside lab hosts over ssh (sudo as the lab's operator)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def sh(self, host: str, cmd: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return self.lab.ssh(
            host, f"sudo -n sh -c {shlex.quote(cmd)}", user="yunwang", check=False, timeout=timeout
        )

    def prepare(self, host: str) -> None:
        strip = r"/<xccdf-1.2:platform idref=\"cpe:\/o:debian:debian_linux:11\"\/>/d"
        done = self.sh(host, f"sed '{strip}' {DS} > {DS_ON_12}")
        if done.returncode != 0:
            raise SystemExit(f"{host}: {done.stderr.strip()}")

    def eval(self, host: str, *, remediate: bool = False) -> tuple[float, dict[str, str]]:
        args = ["oscap", "xccdf", "eval", "--profile", PROFILE, "--results", RESULTS]
        if remediate:
            args.append("--remediate")
            for rule in PEER_SKIPPED:
                args += ["--skip-rule", RULE + rule]
        cmd = " ".join([*args, DS_ON_12])
        if remediate:
            cmd = f"{SANDBOX} {cmd}"
        started = time.monotonic()
        done = self.sh(host, f"{cmd} >/dev/null 2>&1; echo rc=$?")
        seconds = time.monotonic() - started
        if "rc=99" in done.stdout or "rc=" not in done.stdout:
            raise SystemExit(f"{host}: oscap did not run: {done.stdout} {done.stderr}")
        xml = self.sh(host, f"cat {RESULTS}").stdout
        return seconds, parse_results(xml)


def parse_results(xml: str) -> dict[str, str]:
    """rule name -> result of the last pass (a remediation's re-check)."""
    root = ET.fromstring(xml)
    results: dict[str, str] = {}
    for found in root.iter(f"{XCCDF}rule-result"):
        rule = found.get("idref", "").removeprefix(RULE)
        results[rule] = found.findtext(f"{XCCDF}result", "")
    return results


def yunwang(lab: Lab, home: Path, *args: str) -> tuple[float, dict[str, Any]]:
    """The CLI users run, as a separate process (import and start-up included)."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "yunwang",
            "harden",
            str(ESTATE),
            "--lab-dir",
            str(lab.directory),
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "YUNWANG_HOME": str(home), "YUNWANG_ACTOR": "bench"},
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"yunwang harden {' '.join(args)}: {done.stderr.strip()[-500:]}")
    return seconds, dict(json.loads(done.stdout))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-runs", type=int, default=None, help="oscap runs (default --runs)")
    parser.add_argument("--check-only", action="store_true", help="only the check times")
    parser.add_argument(
        "--gaps", action="store_true", help="only the peer's rules on the two closed gaps, one host"
    )
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="yw-harden-bench-"))
    home = Path(tempfile.mkdtemp(prefix="yw-harden-bench-home-"))
    started = time.monotonic()
    lab = Lab.up(
        ESTATE,
        directory=directory,
        counties=1,
        townships=1,
        hosts=1 if args.gaps else args.hosts,
        bfd_ms=300,
        secrets=TEST_SECRETS,
    )
    print(f"lab: {len(lab.hosts)} hosts up in {time.monotonic() - started:.0f} s", flush=True)
    try:
        if args.gaps:
            gaps(lab, home, Peer(lab))
            return 0
        peer_runs = min(args.runs, args.peer_runs or args.runs)
        run(lab, home, args.runs, peer_runs, cross_checks=not args.check_only)
    finally:
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    return 0


# The two policy gaps the cross check found (sshd keepalive, daily rotation)
# and the peer's idle-timeout rule next to them, with the controls closing them.
GAP_RULES = ("sshd_set_keepalive_0", "sshd_set_idle_timeout", "ensure_logrotate_activated")
GAP_CONTROLS = ("YW-C-IA-017", "YW-C-IA-026", "YW-C-AU-021", "YW-C-AU-022")


def gaps(lab: Lab, home: Path, peer: Peer) -> None:
    """The peer's profile on a fresh host, then after yunwang fixed only the gap controls."""
    host = lab.hosts[0].name
    peer.prepare(host)
    _, before = peer.eval(host)
    seconds, report = yunwang(lab, home, "--limit", host, *(f"--control={c}" for c in GAP_CONTROLS))
    ours = {str(r["control"]): str(r["status"]) for r in report["results"]}
    _, after = peer.eval(host)
    sshd = peer.sh(host, "/usr/sbin/sshd -T | grep -E '^clientalive'").stdout.split("\n")
    print(f"\n### The closed gaps on {host}: yunwang fix of {', '.join(GAP_CONTROLS)}\n")
    print(
        f"yunwang fix {seconds:.0f} s{load()}: {ours}; effective sshd: {[s for s in sshd if s]}\n"
    )
    print("| peer rule | clause | fresh host | after the yunwang fix |")
    print("|---|---|---|---|")
    for rule in GAP_RULES:
        print(f"| {rule} | {clause_of(rule)} | {before.get(rule)} | {after.get(rule)} |")
    print("\n| ClientAliveCountMax (interval 1 s) | session of a frozen client after 8 s |")
    print("|---:|---|")
    for count in (0, 1):
        print(f"| {count} | {'open' if frozen_client_survives(lab, host, count) else 'ended'} |")


def frozen_client_survives(lab: Lab, host: str, count: int) -> bool:
    """What this OpenSSH does with a ClientAliveCountMax: a second sshd with
    ClientAliveInterval 1 on its own port, a client that stops answering
    (SIGSTOP), and whether the server still holds the session 8 s later."""
    port = 2200 + count
    daemon = f"/usr/sbin/sshd -p {port} -o ClientAliveInterval=1 -o ClientAliveCountMax={count}"
    Peer(lab).sh(host, f"{daemon} -o PidFile=/run/yw-bench-sshd-{port}.pid")
    address = lab.plan.host(host).address4.split("/")[0]
    ssh = ["ssh", "-i", str(lab.ssh_key_path), "-p", str(port), *SSH_OPTIONS]
    client = subprocess.Popen(
        ["ip", "netns", "exec", lab.nms, *ssh, f"yunwang@{address}", "sleep 60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        established = ["ss", "-Htn", "state", "established", f"( sport = :{port} )"]
        time.sleep(3)
        if not lab.run(host, established).stdout.strip():
            raise SystemExit(f"{host}: no session on the test sshd (port {port})")
        client.send_signal(signal.SIGSTOP)
        time.sleep(8)
        return bool(lab.run(host, established).stdout.strip())
    finally:
        client.kill()
        client.wait()
        Peer(lab).sh(host, f"kill $(cat /run/yw-bench-sshd-{port}.pid)")


def run(lab: Lab, home: Path, runs: int, peer_runs: int, *, cross_checks: bool) -> None:
    hosts = [h.name for h in lab.hosts]
    peer = Peer(lab)
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(peer.prepare, hosts))
        ours: list[float] = []
        theirs: list[float] = []
        for turn in range(runs):
            seconds, report = yunwang(lab, home, "--check")
            ours.append(seconds)
            print(f"yunwang check of {len(hosts)} hosts: {seconds:.1f} s{load()}", flush=True)
            states = Counter(str(h["state"]) for h in report["hosts"].values())
            if turn >= peer_runs:
                continue
            started = time.monotonic()
            fresh = list(pool.map(peer.eval, hosts))
            theirs.append(time.monotonic() - started)
            print(f"oscap check of {len(hosts)} hosts: {theirs[-1]:.1f} s{load()}", flush=True)
    level3 = [c for c in catalogue().values() if 3 in c.levels]
    per_host = median([s for s, _ in fresh])
    print(
        f"\n### Check of {len(hosts)} fresh hosts (wall, all hosts at once), runs: {runs}/{peer_runs}\n"
    )
    print("| tool | median s | runs s | per host s (median) |")
    print("|---|---:|---:|---:|")
    print(
        f"| yunwang harden --check ({len(level3)} controls/level-3 host) | {median(ours):.1f} | "
        + ", ".join(f"{s:.1f}" for s in ours)
        + f" | {median(ours) / len(hosts):.2f} (amortised) |"
    )
    print(
        f"| oscap xccdf eval, ANSSI BP-028 high ({selected(fresh[0][1])} rules) | {median(theirs):.1f} | "
        + ", ".join(f"{s:.1f}" for s in theirs)
        + f" | {per_host:.1f} (inside one host) |"
    )
    print(
        f"ratio oscap / yunwang: {median(theirs) / median(ours):.2f}; yunwang host states {dict(states)}"
    )
    if cross_checks:
        cross(lab, home, peer, hosts[0], hosts[1], fresh[1][1])


def cross(
    lab: Lab, home: Path, peer: Peer, ours_host: str, peer_host: str, before: dict[str, str]
) -> None:
    fix1, first = yunwang(lab, home, "--limit", ours_host)
    fix2, second = yunwang(lab, home, "--limit", ours_host)
    changed1 = sum(int(h["changed"]) for h in first["hosts"].values())
    changed2 = sum(int(h["changed"]) for h in second["hosts"].values())
    pfix1, after1 = peer.eval(peer_host, remediate=True)
    pfix2, after2 = peer.eval(peer_host, remediate=True)
    print("\n### Fix, and what a second fix run changes (one host each)\n")
    print("| tool | first fix s | changed | second fix s | changed on the second run |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| yunwang harden (fix, then check) | {fix1:.0f} | {changed1} tasks | {fix2:.0f} | {changed2} tasks |"
    )
    print(
        f"| oscap xccdf eval --remediate | {pfix1:.0f} | {fixed(after1)} rules fixed | "
        f"{pfix2:.0f} | {fixed(after2)} rules fixed again |"
    )
    print(f"\npeer before its fix on {peer_host}: {dict(Counter(before.values()))}")
    print(
        f"peer after its 1st fix: {dict(Counter(after1.values()))}; 2nd: {dict(Counter(after2.values()))}"
    )
    print(
        f"peer remediation left failing: {sorted(r for r, s in after2.items() if s in ('fail', 'error'))}"
    )

    _, on_ours = peer.eval(ours_host)
    claimed = {c.clause.split()[0] for c in catalogue().values()}
    print(f"\n### The peer's profile on the yunwang-hardened host {ours_host}\n")
    print(f"results: {dict(Counter(on_ours.values()))}\n")
    print("| peer rule failing | MLPS clause (our mapping) | yunwang claims it | note |")
    print("|---|---|---|---|")
    for rule, result in sorted(on_ours.items()):
        if result not in ("fail", "error"):
            continue
        clause = clause_of(rule)
        note = "reads this machine's kernel (shared)" if SHARED_KERNEL.match(rule) else ""
        print(
            f"| {rule} ({result}) | {clause or '-'} | {'yes' if clause and any(c.startswith(clause) for c in claimed) else 'no'} | {note} |"
        )

    _, on_peer = yunwang(lab, home, "--check", "--limit", peer_host)
    failing = [r for r in on_peer["results"] if r["status"] == "fail"]
    by_clause = Counter(catalogue()[str(r["control"])].clause.split()[0] for r in failing)
    print(f"\n### yunwang's check on the peer-hardened host {peer_host}\n")
    print(
        f"{len(failing)} of {len(on_peer['results'])} controls fail "
        f"(host state {on_peer['hosts'][peer_host]['state']}); by clause: {dict(sorted(by_clause.items()))}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
