"""`yunwang validate FILE` and `yunwang show FILE`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from estate import Estate
from estate.model import LEVELS
from estate.units import format_bandwidth, format_duration
from yunwang.console import load_estate, out, print_json

EstateFile = Annotated[Path, typer.Argument(help="The estate YAML file.", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("show")(show)


def validate(file: EstateFile) -> None:
    """Check an estate file: shape, references, dual links, addresses. Exit 1 if invalid."""
    estate = load_estate(file)
    counts = Counter(n.level for n in estate.nodes())
    out.print(
        f"{file}: valid — {counts['county']} counties, {counts['township']} townships, "
        f"{counts['village']} villages, {len(estate.link_pairs())} dual links, "
        f"{len(estate.tenants)} tenants, {len(estate.systems())} systems",
        markup=False,
    )


def show(file: EstateFile, as_json: JsonFlag = False) -> None:
    """Summarise an estate: levels, dual links, tenants, zones and prefixes."""
    estate = load_estate(file)
    if as_json:
        print_json(summary(estate))
        return
    out.print(
        f"[bold]{estate.city.name}[/] ({estate.city.code}) — main site {estate.sites.main.region}, "
        f"DR centre {estate.sites.dr.region}"
    )
    out.print(_levels_table(estate))
    out.print(_pairs_table(estate))
    out.print(_tenants_table(estate))
    out.print(_zones_table(estate))
    out.print(_prefixes_table(estate))


def summary(estate: Estate) -> dict[str, Any]:
    counts = Counter(n.level for n in estate.nodes())
    return {
        "city": {"name": estate.city.name, "code": estate.city.code},
        "sites": {"main": estate.sites.main.region, "dr": estate.sites.dr.region},
        "levels": {
            level: {
                "nodes": counts[level],
                "links": len(estate.links(level=level)),
                "owed_bandwidth_bps": estate.owed.get(level),
            }
            for level in LEVELS
        },
        "link_pairs": [
            {
                "id": p.id,
                "level": p.primary.level,
                "county": p.primary.county,
                "primary": {
                    "parent": p.primary.parent,
                    "ipv4": str(p.primary.net4),
                    "ipv6": str(p.primary.net6),
                },
                "backup": {
                    "parent": p.backup.parent,
                    "ipv4": str(p.backup.net4),
                    "ipv6": str(p.backup.net6),
                },
                "bandwidth_bps": p.primary.bandwidth_bps,
            }
            for p in estate.link_pairs()
        ],
        "tenants": [
            {
                "code": t.code,
                "name": t.name,
                "systems": len(t.systems),
                "hosts": sum(len(s.hosts) for s in t.systems),
                "mlps3": sum(1 for s in t.systems if s.mlps_level == 3),
            }
            for t in estate.tenants
        ],
        "zones": [
            {
                "name": z.name,
                "kind": z.kind,
                "ipv4": str(z.prefix4 or ""),
                "ipv6": str(z.prefix6 or ""),
            }
            for z in estate.zones
        ],
        "isolation": [
            {"from": r.src, "to": r.dst, "allow": [str(s) for s in r.services]}
            for r in estate.isolation
        ],
        "prefixes": [
            {"kind": a.kind, "key": a.key, "ipv4": str(a.ipv4), "ipv6": str(a.ipv6)}
            for a in estate.prefixes()
            if a.kind in ("region", "zone", "tenant", "city", "county", "township")
        ],
        "dr_classes": {
            c.name: {"rpo_s": c.rpo_s, "rto_s": c.rto_s, "method": c.method}
            for c in estate.dr.classes.values()
        },
    }


def _levels_table(estate: Estate) -> Table:
    table = Table(title="Extranet levels")
    for col in ("level", "nodes", "links", "dual links", "owed bandwidth"):
        table.add_column(col, justify="right" if col != "level" else "left")
    for level in LEVELS:
        owed = estate.owed.get(level)
        table.add_row(
            level,
            str(len(estate.nodes(level=level))),
            str(len(estate.links(level=level))),
            str(len(estate.link_pairs(level=level))),
            format_bandwidth(owed) if owed else "—",
        )
    return table


def _pairs_table(estate: Estate, limit: int = 20) -> Table:
    pairs = estate.link_pairs()
    table = Table(
        title=f"Dual links (主备双链路), {len(pairs)} in all"
        + (f", first {limit}" if len(pairs) > limit else "")
    )
    for col in ("node", "level", "county", "primary → parent", "backup → parent", "owed"):
        table.add_column(col)
    for p in pairs[:limit]:
        table.add_row(
            f"{estate.node(p.node).name} ({p.node})",
            p.primary.level,
            p.primary.county or "",
            f"{p.primary.parent_end.device} {p.primary.parent_end.interface}",
            f"{p.backup.parent_end.device} {p.backup.parent_end.interface}",
            format_bandwidth(p.primary.bandwidth_bps),
        )
    return table


def _tenants_table(estate: Estate) -> Table:
    table = Table(title=f"Tenants, {len(estate.tenants)} departments")
    for col in ("code", "department", "systems", "MLPS 3", "hosts", "replicated"):
        table.add_column(col)
    for t in estate.tenants:
        table.add_row(
            t.code,
            t.name,
            str(len(t.systems)),
            str(sum(1 for s in t.systems if s.mlps_level == 3)),
            str(sum(len(s.hosts) for s in t.systems)),
            str(sum(1 for s in t.systems if s.dr_class)),
        )
    return table


def _zones_table(estate: Estate) -> Table:
    table = Table(title="Zones and isolation matrix (everything not listed is denied)")
    for col in ("zone", "kind", "IPv4", "IPv6", "may open to other zones"):
        table.add_column(col)
    for z in estate.zones:
        opens = [
            f"{r.dst}: {' '.join(str(s) for s in r.services)}"
            for r in estate.isolation
            if r.src in (z.name,)
        ]
        table.add_row(
            z.name,
            z.kind,
            str(z.prefix4 or "outside the plan"),
            str(z.prefix6 or ""),
            "\n".join(opens),
        )
    wild = [
        f"{r.src} → any: {' '.join(str(s) for s in r.services)}"
        for r in estate.isolation
        if r.dst == "*"
    ]
    if wild:
        table.caption = "; ".join(wild)
    drs = ", ".join(
        f"{c.name} RPO {format_duration(c.rpo_s)}/RTO {format_duration(c.rto_s)}"
        for c in estate.dr.classes.values()
    )
    if drs:
        table.caption = (table.caption + " | " if table.caption else "") + f"DR classes: {drs}"
    return table


def _prefixes_table(estate: Estate) -> Table:
    table = Table(
        title="Address plan (dual-stack; townships, villages and links are cut from these)"
    )
    for col in ("kind", "name", "IPv4", "IPv6"):
        table.add_column(col)
    names = {n.id: n.name for n in estate.nodes(level="county")}
    for alloc in estate.prefixes():
        if alloc.kind in ("region", "zone", "city", "county"):
            label = names.get(alloc.key, alloc.key)
            pinned = " (pinned)" if alloc.override else ""
            table.add_row(alloc.kind, f"{label}{pinned}", str(alloc.ipv4), str(alloc.ipv6))
    tenants = estate.prefixes("tenant")
    if tenants:
        table.caption = f"{len(tenants)} tenant networks (one per tenant and zone); yunwang show --json lists them"
    return table
