"""The live view of `yunwang watch`: posture by county, open warnings by level, link pairs."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from security.levels import CHINESE, GRADE, LEVELS
from yunwang.watch_job import Summary

LEVEL_STYLE = {
    "red": "bold red",
    "orange": "bold dark_orange",
    "yellow": "bold yellow",
    "blue": "bold blue",
}
PAIR_STYLE = {"normal": "green", "failover": "dark_orange", "isolated": "bold red", "flapping": "yellow",
              "degraded": "yellow", "unknown": "dim"}  # fmt: skip


def render(summary: Summary, names: dict[str, str]) -> RenderableType:
    return Group(
        _header(summary),
        _levels(summary),
        _warnings(summary),
        _posture(summary, names),
        _pairs(summary, names),
    )


def _header(s: Summary) -> RenderableType:
    devices = ", ".join(f"{n} {state}" for state, n in sorted(s.devices.items())) or "polling…"
    text = Text.assemble(
        ("yunwang watch ", "bold"),
        f"{s.estate} ({s.mode}) · cycle {s.cycles} · devices: {devices}",
        f" · packets seen {s.sensor.get('seen', 0)}" if s.sensor else "",
        f"\nmetrics {s.metrics_url}" if s.metrics_url else "",
        "   Ctrl-C to stop",
    )
    return Panel(text, expand=True)


def _levels(s: Summary) -> RenderableType:
    table = Table(title="Open warnings by level", expand=False)
    for level in LEVELS:
        table.add_column(
            f"{level} {GRADE[level]} {CHINESE[level]}", justify="center", style=LEVEL_STYLE[level]
        )
    counts = {level: sum(1 for w in s.warnings if w["level"] == level) for level in LEVELS}
    table.add_row(*(str(counts[level]) for level in LEVELS))
    return table


def _warnings(s: Summary, limit: int = 12) -> RenderableType:
    table = Table(title=f"Warnings ({len(s.warnings)} open)", expand=True)
    for col in ("level", "id", "rule", "summary", "seen", "age", "status"):
        table.add_column(col)
    order = {level: i for i, level in enumerate(LEVELS)}
    for w in sorted(s.warnings, key=lambda w: (order[w["level"]], -w["count"]))[:limit]:
        table.add_row(
            Text(w["level"], style=LEVEL_STYLE[w["level"]]),
            w["id"],
            w["rule"],
            w["summary"],
            str(w["count"]),
            f"{w['age_s']}s",
            w["status"],
        )
    return table


def _posture(s: Summary, names: dict[str, str]) -> RenderableType:
    table = Table(title="Posture (100 = nothing takes it down; yunwang posture --explain NAME)")
    for col in ("scope", "name", "score", "compliance", "warnings", "links", "dr"):
        table.add_column(col)
    for p in s.posture:
        if p["kind"] not in ("city", "county"):
            continue
        score = p["score"]
        style = "green" if score >= 90 else "yellow" if score >= 70 else "red"
        parts = [
            ("—" if p["components"].get(k) is None else f"{p['components'][k]:.2f}")
            for k in ("compliance", "warnings", "links", "dr")
        ]
        table.add_row(
            p["kind"], names.get(p["name"], p["name"]), Text(f"{score:.1f}", style=style), *parts
        )
    return table


def _pairs(s: Summary, names: dict[str, str]) -> RenderableType:
    table = Table(title="Dual links (主备双链路)")
    for col in ("pair", "level", "county", "state", "why"):
        table.add_column(col)
    for p in s.pairs:
        table.add_row(
            f"{names.get(p['pair'], p['pair'])} ({p['pair']})",
            p["level"],
            p["county"] or "",
            Text(p["state"], style=PAIR_STYLE.get(p["state"], "")),
            p["reason"],
        )
    return table
