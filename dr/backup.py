"""The backup line: restic to a repository on a DR-centre host, over sftp.

The source host dumps the database (pg_dump) and records a manifest of
sha256 sums and the row count beside the dump; restic backs up the dump
and the declared paths into `sftp:drbackup@REPO:/srv/restic/<system>`. The
restore drill restores the latest snapshot on a scratch host and checks
every file against the manifest and the dump's rows against the count:
restic's own verification of each blob catches a corrupted repository.

The repository password travels on ssh's stdin, never on a command line;
the sftp key is made on each client host and authorised only on the
repository host, whose host key is pinned from the lab's own channel.
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime

from dr.pair import DATABASE, DrError, Hosts, address_of, ssh
from dr.record import DrillRecord

STAGING = "/var/backups/yunwang"
RESTORE_TARGET = "/srv/yunwang-restore-drill"
KEY = "/root/.ssh/yunwang-restic"
REPO_USER = "drbackup"  # Debian already has a `backup` system user, without a shell


class ResticLine:
    def __init__(self, hosts: Hosts, repo_host: str, system: str, password: str) -> None:
        self.hosts = hosts
        self.repo_host = repo_host
        self.password = password
        self.path = f"/srv/restic/{system.replace('/', '-')}"
        self.repo_address = address_of(hosts.ansible_inventory(), repo_host)

    def _repo_args(self) -> str:
        sftp = f"ssh -i {KEY} -o BatchMode=yes {REPO_USER}@{self.repo_address} -s sftp"
        return f"-r sftp:{REPO_USER}@{self.repo_address}:{self.path} -o sftp.command={shlex.quote(sftp)}"

    def restic(self, host: str, args: str, timeout: float = 300.0) -> str:
        cmd = f"read -r RESTIC_PASSWORD; export RESTIC_PASSWORD; restic {self._repo_args()} {args}"
        words = args.split()
        what = f"restic {words[0]}" if words else "restic"
        return ssh(self.hosts, host, cmd, stdin=self.password + "\n", timeout=timeout, what=what)

    def authorise(self, client: str) -> None:
        """Give `client` an sftp key the repository host accepts, and pin that host's key."""
        pub = ssh(
            self.hosts,
            client,
            f"test -f {KEY} || ssh-keygen -q -t ed25519 -N '' -f {KEY}; cat {KEY}.pub",
        ).strip()
        host_key = ssh(self.hosts, self.repo_host, "cat /etc/ssh/ssh_host_ed25519_key.pub").strip()
        ssh(
            self.hosts,
            self.repo_host,
            f"id {REPO_USER} >/dev/null 2>&1 || useradd --create-home {REPO_USER}; "
            f"install -d -o {REPO_USER} -m 700 /srv/restic ~{REPO_USER}/.ssh; "
            f"grep -qxF {shlex.quote(pub)} ~{REPO_USER}/.ssh/authorized_keys 2>/dev/null || "
            f"echo {shlex.quote(pub)} >> ~{REPO_USER}/.ssh/authorized_keys; "
            f"chown -R {REPO_USER} ~{REPO_USER}/.ssh",
        )
        line = f"{self.repo_address} {' '.join(host_key.split()[:2])}"
        ssh(
            self.hosts,
            client,
            f"grep -qxF {shlex.quote(line)} /root/.ssh/known_hosts 2>/dev/null || "
            f"echo {shlex.quote(line)} >> /root/.ssh/known_hosts",
        )

    def backup(self, source: str, paths: tuple[str, ...] = ()) -> dict[str, str]:
        """Dump, manifest, back up; the snapshot id and what the manifest holds."""
        self.authorise(source)
        try:
            self.restic(source, "cat config")
        except DrError:
            self.restic(source, "init")
        listed = " ".join(shlex.quote(p) for p in paths)
        rows = ssh(
            self.hosts,
            source,
            f"set -e; install -d -m 700 {STAGING}; "
            f"runuser -u postgres -- pg_dump -d {DATABASE} > {STAGING}/{DATABASE}.sql; "
            f"runuser -u postgres -- psql -X -At -d {DATABASE} -c 'SELECT count(*) FROM drill_rows'",
        ).strip()
        ssh(
            self.hosts,
            source,
            f"set -e; echo {rows} > {STAGING}/rows; cd /; "
            f"find {STAGING[1:]} {' '.join(p.lstrip('/') for p in paths)} -type f "
            f"! -name manifest.sha256 -print0 | xargs -0 sha256sum > {STAGING}/manifest.sha256",
        )
        out = self.restic(source, f"backup --json {STAGING} {listed}")
        summary = [json.loads(x) for x in out.splitlines() if '"summary"' in x]
        if not summary:
            raise DrError(f"{source}: restic backup printed no summary")
        return {"snapshot": summary[-1]["snapshot_id"][:8], "rows": rows}

    def forget(self, host: str, retention: tuple[tuple[str, int], ...]) -> dict[str, int]:
        """Apply the class's retention (`restic forget --keep-* --prune`): how
        many snapshots were kept and removed. No retention declared: all kept."""
        args = forget_args(retention)
        if not args:
            kept = len(json.loads(self.restic(host, "snapshots --json")))
            return {"kept": kept, "removed": 0}
        out = self.restic(host, f"forget --json --prune {args}", timeout=600)
        # --prune prints its own progress after the JSON array of groups.
        groups = json.loads(next(x for x in out.splitlines() if x.startswith("[")))
        return {
            "kept": sum(len(g.get("keep") or []) for g in groups),
            "removed": sum(len(g.get("remove") or []) for g in groups),
        }

    def snapshot_age_s(self, host: str) -> float:
        snaps = json.loads(self.restic(host, "snapshots --json --latest 1"))
        if not snaps:
            raise DrError(f"{self.path}: the repository holds no snapshot")
        made = datetime.fromisoformat(max(s["time"] for s in snaps))
        return (datetime.now(UTC) - made).total_seconds()


