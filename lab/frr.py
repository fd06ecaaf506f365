"""FRR in a namespace: one zebra/bfdd/ospfd/ospf6d set per router.

Follows TESTBED.md: FRR's pathspace (`-N NAME`) keeps each router's sockets
and pid files under /var/run/frr/NAME; zebra must have made zserv.api before
the protocol daemons start; the whole configuration goes in with one
`vtysh -f`. `-M snmp` plus `agentx` in the config lets snmpd (the AgentX
master in the same namespace) serve OSPF-MIB and OSPFV3-MIB.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from estate.routing import Bfd, OspfInterface, RouterRouting, render_frr, with_bfd
from lab.blueprint import LabPlan, Router
from lab.errors import LabError
from lab.proc import run, start_time, wait_for
from lab.state import LabState, Process

FRR_BIN = Path("/usr/lib/frr")
FRR_RUN = Path("/var/run/frr")
DAEMONS = ("zebra", "bfdd", "ospfd", "ospf6d")
_SNMP_DAEMONS = {"zebra", "ospfd", "ospf6d"}


def pathspace(router: Router) -> str:
    return router.namespace


def bfd_timers(plan: LabPlan) -> dict[str, Bfd]:
    """Link id -> the BFD timers it runs: the estate's, or the lab's --bfd-ms
    interval (the estate's multiplier) when the lab was started with one."""
    return {
        c.link: Bfd(c.bfd_interval_ms if plan.bfd_ms is None else plan.bfd_ms, c.bfd_multiplier)
        for c in plan.cables
        if c.bfd
    }


def routing(router: Router, *, bfd_links: dict[str, Bfd], ospf6: bool = True) -> RouterRouting:
    """The router's routing as the estate derives it, on the lab's interfaces."""
    return with_bfd(
        router.node,
        router.router_id,
        [
            OspfInterface(
                i.name,
                i.cost,
                bfd=i.link in bfd_links and i.cost is not None,
                link=i.link,
                role=i.role,
            )
            for i in router.interfaces
        ],
        bfd_links,
        ospf6=ospf6,
    )


def preamble(router: Router) -> tuple[str, ...]:
    """The lines of a lab router's configuration that are not routing."""
    return (f"log file {FRR_RUN / pathspace(router) / 'frr.log'} informational", "agentx")


def render(router: Router, *, routing: RouterRouting | None) -> str:
    """The router's whole configuration; `routing` None: interfaces only (the
    rollout gives it routing later)."""
    return render_frr(
        routing or RouterRouting(router.node, router.router_id, ()),
        hostname=router.node,
        preamble=preamble(router),
    )


def start(
    router: Router, state: LabState, *, workdir: Path, agentx_conf: Path, config: str
) -> None:
    """Start the daemons in the router's namespace and load its configuration."""
    run_dir = prepare_run_dir(router, state)
    # FRR's SNMP module reads its AgentX target from SNMPCONFPATH: a file of
    # our own instead of /etc/snmp, so the machine's snmp config is untouched.
    env = {**os.environ, "SNMPCONFPATH": str(agentx_conf.parent)}
    for daemon in DAEMONS:
        argv = [
            "ip",
            "netns",
            "exec",
            router.namespace,
            str(FRR_BIN / daemon),
            "-d",
            "-N",
            pathspace(router),
            "-f",
            "/dev/null",
            "-P",
            "0",
        ]
        if daemon in _SNMP_DAEMONS:
            argv += ["-M", "snmp"]
        run(argv, env=env)
        pid_file = run_dir / f"{daemon}.pid"
        wait_for(pid_file, timeout_s=15, what=f"{router.node} {daemon}")
        pid = int(pid_file.read_text().strip())
        state.add_process(Process(pid, start_time(pid), f"frr:{daemon}", router.namespace))
        if daemon == "zebra":
            wait_for(run_dir / "zserv.api", timeout_s=15, what=f"{router.node} zebra")
    for daemon in DAEMONS[1:]:
        wait_for(run_dir / f"{daemon}.vty", timeout_s=15, what=f"{router.node} {daemon} vty")
    conf = workdir / "frr.conf"
    conf.write_text(config)
    done = run(["vtysh", "-N", pathspace(router), "-f", str(conf)], check=False)
    if done.returncode != 0:
        detail = [
            line
            for line in (done.stdout + done.stderr).strip().splitlines()
            if not line.startswith("% Can't open configuration file")
        ]
        raise LabError(f"{router.node}: FRR refused its configuration: {' / '.join(detail[-2:])}")


def prepare_run_dir(router: Router, state: LabState) -> Path:
    run_dir = FRR_RUN / pathspace(router)
    state.add_dir(str(run_dir))
    # The pathspace name is this lab's own: stale pid files or sockets from a
    # lab whose record was lost would make the daemons refuse to start.
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    os.chown(run_dir, *_frr_ids())
    return run_dir


def vtysh(router: Router, command: str) -> str:
    return run(["vtysh", "-N", pathspace(router), "-c", command]).stdout


def _frr_ids() -> tuple[int, int]:
    import grp
    import pwd

    try:
        return pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
    except KeyError as exc:
        raise LabError("FRR is not installed (no frr user): run ci/setup.d/20-lab.sh") from exc
