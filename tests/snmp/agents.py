"""Real SNMP agents for the tests: snmpsim serving recordings, net-snmp's
snmpd inside a network namespace. Each starts on demand and is stopped by
the pid we recorded, never by name."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import snmpsim_data

from monitors.snmp.recordings import install
from tests.waiting import wait_until

V3_USER = "ywsnmp"
V3_AUTH = "yw-auth-key-1"
V3_PRIV = "yw-priv-key-1"


def recordings_cache() -> Path:
    """The vendor recordings, decompressed once (ci/setup.d/30-snmp.sh does
    it in CI; a developer's first run does it here)."""
    cache = Path(os.environ.get("YUNWANG_SNMP_CACHE", "/var/cache/yunwang/snmpsim"))
    if not os.access(cache.parent if not cache.exists() else cache, os.W_OK):
        cache = Path.home() / ".cache" / "yunwang" / "snmpsim"
    install(Path(snmpsim_data.__file__).parent, cache)
    return cache


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_udp_agent(host: str, port: int, community: str, seconds: float = 60.0) -> None:
    """Poll with snmpget until the agent answers (snmpsim indexes first)."""
    target = f"udp6:[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def answers() -> bool:
        probe = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-t", "0.5", "-r", "0", "-On", target,
             "1.3.6.1.2.1.1.5.0"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return probe.returncode == 0

    wait_until(answers, seconds, f"SNMP agent {target} answering", every=0.3)


@dataclass
class Snmpsim:
    """snmpsim serving every .snmprec in `data_dir` on 127.0.0.1 and ::1."""

    data_dir: Path
    work: Path
    port: int = field(default_factory=free_udp_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, probe_community: str) -> Snmpsim:
        cache = self.work / "index"
        cache.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # As root snmpsim must drop privileges, but the interpreter may live
        # where an unprivileged user can't read it (pyenv under /root); it
        # only listens on loopback, so let it keep root in tests.
        env["SNMPSIM_ALLOW_ROOT"] = "true"
        binary = shutil.which("snmpsim-command-responder") or str(
            Path(os.sys.executable).parent / "snmpsim-command-responder"
        )
        log = (self.work / "snmpsim.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--data-dir={self.data_dir}",
                f"--cache-dir={cache}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
                f"--agent-udpv6-endpoint=[::1]:{self.port}",
                f"--v3-user={V3_USER}",
                f"--v3-auth-key={V3_AUTH}",
                "--v3-auth-proto=SHA",
                f"--v3-priv-key={V3_PRIV}",
                "--v3-priv-proto=AES",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for_udp_agent("127.0.0.1", self.port, probe_community)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


@dataclass
class NamespaceSnmpd:
    """net-snmp's snmpd in its own namespace, reached over a veth pair with
    198.19.x.y/30 and 2001:db8:ffx::/64 addresses (v2c and v3 authPriv users;
    the top of 198.18.0.0/15, away from what the lab allocates from its bottom)."""

    name: str
    work: Path
    subnet: int  # third octet / v6 group, unique per instance
    community: str = "yw-test-community"
    users: tuple[tuple[str, str, str, str, str], ...] = (
        # user, auth protocol, auth key, priv protocol, priv key
        ("ywsha", "SHA", "yw-auth-sha-1", "AES", "yw-priv-aes-1"),
        ("ywsha256", "SHA-256", "yw-auth-sha256-1", "AES-256", "yw-priv-aes256-1"),
    )
    pid: int | None = None

    @property
    def host_if(self) -> str:
        return f"{self.name[-9:]}h"

    @property
    def address4(self) -> str:
        return f"198.19.{self.subnet}.2"

    @property
    def address6(self) -> str:
        return f"2001:db8:ff{self.subnet:02x}::2"

    def start(self) -> NamespaceSnmpd:
        inner = f"{self.name[-9:]}n"
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", inner)
        run("ip", "link", "set", inner, "netns", self.name)
        run("ip", "addr", "add", f"198.19.{self.subnet}.1/30", "dev", self.host_if)
        run("ip", "-6", "addr", "add", f"2001:db8:ff{self.subnet:02x}::1/64", "dev", self.host_if,
            "nodad")  # fmt: skip
        run("ip", "link", "set", self.host_if, "up")
        inside = ("ip", "netns", "exec", self.name)
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "addr", "add", f"{self.address4}/30", "dev", inner)
        run(*inside, "ip", "-6", "addr", "add", f"{self.address6}/64", "dev", inner, "nodad")
        run(*inside, "ip", "link", "set", inner, "up")
        self.work.mkdir(parents=True, exist_ok=True)
        lines = [
            f"agentAddress udp:{self.address4}:161,udp6:[{self.address6}]:161",
            f"rocommunity {self.community} 198.19.{self.subnet}.0/30",
            f"rocommunity6 {self.community} 2001:db8:ff{self.subnet:02x}::/64",
        ]
        for user, auth, auth_key, priv, priv_key in self.users:
            lines.append(f'createUser {user} {auth} "{auth_key}" {priv} "{priv_key}"')
            lines.append(f"rouser {user} priv")
        config = self.work / "snmpd.conf"
        config.write_text("\n".join(lines) + "\n")
        pidfile = self.work / "snmpd.pid"
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(self.work / "persist"))
        subprocess.run(
            [*inside, "snmpd", "-C", "-c", str(config), "-Lf", str(self.work / "snmpd.log"),
             "-p", str(pidfile)],
            check=True, env=env,
        )  # fmt: skip
        pid = wait_until(
            lambda: pidfile.exists() and pidfile.read_text().strip(), 60, "snmpd's pid file"
        )
        self.pid = int(pid)
        wait_for_udp_agent(self.address4, 161, self.community)  # returns when it answers
        return self

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, 15)
            # snmpd saves its persistent state as it exits: wait, so the work
            # directory can be removed behind it (bench/snmp_hostile.py does).
            wait_until(lambda pid=self.pid: _exited(pid), 10, "snmpd to exit")
            self.pid = None
        subprocess.run(["ip", "link", "del", self.host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


def _exited(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever adopted the daemon to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
    except (OSError, IndexError):
        return True