def back_up(
    line: ResticLine, source: str, paths: tuple[str, ...], retention: tuple[tuple[str, int], ...]
) -> dict[str, str]:
    """One backup of `source`, then the class's retention: the facts to record."""
    facts = line.backup(source, paths)
    kept = line.forget(source, retention)
    facts.update(snapshots_kept=str(kept["kept"]), snapshots_removed=str(kept["removed"]))
    return facts


def forget_args(retention: tuple[tuple[str, int], ...]) -> str:
    """The estate's retention as restic's `--keep-*` options."""
    return " ".join(f"--keep-{period} {count:d}" for period, count in retention if count > 0)


def restore_drill(line: ResticLine, scratch: str, record: DrillRecord) -> DrillRecord:
    """Restore the latest snapshot on `scratch` and verify it; fills `record`."""
    record.facts.update(scratch=scratch, repository=f"{line.repo_host}:{line.path}")
    try:
        mark = time.monotonic()
        line.authorise(scratch)
        record.achieved_rpo_s = line.snapshot_age_s(scratch)
        record.steps["prepare"] = time.monotonic() - mark
        mark = time.monotonic()
        ssh(line.hosts, scratch, f"rm -rf {RESTORE_TARGET}")
        line.restic(scratch, f"restore latest --target {RESTORE_TARGET}")
        record.achieved_rto_s = record.steps["restore"] = time.monotonic() - mark
        mark = time.monotonic()
        verify(line.hosts, scratch)
        record.steps["verify"] = time.monotonic() - mark
        record.judge()
    except DrError as exc:
        record.reason = str(exc)
        record.judge()
    return record


def verify(hosts: Hosts, scratch: str) -> None:
    """Every restored file matches its sha256; the dump holds the counted rows."""
    root = f"{RESTORE_TARGET}{STAGING}"
    try:
        ssh(hosts, scratch, f"cd {RESTORE_TARGET} && sha256sum --quiet -c {root}/manifest.sha256")
    except DrError as exc:
        raise DrError(f"restored files differ from the source's checksums: {exc}") from None
    counted = ssh(
        hosts,
        scratch,
        f"cat {root}/rows; awk '/^COPY public.drill_rows /{{on=1; next}} /^\\\\\\.$/{{on=0}} on' "
        f"{root}/{DATABASE}.sql | wc -l",
    ).split()
    if len(counted) != 2 or counted[0] != counted[1]:
        raise DrError(f"restored dump holds {counted[-1:]} rows, the source counted {counted[:1]}")
