"""Lab hosts: a Debian userland with sshd, in its own network namespace.

Each host mounts an overlay (the cached rootfs below, its own upper dir
above) inside a private mount namespace made by `unshare`, so nothing is
mounted on the machine itself and the mounts vanish with the host's process.
`--kill-child` ties the host's PID 1 (a shell keeping sshd running) to the
unshare process the lab records: stopping that one pid stops the whole host.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from lab.blueprint import HostPlan
from lab.errors import LabError
from lab.proc import run, spawn, start_time
from lab.rootfs import OPERATOR
from lab.state import LabState, Process

_BOOT = """set -e
root={root}
mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666,mode=0620
mount -t tmpfs tmpfs "$root/run"
mkdir -p "$root/run/sshd"
echo {hostname} > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost\n' {hostname} > "$root/etc/hosts"
hostname {hostname}
for user_home in root home/{operator}; do
    mkdir -p "$root/$user_home/.ssh"
    cp {pubkey} "$root/$user_home/.ssh/authorized_keys"
    chmod 700 "$root/$user_home/.ssh"; chmod 600 "$root/$user_home/.ssh/authorized_keys"
done
chroot "$root" chown -R {operator}:{operator} /home/{operator}/.ssh
[ -f "$root/etc/ssh/ssh_host_ed25519_key" ] || \\
    chroot "$root" ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
# This shell stays PID 1 and brings sshd back if a playbook restarts it
# (`service ssh restart` stops the pid in /run/sshd.pid, which would otherwise
# be PID 1 and take the whole host down).
trap 'exit 0' TERM
while :; do
    chroot "$root" /usr/sbin/sshd -D -e || true
    sleep 1
done
"""


def lab_key(directory: Path) -> Path:
    """The lab's ssh key pair (made once per lab directory)."""
    key = directory / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "yunwang-lab", "-f", str(key)])
    return key


def configure_network(host: HostPlan, *, ipv6: bool = True) -> list[str]:
    """`ip -batch` lines for the host's own namespace. Without `ipv6` the host
    starts IPv4-only (its planned IPv6 address and gateway stay in the plan):
    the starting point of an IPv6 migration rehearsal."""
    lines = [
        f"addr add {host.address4} dev eth0",
        "link set eth0 up",
        f"route add default via {host.gateway4}",
    ]
    if ipv6:
        lines += [f"addr add {host.address6} dev eth0 nodad", f"route add ::/0 via {host.gateway6}"]
    return lines


def start(host: HostPlan, state: LabState, *, rootfs: Path, directory: Path, pubkey: Path) -> int:
    base = directory / "hosts" / host.name
    for sub in ("upper", "work", "root"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    state.add_dir(str(base))
    script = _BOOT.format(
        root=shlex.quote(str(base / "root")),
        lower=shlex.quote(str(rootfs)),
        upper=shlex.quote(str(base / "upper")),
        work=shlex.quote(str(base / "work")),
        hostname=shlex.quote(host.name[:63]),
        operator=OPERATOR,
        pubkey=shlex.quote(str(pubkey)),
    )
    pid = spawn(
        [
            "ip",
            "netns",
            "exec",
            host.namespace,
            "unshare",
            "--uts",
            "--ipc",
            "--pid",
            "--mount",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        ],
        log=base / "sshd.log",
    )
    state.add_process(Process(pid, start_time(pid), "host", host.namespace))
    return pid


def wait_ssh(host: HostPlan, timeout_s: float = 20.0) -> None:
    """sshd listens once port 22 is open inside the host's namespace."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = run(
            ["ip", "netns", "exec", host.namespace, "ss", "-Hltn", "sport", "= :22"], check=False
        )
        if done.stdout.strip():
            return
        time.sleep(0.05)
    raise LabError(f"host {host.name}: sshd did not start (see its sshd.log in the lab dir)")
