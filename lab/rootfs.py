"""The Debian root filesystem every lab host runs from.

Built once with debootstrap (about 80 s, ~400 MB) into a cache outside the
repo, then shared read-only: each host mounts it as the lower layer of its own
overlay, so a host's changes (a hardening playbook's edits) never reach the
cache or another host. `python -m lab.rootfs --ensure` builds it if missing;
CI's setup script and `yunwang lab up` both go through `ensure()`.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import sys
import time
from pathlib import Path

from lab.errors import LabError
from lab.proc import run

SUITE = "bookworm"
# What the MLPS hardening role (playbooks/roles/mlps_hardening) installs: lab
# namespaces reach no mirror, so the rootfs carries it, as a city's own mirror would.
HARDENING_PACKAGES = (
    "auditd",
    "rsyslog",
    "chrony",
    "nftables",
    "libpam-pwquality",
    "aide",
    "procps",
    "cron",
    "logrotate",
    "python3-apt",
)
# What the DR role (playbooks/roles/dr) needs: the database it
# replicates, restic for the backup line, and the driver Ansible's postgresql modules use.
DR_PACKAGES = ("postgresql-15", "restic", "python3-psycopg2", "openssl")
# The hardening role's named peer (ComplianceAsCode: SCAP content and the
# OpenSCAP scanner), so bench/hardening_peer.py can run `oscap xccdf eval` inside a host.
COMPLIANCE_PEER_PACKAGES = ("openscap-scanner", "ssg-debian")
PACKAGES = (
    "openssh-server",
    "python3",
    "sudo",
    "iproute2",
    "iputils-ping",
    *HARDENING_PACKAGES,
    *DR_PACKAGES,
    *COMPLIANCE_PEER_PACKAGES,
)
# Bump when the recipe changes: a cache with another stamp is rebuilt.
RECIPE = f"1 {SUITE} minbase {' '.join(PACKAGES)}"
OPERATOR = "yunwang"  # the unprivileged account playbooks log in as (sudo, key only)
_STAMP = ".yunwang-rootfs"


def cache_dir() -> Path:
    return Path(os.environ.get("YUNWANG_ROOTFS", "/var/cache/yunwang/rootfs"))


def is_ready(root: Path | None = None) -> bool:
    root = root or cache_dir()
    stamp = root / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == RECIPE


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (no host is hard-coded)."""
    override = os.environ.get("YUNWANG_DEBIAN_MIRROR")
    if override:
        return override
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        mirror = _mirror_in(text)
        if mirror:
            return mirror
    raise LabError("no Debian mirror found in /etc/apt sources; set YUNWANG_DEBIAN_MIRROR")


def _mirror_in(text: str) -> str | None:
    # deb822 stanzas: URIs + Suites naming the release (not -security/-updates).
    for stanza in re.split(r"\n\s*\n", text):
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
        if uris and suites and SUITE in suites.group(1).split() and "/debian" in uris.group(1):
            if "security" not in uris.group(1):
                return uris.group(1)
    for line in text.splitlines():
        match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
        if match and match.group(2) == SUITE and "security" not in match.group(1):
            return match.group(1)
    return None


def ensure(root: Path | None = None, *, log: bool = False) -> Path:
    """Return the cached rootfs, building it first if it is missing or stale."""
    root = root or cache_dir()
    if is_ready(root):
        return root
    if os.geteuid() != 0:
        raise LabError("building the lab host rootfs needs root (debootstrap)")
    root.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time: parallel test sessions wait for the first one.
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(root):
            return root
        _build(root, log=log)
    return root


def _build(root: Path, *, log: bool) -> None:
    started = time.monotonic()
    staging = root.with_name(root.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    if log:
        print(f"building lab rootfs in {root} (debootstrap {SUITE}, ~80 s)", file=sys.stderr)
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(staging),
            debian_mirror(),
        ],
        timeout=1200,
    )
    _customise(staging)
    (staging / _STAMP).write_text(RECIPE + "\n")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    if log:
        print(f"lab rootfs ready in {time.monotonic() - started:.0f} s", file=sys.stderr)


def _customise(root: Path) -> None:
    chroot = ["chroot", str(root)]
    run([*chroot, "useradd", "--create-home", "--shell", "/bin/bash", OPERATOR])
    sudoers = root / "etc/sudoers.d" / OPERATOR
    sudoers.write_text(f"{OPERATOR} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    # Host keys are made per host at start: copies of one key would let any
    # lab host impersonate another.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d/yunwang-lab.conf").write_text(
        "# yunwang lab host: keys only\nPasswordAuthentication no\nUseDNS no\n"
    )
    run([*chroot, "apt-get", "clean"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the cached lab host rootfs")
    parser.add_argument("--ensure", action="store_true", help="build only if missing")
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        path = ensure(args.root, log=True)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
