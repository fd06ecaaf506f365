"""`yunwang lab`: rehearse a slice of the estate in network namespaces."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from lab import Lab, LabError
from lab.chaos import parse_rate
from lab.status import LabStatus

lab_app = typer.Typer(
    name="lab",
    help="Build, break and tear down a lab of the estate (routers, dual links, hosts, agents).",
    no_args_is_help=True,
)
_out = Console()
_err = Console(stderr=True, soft_wrap=True)


def _directory(value: Path | None) -> Path | None:
    # Checked here so a file given as --dir is one usage line, not a traceback from mkdir.
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is not a directory")
    return value


Dir = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Lab directory (default $YUNWANG_HOME/lab).",
        show_default=False,
        callback=_directory,
    ),
]


def _audit(action: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
    from security.audit import record

    try:
        record(action=action, target=target, outcome=outcome, detail=detail)  # type: ignore[arg-type]
    except OSError as exc:
        _err.print(f"warning: audit trail not written: {exc}", markup=False, highlight=False)


def _fail(action: str, target: str, exc: LabError) -> typer.Exit:
    _err.print(f"error: {exc}", markup=False, highlight=False)
    _audit(action, target, "failure", {"error": str(exc)})
    return typer.Exit(1)


@lab_app.command("up")
def up_cmd(
    estate: Annotated[Path, typer.Argument(help="The estate YAML file.")],
    counties: Annotated[int, typer.Option(help="Counties to build.")] = 2,
    townships: Annotated[int, typer.Option(help="Townships per county.")] = 1,
    villages: Annotated[int, typer.Option(help="Villages per township.")] = 1,
    hosts: Annotated[int, typer.Option(help="Hosts (sshd) in all.")] = 4,
    bfd_ms: Annotated[
        int | None,
        typer.Option(
            "--bfd-ms",
            help="BFD interval on every dual link instead of the estate's "
            "(extranet.dual_links.bfd); 100 measures failover fast.",
        ),
    ] = None,
    host_ipv6: Annotated[
        bool,
        typer.Option("--host-ipv6/--no-host-ipv6", help="Hosts start dual-stack or IPv4-only."),
    ] = True,
    routing: Annotated[
        bool,
        typer.Option(
            "--routing/--no-routing",
            help="Routers start with OSPF and BFD, or with addresses only "
            "(`yunwang rollout dual-links` gives them routing).",
        ),
    ] = True,
    router_ipv6: Annotated[
        bool,
        typer.Option(
            "--router-ipv6/--no-router-ipv6",
            help="Routers start dual-stack, or IPv4-only on their LANs without OSPFv3 "
            "(`yunwang migrate ipv6` gives them IPv6; hosts start IPv4-only too).",
        ),
    ] = True,
    directory: Dir = None,
    dr_hosts: Annotated[
        int, typer.Option("--dr-hosts", help="Hosts in the DR centre, a site of its own.")
    ] = 0,
) -> None:
    """Build the slice: FRR routers, veth dual links, snmpd agents, Debian hosts."""
    started = time.monotonic()
    try:
        with _err.status(f"building the lab from {estate} (routers, links, agents, hosts)..."):
            lab = Lab.up(
                estate,
                directory=directory,
                counties=counties,
                townships=townships,
                villages=villages,
                hosts=hosts,
                bfd_ms=bfd_ms,
                hosts_ipv6=host_ipv6,
                routing=routing,
                routers_ipv6=router_ipv6,
                dr_hosts=dr_hosts,
            )
        plan = lab.plan
    except LabError as exc:
        raise _fail("lab.up", str(estate), exc) from None
    except KeyboardInterrupt:
        # `up` has already taken down what it had built.
        _err.print("interrupted: nothing of the lab was left behind")
        _audit("lab.up", str(estate), "failure", {"error": "interrupted"})
        raise typer.Exit(130) from None
    detail = {
        "routers": len(plan.routers),
        "links": len(plan.cables),
        "hosts": len(plan.hosts),
        "seconds": round(time.monotonic() - started, 1),
        "slice": plan.slice,
        "routing": plan.routing,
    }
    _audit("lab.up", str(estate), "success", detail)
    _out.print(
        f"lab up in {detail['seconds']} s: {detail['routers']} routers, "
        f"{detail['links']} links, {detail['hosts']} hosts ({lab.directory})"
    )


@lab_app.command("down")
def down_cmd(directory: Dir = None) -> None:
    """Remove everything the lab made (idempotent, also after a crash)."""
    lab = Lab(directory)
    started = time.monotonic()
    try:
        lab.down()
    except LabError as exc:
        raise _fail("lab.down", str(lab.directory), exc) from None
    _audit(
        "lab.down", str(lab.directory), "success", {"seconds": round(time.monotonic() - started, 1)}
    )
    _out.print(f"lab down ({lab.directory})")


@lab_app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    directory: Dir = None,
) -> None:
    """Routers and their agents, links and their state, hosts."""
    try:
        report = Lab(directory).status()
    except LabError as exc:
        _err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
        return
    _print_status(report)


def _table(title: str, *columns: str) -> Table:
    # Fold rather than cut: node ids and IPv6 addresses must stay readable
    # in an 80-column terminal or a CI log.
    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _print_status(report: LabStatus) -> None:
    if not report.routers:
        _out.print(f"no lab is up ({report.directory})")
        return
    _out.print(f"lab {report.phase}: {report.estate} ({report.directory})")
    routers = _table(
        "routers", "node", "level", "FRR", "snmpd", "OSPF full", "OSPFv3 full", "SNMP address"
    )
    for r in report.routers:
        routers.add_row(
            r.node,
            r.level,
            r.daemons,
            "up" if r.snmpd else "DOWN",
            str(r.ospf_full),
            str(r.ospf6_full),
            r.snmp_address,
        )
    links = _table("links", "link", "role", "level", "child end", "parent end", "state")
    for lk in report.links:
        style = "" if lk.state == "up" else "bold red"
        links.add_row(
            lk.link,
            lk.role,
            lk.level,
            lk.child_end,
            lk.parent_end,
            f"[{style}]{lk.state}[/]" if style else lk.state,
        )
    hosts = _table("hosts", "host", "segment", "IPv4", "IPv6", "sshd")
    for h in report.hosts:
        hosts.add_row(h.name, h.segment, h.address4, h.address6, "up" if h.sshd else "DOWN")
    for table in (routers, links, hosts):
        _out.print(table)


def _chaos(action: str, target: str, directory: Path | None, work: Any) -> None:
    lab = Lab(directory)
    try:
        message = work(lab)
    except LabError as exc:
        raise _fail(f"lab.{action}", target, exc) from None
    _audit(f"lab.{action}", target, "success", {"lab": str(lab.directory)})
    _out.print(message)


@lab_app.command("cut")
def cut_cmd(link: str, directory: Dir = None) -> None:
    """Take a link down (both ends report ifOperStatus down); hl/primary or 华龙区/primary."""
    _chaos("cut", link, directory, lambda lab: (lab.cut(lab.named(link)), f"{link}: cut")[1])


@lab_app.command("blackhole")
def blackhole_cmd(link: str, directory: Dir = None) -> None:
    """Silent failure: the link stays up and drops everything."""
    _chaos(
        "blackhole",
        link,
        directory,
        lambda lab: (lab.blackhole(lab.named(link)), f"{link}: blackholed")[1],
    )


@lab_app.command("throttle")
def throttle_cmd(
    link: str,
    rate: Annotated[str | None, typer.Option(help="e.g. 50Mbit/s (default: half the owed)")] = None,
    directory: Dir = None,
) -> None:
    """Cap a link's rate (htb), below what the estate says it is owed."""

    def work(lab: Lab) -> str:
        bps = lab.throttle(lab.named(link), parse_rate(rate) if rate else None)
        return f"{link}: throttled to {bps / 1e6:g} Mbit/s"

    _chaos("throttle", link, directory, work)


