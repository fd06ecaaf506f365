"""A system's primary and its DR standby: PostgreSQL streaming replication.

`DrPair.setup()` runs the `dr` role on both hosts (through
playbooks/runner.py) with the passwords resolved from their references and
a CA made for the run. Commands on the hosts go over the lab's ssh (the
`Hosts` protocol: the lab, or any estate inventory that can reach hosts).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dr.tls import make_ca
from estate.secrets import SecretMissing, SecretRef

PG = "15"
CLUSTER = "main"
DATABASE = "drill"
APP_USER = "drill"
SLOT = "dr_standby"  # the role's dr_slot
CONF_DIR = f"/etc/postgresql/{PG}/{CLUSTER}"
DATA_DIR = f"/var/lib/postgresql/{PG}/{CLUSTER}"


class DrError(Exception):
    """A DR step failed; the message is one line saying which and why."""


class Hosts(Protocol):
    def ssh_argv(self, host: str, *, user: str = "root", family: int = 4) -> list[str]: ...
    def ansible_inventory(self, *, family: int = 4, user: str = "yunwang") -> dict[str, Any]: ...


@dataclass(frozen=True)
class Secrets:
    """Already resolved from their references ({env: ...}/{file: ...})."""

    replication: str
    app: str


def address_of(inventory: dict[str, Any], host: str) -> str:
    try:
        return str(inventory["all"]["hosts"][host]["ansible_host"])
    except KeyError:
        raise DrError(f"host {host!r} is not in the inventory") from None


def _why(output: str) -> str:
    """The line saying what went wrong (restic ends with a bare error count)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    first = next((x for x in lines if re.search(r"error|fatal|fail", x, re.I)), lines[-1])
    return first if first == lines[-1] else f"{first} ({lines[-1]})"


# ssh's own errors before the session starts (a loaded machine answers late):
# the command did not run, so running it again is safe.
_NEVER_RAN = re.compile(r"banner exchange|kex_exchange_identification|Connection timed out")


