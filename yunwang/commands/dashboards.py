"""`yunwang dashboards ESTATE OUTDIR`: Prometheus rules and scrape config, Alertmanager
config and Grafana dashboards generated from the estate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

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
        if not sep or _host_port(address) is None or shard not in ("central", *counties):
            fail(
                f"--target {item!r}: expected SHARD=HOST:PORT with SHARD central or one of {', '.join(counties)}",
                EXIT_USAGE,
            )
        targets[shard] = address
    if _host_port(alertmanager) is None:
        fail(f"--alertmanager {alertmanager!r}: expected HOST:PORT", EXIT_USAGE)
    hook = urlsplit(webhook)
    if hook.scheme not in ("http", "https") or not hook.hostname:
        fail(f"--webhook {webhook!r}: expected an http:// or https:// URL", EXIT_USAGE)
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


def _host_port(text: str) -> tuple[str, int] | None:
    """(host, port) of `HOST:PORT` or `[V6]:PORT`, as Prometheus takes a target."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # an IPv6 address without brackets is ambiguous
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if not all(c.isalnum() or c in ".-_:" for c in host):
        return None
    return host, int(port)


def _yaml(doc: object) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