@lab_app.command("partition")
def partition_cmd(node: str, directory: Dir = None) -> None:
    """Cut every link of a node (its code or its name: hl or 华龙区)."""
    _chaos(
        "partition",
        node,
        directory,
        lambda lab: (lab.partition(lab.named(node)), f"{node}: partitioned")[1],
    )


@lab_app.command("restore")
def restore_cmd(
    target: Annotated[
        str | None, typer.Argument(help="A link, a node, or nothing for all.")
    ] = None,
    directory: Dir = None,
) -> None:
    """Undo cut/blackhole/throttle/partition on a link, a node, or everything."""
    what = target or "all links"
    _chaos(
        "restore",
        what,
        directory,
        lambda lab: (lab.restore(lab.named(target) if target else None), f"{what}: restored")[1],
    )


@lab_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def exec_cmd(
    ctx: typer.Context,
    node: Annotated[
        str, typer.Argument(help="Router node id or name (hl, 华龙区), host name, or 'nms'.")
    ],
    directory: Dir = None,
) -> None:
    """Run a command in a node's namespace: yunwang lab exec hl -- ping -c1 198.18.0.10"""
    if not ctx.args:
        _err.print("error: no command given (yunwang lab exec NODE -- COMMAND...)")
        raise typer.Exit(2)
    lab = Lab(directory)
    try:
        done = lab.run(lab.named(node), list(ctx.args), check=False, timeout=3600)
    except LabError as exc:
        raise _fail("lab.exec", node, exc) from None
    _audit(
        "lab.exec",
        node,
        "success" if done.returncode == 0 else "failure",
        {"lab": str(lab.directory), "command": list(ctx.args), "exit": done.returncode},
    )
    typer.echo(done.stdout, nl=False)
    typer.echo(done.stderr, nl=False, err=True)
    raise typer.Exit(done.returncode)


@lab_app.command("inventory")
def inventory_cmd(
    family: Annotated[int, typer.Option(help="Address family Ansible connects over (4|6).")] = 4,
    user: Annotated[str, typer.Option(help="Login user (yunwang has sudo; or root).")] = "yunwang",
    directory: Dir = None,
) -> None:
    """Print an Ansible inventory (YAML) of the lab's hosts, usable from this machine."""
    if family not in (4, 6):
        _err.print("error: --family: expected 4 or 6")
        raise typer.Exit(2)
    try:
        inventory = Lab(directory).ansible_inventory(family=family, user=user)
    except LabError as exc:
        _err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    typer.echo(yaml.safe_dump(inventory, sort_keys=False, allow_unicode=True), nl=False)


@lab_app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="A lab host's name.")],
    user: Annotated[str, typer.Option(help="Login user.")] = "root",
    family: Annotated[int, typer.Option(help="4 or 6.")] = 4,
    directory: Dir = None,
) -> None:
    """ssh into a lab host with the lab key: yunwang lab ssh jwzh-app-1 [-- COMMAND]"""
    lab = Lab(directory)
    try:
        argv = lab.ssh_argv(host, user=user, family=family)
    except LabError as exc:
        raise _fail("lab.ssh", host, exc) from None
    _audit("lab.ssh", host, "success", {"lab": str(lab.directory), "user": user})
    os.execvp(argv[0], [*argv, *ctx.args])


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
