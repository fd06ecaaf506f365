"""`yunwang dashboards ESTATE OUTDIR`: Prometheus rules and scrape config, Alertmanager
config and Grafana dashboards generated from the estate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from dashboards.alertmanager import config as alertmanager_config
from dashboards.grafana import dashboards as grafana_dashboards
from dashboards.prometheus import rules, scrape_config
from yunwang.console import EXIT_USAGE, fail, load_estate, out

CENTRAL_PORT = 9464  # `yunwang watch`'s default metrics port


def register(app: typer.Typer) -> None:
    app.command("dashboards")(dashboards)


def dashboards(
    file: Annotated[Path, typer.Argument(help="The estate.")],
    outdir: Annotated[Path, typer.Argument(help="Where to write the files.")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="SHARD=HOST:PORT to scrape: 'central' or a county id (repeatable; "
            f"default central=127.0.0.1:{CENTRAL_PORT}, county N at port {CENTRAL_PORT}+N).",
        ),
    ] = None,
    webhook: Annotated[
        str, typer.Option(help="Base URL Alertmanager posts to (+ /RECEIVER).")
    ] = "http://127.0.0.1:9095/alerts",
    alertmanager: Annotated[
        str, typer.Option(help="HOST:PORT of Alertmanager.")
    ] = "127.0.0.1:9093",
) -> None:
    """Write yunwang-rules.yml, prometheus.yml, alertmanager.yml and grafana/*.json."""
    estate = load_estate(file)
    counties = [c.id for c in estate.nodes(level="county")]
    targets = {"central": f"127.0.0.1:{CENTRAL_PORT}"} | {
        c: f"127.0.0.1:{CENTRAL_PORT + i}" for i, c in enumerate(counties, start=1)
    }
    for item in target or []:
        shard, sep, address = item.partition("=")
        if not sep or not address or shard not in ("central", *counties):
            fail(
                f"--target {item!r}: expected SHARD=HOST:PORT with SHARD central or one of {', '.join(counties)}",
                EXIT_USAGE,
            )
        targets[shard] = address
    try:
        (outdir / "grafana").mkdir(parents=True, exist_ok=True)
        written = {
            "yunwang-rules.yml": _yaml(rules(estate)),
            "prometheus.yml": _yaml(scrape_config(estate, targets, alertmanager=alertmanager)),
            "alertmanager.yml": _yaml(alertmanager_config(estate, webhook)),
        }
        for name, board in grafana_dashboards(estate).items():
            written[f"grafana/{name}.json"] = json.dumps(board, ensure_ascii=False, indent=2)
        for name, text in written.items():
            (outdir / name).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"{outdir}: {exc}")
    for name in written:
        out.print(str(outdir / name), markup=False)


def _yaml(doc: object) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