def ssh(
    hosts: Hosts,
    host: str,
    cmd: str,
    *,
    stdin: str | None = None,
    timeout: float = 60.0,
    what: str | None = None,
) -> str:
    """Run `cmd` as root on `host`; its stdout, or DrError with its stderr.
    A connection that failed before the command ran is tried again (twice)."""
    what = what or cmd.split()[0]
    for attempt in range(3):
        try:
            done = subprocess.run(
                [*hosts.ssh_argv(host), cmd],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DrError(f"{host}: {what} did not finish in {timeout:g} s") from None
        if done.returncode != 255 or not _NEVER_RAN.search(done.stderr) or attempt == 2:
            break
        time.sleep(1.0)
    if done.returncode != 0:
        why = _why(done.stderr or done.stdout)[:300]
        raise DrError(f"{host}: {what} exited {done.returncode}: {why}")
    return done.stdout


def psql(hosts: Hosts, host: str, sql: str, *, database: str = DATABASE) -> str:
    """One SQL statement as the postgres superuser on the host (peer auth)."""
    cmd = (
        f"runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -d {database} -c {shlex.quote(sql)}"
    )
    return ssh(hosts, host, cmd).strip()


class DrPair:
    def __init__(
        self, hosts: Hosts, primary: str, standby: str, secrets: Secrets, *, sync: bool
    ) -> None:
        self.hosts = hosts
        self.primary = primary
        self.standby = standby
        self.secrets = secrets
        self.sync = sync
        # The pair's CA lives as long as this object: a rebuild reuses it,
        # a full setup makes a new one.
        self._tls = tempfile.TemporaryDirectory(prefix="yunwang-dr-tls-")
        self._tls_made = False

    def close(self) -> None:
        self._tls.cleanup()

    def address(self, host: str) -> str:
        return address_of(self.hosts.ansible_inventory(), host)

    def setup(self, *, rebuild: bool = False) -> float:
        """Run the role on both hosts; the seconds it took. With `rebuild` only
        the standby runs it (copied afresh from the primary, which `promote`
        already made ready: slot and commit mode)."""
        from playbooks.runner import RunError, run_playbook

        started = time.monotonic()
        inventory = self.hosts.ansible_inventory()
        hostvars = inventory["all"]["hosts"]
        pair = {self.primary: "primary", self.standby: "standby"}
        for host, role in pair.items():
            peer = self.standby if role == "primary" else self.primary
            hostvars[host].update(
                dr_role=role,
                dr_self_address=address_of(inventory, host),
                dr_peer_address=address_of(inventory, peer),
            )
        rebuild = rebuild and self._tls_made
        tls = self._tls.name
        if not rebuild:
            make_ca(Path(tls), pair)
            self._tls_made = True
        failed: list[str] = []

        def note(event: dict[str, Any]) -> None:
            name = str(event.get("event", ""))
            if name.endswith(("_failed", "_unreachable")) or (
                name == "verbose" and "ERROR" in event.get("stdout", "")
            ):
                lines = str(event.get("stdout", "")).strip().splitlines()
                failed.append(lines[-1][:300] if lines else name)

        try:
            result = run_playbook(
                "dr.yml",
                inventory,
                extravars={
                    "dr_sync": self.sync,
                    "dr_rebuild": rebuild,
                    "dr_tls_dir": tls,
                    "dr_replication_password": self.secrets.replication,
                    "dr_app_password": self.secrets.app,
                },
                limit=[self.standby] if rebuild else list(pair),
                on_event=note,
                timeout_s=600,
            )
        except RunError as exc:
            raise DrError(f"replication setup: {exc}") from None
        if result.status != "successful":
            raise DrError(f"replication setup {result.status}: {'; '.join(failed)[:400]}")
        self.wait_streaming()
        return time.monotonic() - started

    def swap(self) -> None:
        self.primary, self.standby = self.standby, self.primary

    def wait_streaming(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            state = psql(self.hosts, self.standby, "SELECT status FROM pg_stat_wal_receiver")
            if state == "streaming":
                return
            if time.monotonic() > deadline:
                raise DrError(f"{self.standby}: standby not streaming ({state or 'no receiver'})")
            time.sleep(0.2)

    def in_recovery(self, host: str) -> bool:
        return psql(self.hosts, host, "SELECT pg_is_in_recovery()") == "t"

    def stop(self, host: str) -> None:
        ssh(self.hosts, host, f"pg_ctlcluster {PG} {CLUSTER} stop -m immediate")

    def start(self, host: str) -> None:
        ssh(self.hosts, host, f"pg_ctlcluster {PG} {CLUSTER} start")

    def promote(self, host: str) -> None:
        """Promote the standby and let it commit alone: a synchronous primary
        whose standby is gone would otherwise block every write."""
        ssh(self.hosts, host, f"pg_ctlcluster {PG} {CLUSTER} promote")
        psql(self.hosts, host, "ALTER SYSTEM RESET synchronous_standby_names")
        psql(self.hosts, host, "SELECT pg_reload_conf()")

    def ready_for_standby(self) -> None:
        """The (new) primary keeps WAL for its standby in a slot."""
        psql(
            self.hosts,
            self.primary,
            f"SELECT pg_create_physical_replication_slot('{SLOT}') WHERE NOT EXISTS "
            f"(SELECT 1 FROM pg_replication_slots WHERE slot_name = '{SLOT}')",
        )

    def rebuild_standby(self) -> float:
        """Copy the primary afresh onto the standby (an old primary after a
        failover): the role's standby steps, over ssh, since the host already
        holds the pair's certificates and settings from `setup`."""
        if not self._tls_made:
            return self.setup(rebuild=True)
        started = time.monotonic()
        conninfo = (
            f"host={self.address(self.primary)} user=replicator sslmode=verify-ca "
            f"sslrootcert={CONF_DIR}/yunwang-dr-ca.crt application_name={self.standby}"
        )
        ssh(
            self.hosts,
            self.standby,
            f"set -e; pg_ctlcluster {PG} {CLUSTER} stop -m immediate || true; "
            f"rm -rf {DATA_DIR}; read -r PGPASSWORD; export PGPASSWORD; "
            f"runuser -u postgres -- pg_basebackup -D {DATA_DIR} -R -X stream -S {SLOT} "
            f"-c fast -d {shlex.quote(conninfo)}; pg_ctlcluster {PG} {CLUSTER} start",
            stdin=self.secrets.replication + "\n",
            what="pg_basebackup",
            timeout=300,
        )
        self.wait_streaming()
        return time.monotonic() - started

    def commit_mode(self) -> None:
        """Once the standby streams: when the class's RPO is 0, every commit
        on the primary waits for it again (set only now, or writes would
        block while the standby is rebuilt)."""
        if self.sync:
            psql(self.hosts, self.primary, "ALTER SYSTEM SET synchronous_standby_names = '*'")
            psql(self.hosts, self.primary, "SELECT pg_reload_conf()")


# Where the DR passwords come from: references only, never values in a file.
REPLICATION_REF = SecretRef(env="YUNWANG_DR_REPLICATION_PASSWORD")
APP_REF = SecretRef(env="YUNWANG_DR_APP_PASSWORD")
RESTIC_REF = SecretRef(env="YUNWANG_RESTIC_PASSWORD")


def resolve(ref: SecretRef, defaults: Mapping[str, str] | None = None) -> str:
    try:
        return ref.resolve(defaults)
    except SecretMissing as exc:
        raise DrError(f"DR password ({ref.describe()}): {exc}") from None


def secrets(defaults: Mapping[str, str] | None = None) -> Secrets:
    return Secrets(resolve(REPLICATION_REF, defaults), resolve(APP_REF, defaults))


def orient(pair: DrPair) -> None:
    """After earlier drills the named primary may be the standby now: follow
    what the hosts say (a host that does not answer leaves the order as given)."""
    try:
        swapped = not pair.in_recovery(pair.standby) and pair.in_recovery(pair.primary)
    except DrError:
        return
    if swapped:
        pair.swap()
