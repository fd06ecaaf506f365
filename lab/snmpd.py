"""net-snmp's snmpd in a router namespace: the agent the collectors poll.

v3 authPriv with the user and keys the estate's credential references; v2c
only when the estate allows it. snmpd is also the AgentX master (TCP on the
namespace's own 127.0.0.1:705) so FRR's OSPF-MIB rows appear in the same
agent as IF-MIB.

With a trap sink (the NMS) snmpd also sends, v3 authPriv with the same user:
IF-MIB linkDown/linkUp from its own monitor of ifOperStatus (every second:
`linkUpDownNotifications yes` checks once a minute and needs MIB files
Debian does not ship), coldStart when it starts, and whatever FRR's AgentX
subagents emit (ospfd/ospf6d neighbour and interface state changes).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from estate.schema import SnmpCredential
from estate.secrets import SecretMissing, resolve_snmp
from lab.blueprint import Router
from lab.errors import LabError
from lab.proc import spawn, start_time, wait_for
from lab.state import LabState, Process

AGENTX = "tcp:127.0.0.1:705"
TRAP_PORT = 162  # on the NMS namespace's own address: nothing else listens there
_AUTH = {
    "sha": "SHA",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
}
_PRIV = {"aes128": "AES", "aes192": "AES-192", "aes256": "AES-256"}


def render(
    credential: SnmpCredential,
    *,
    allow_v2c: bool,
    name: str,
    sys_name: str,
    defaults: Mapping[str, str] | None = None,
    trap_sink: str | None = None,
    trap_source: str | None = None,
) -> str:
    """`trap_sink` is "ADDRESS:PORT" of the NMS's receiver; `trap_source` the
    address notifications leave from (a device's management address)."""
    defaults = defaults or {}
    notify: list[str] = []
    try:
        if credential.version == 3:
            keys = resolve_snmp(credential, defaults)
            auth, priv = keys.auth_key, keys.priv_key
            if len(auth) < 8 or len(priv) < 8:
                raise LabError(f"SNMP credential {name}: v3 keys need at least 8 characters")
            access = [
                f'createUser {credential.user} {_AUTH[credential.auth_protocol]} "{auth}" '
                f'{_PRIV[credential.priv_protocol]} "{priv}"',
                f"rouser {credential.user} priv",
            ]
            if trap_sink is not None:
                notify = _notifications(
                    f"-v3 -u {credential.user} -l authPriv -a {_AUTH[credential.auth_protocol]} "
                    f'-A "{auth}" -x {_PRIV[credential.priv_protocol]} -X "{priv}"',
                    True,
                    trap_sink,
                    trap_source,
                )
        else:
            if not allow_v2c:
                raise LabError(
                    f"SNMP credential {name} is v2c but the estate does not allow v2c "
                    "(monitoring.allow_v2c)"
                )
            community = resolve_snmp(credential, defaults).community
            access = [f"rocommunity {community} default", f"rocommunity6 {community} default"]
            if trap_sink is not None:
                notify = _notifications(f'-v 2c -c "{community}"', False, trap_sink, trap_source)
    except SecretMissing as exc:
        raise LabError(f"SNMP credential {name}: {exc}") from exc
    return "\n".join(
        [
            "agentAddress udp:161,udp6:161",
            "master agentx",
            f"agentXSocket {AGENTX}",
            "agentXTimeout 2",
            f"sysName {sys_name}",
            "sysLocation yunwang lab",
            "sysServices 72",
            *access,
            *notify,
            "",
        ]
    )


# IF-MIB ifIndex, ifAdminStatus, ifOperStatus; SNMPv2-MIB linkDown, linkUp.
_IF_COLUMNS = ".1.3.6.1.2.1.2.2.1.1 .1.3.6.1.2.1.2.2.1.7 .1.3.6.1.2.1.2.2.1.8"
_OPER_STATUS = ".1.3.6.1.2.1.2.2.1.8"


def _notifications(session: str, v3: bool, sink: str, source: str | None) -> list[str]:
    # `[snmp]` hands a client-library token to the agent: notifications leave
    # from the device's management address, as `snmp-server trap-source` does.
    lines = [f"[snmp] clientaddr {source}"] if source else []
    # Traps, not informs (`-Ci`): net-snmp sends one session's informs one
    # after another, so a burst (a router converging) queues for seconds.
    lines.append(f"trapsess {session} udp:{sink}")
    if not v3:
        return lines  # the monitor's internal queries need SNMPv3
    return [
        *lines,
        # The agent's monitor reads ifOperStatus through internal queries,
        # which net-snmp cannot make authPriv: a user of their own, with a
        # random key nobody else holds, read-only and authNoPriv.
        f'createUser yw-monitor SHA-256 "{secrets.token_hex(16)}"',
        "rouser yw-monitor auth",
        "iquerySecName yw-monitor",
        "iqueryVersion 3",
        "iquerySecLevel authNoPriv",
        f"notificationEvent ywLinkDown .1.3.6.1.6.3.1.1.5.3 {_IF_COLUMNS}",
        f"notificationEvent ywLinkUp .1.3.6.1.6.3.1.1.5.4 {_IF_COLUMNS}",
        f'monitor -r 1 -s -e ywLinkDown "linkDown" {_OPER_STATUS} == 2',
        f'monitor -r 1 -s -e ywLinkUp "linkUp" {_OPER_STATUS} != 2',
    ]


def agentx_client_conf(directory: Path) -> Path:
    """The file FRR's AgentX subagents read (through SNMPCONFPATH)."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "frr.conf"
    conf.write_text(f"agentXSocket {AGENTX}\n")
    return conf


def start(router: Router, state: LabState, *, workdir: Path, config: str) -> int:
    persistent = workdir / "snmp-persist"
    persistent.mkdir(parents=True, exist_ok=True)
    conf = workdir / "snmpd.conf"
    conf.unlink(missing_ok=True)
    # Holds the resolved v3 keys: readable by root only from the first byte.
    with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(config)
    pid_file = workdir / "snmpd.pid"
    pid_file.unlink(missing_ok=True)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persistent)}
    pid = spawn(
        [
            "ip",
            "netns",
            "exec",
            router.namespace,
            "snmpd",
            "-f",
            "-C",
            "-c",
            str(conf),
            "-u",
            "root",
            "-p",
            str(pid_file),
            "-Lf",
            str(workdir / "snmpd.log"),
        ],
        log=workdir / "snmpd.out",
        env=env,
    )
    state.add_process(Process(pid, start_time(pid), "snmpd", router.namespace))
    wait_for(pid_file, timeout_s=15, what=f"{router.node} snmpd")
    return pid
