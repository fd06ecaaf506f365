"""`yunwang rollout dual-links`: routing for the dual links, level by level.

    yunwang rollout dual-links examples/small.yaml --lab --check
    yunwang rollout dual-links examples/small.yaml --lab --level county --batch 2
    yunwang rollout dual-links examples/small.yaml --limit hl

From the city down, in batches; after each batch the routers themselves say
whether both links are Full, BFD is up and the primary is preferred. The
first batch that fails stops the rollout (exit 1) with node, link and what
was seen. Every batch is in the audit trail; `yunwang.rollout` events go to
the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from estate import UnknownName
from security.audit import current_actor
from yunwang.commands._batches import print_not_run, report_json, run_summary, say
from yunwang.commands._security import JsonFlag, StoreOption, grade_and_store
from yunwang.console import EXIT_INVALID, EXIT_USAGE, err, fail, load_estate, out, print_json

if TYPE_CHECKING:
    from estate import Estate
    from playbooks.dual_links import RouterTarget
    from playbooks.rollout import BatchResult, RolloutReport

rollout_app = typer.Typer(help="Roll routing changes out to the extranet's routers.")


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")


@rollout_app.command("dual-links")
def dual_links(
    estate_file: Annotated[Path, typer.Argument(metavar="ESTATE", help="The estate YAML")],
    level: Annotated[
        str | None, typer.Option("--level", help="Only this level: city, county or township")
    ] = None,
    limit: Annotated[
        list[str] | None, typer.Option("--limit", help="Only this router (node id, repeatable)")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Routers per batch (1-100)")] = 4,
    check: Annotated[
        bool, typer.Option("--check", help="Render and diff only: change nothing")
    ] = False,
    settle_s: Annotated[
        float, typer.Option("--settle", help="Seconds a batch has to become healthy (5-600)")
    ] = 45.0,
    lab: Annotated[
        bool, typer.Option("--lab", help="Target the lab's routers (yunwang lab up)")
    ] = False,
    lab_dir: Annotated[Path | None, typer.Option("--lab-dir", help="Lab directory")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """OSPFv2/OSPFv3 and BFD on the primary/backup links, city -> county -> township."""
    from playbooks.dual_links import RolloutError, batches, estate_targets, lab_targets
    from playbooks.rollout import rollout
    from playbooks.runner import RunError
    from security.audit import record

    if not 5 <= settle_s <= 600:
        fail(f"--settle {settle_s:g}: expected 5 to 600 seconds", EXIT_USAGE)
    estate = load_estate(estate_file)
    the_lab = None
    try:
        if lab or lab_dir is not None:
            from lab.errors import LabError
            from lab.lab import Lab

            try:
                the_lab = Lab(lab_dir)
                targets = lab_targets(the_lab)
            except LabError as exc:
                fail(f"--lab: {exc}")
        else:
            targets = estate_targets(estate)
        targets, migrated = _with_migration(targets, estate, estate_file, the_lab)
        named = [_router_id(estate, name) for name in limit or []]
        plan = batches(targets, level=level, limit=named, size=batch)
    except RolloutError as exc:
        fail(str(exc), EXIT_USAGE)
    if not plan:
        fail(f"{estate_file}: no router to roll out to")
    mode = "check" if check else "apply"
    detail = {
        "estate": str(estate_file),
        "mode": mode,
        "level": level,
        "batches": [[t.node for t in b] for b in plan],
        "ipv6_migrated": migrated,
    }
    who = current_actor()
    routers = sum(len(b) for b in plan)
    # Progress goes to stderr whatever the output: stdout stays the table or the JSON.
    show = _Progress(routers)

    def progress(text: str, done: BatchResult | None) -> None:
        show.say(text, done)
        if done is not None:
            record(
                f"rollout.dual-links.{mode}.batch",
                str(estate_file),
                "success" if done.ok else "failure",
                _batch_detail(done),
                actor=who,
            )

    try:
        report = rollout(targets, plan, check=check, settle_s=settle_s, progress=progress)
    except RunError as exc:
        record(
            f"rollout.dual-links.{mode}",
            str(estate_file),
            "failure",
            {**detail, "error": str(exc)},
            actor=who,
        )
        fail(str(exc))
    finally:
        show.close()
    stored = _store(report, str(estate_file), estate, store)
    failed = report.failed()
    record(
        f"rollout.dual-links.{mode}",
        str(estate_file),
        "success" if report.ok else "failure",
        detail | run_summary(report, stored),
        actor=who,
    )
    if as_json:
        print_json(report_json(report, _batch_detail, mode=report.mode))
    else:
        _print(report)
    if failed is not None:
        err.print(f"rollout stopped at batch {failed.index}: {failed.failure()}", markup=False)
        raise typer.Exit(EXIT_INVALID)


class _Progress:
    """A bar on a terminal; timestamped lines when stderr is a pipe or a log."""

    def __init__(self, routers: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar: Progress | None = None
        if err.is_terminal:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} routers"),
                TimeElapsedColumn(),
                console=err,
            )
            self.task = self.bar.add_task("rollout", total=routers)
            self.bar.start()

    def say(self, text: str, done: BatchResult | None) -> None:
        if self.bar is not None:
            self.bar.update(
                self.task, description=text[:60], advance=len(done.routers) if done else 0
            )
            return
        say(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _batch_detail(done: BatchResult) -> dict[str, object]:
    return {
        "batch": done.index,
        "level": done.level,
        "routers": {
            n: {
                "changed": o.changed,
                "reloaded": o.reloaded,
                "pending_lines": len(o.pending),
                "error": o.error or None,
            }
            for n, o in done.routers.items()
        },
        "findings": [str(f) for f in done.findings],
        "apply_s": round(done.apply_s, 1),
        "verify_s": round(done.verify_s, 1),
    }


def _store(report: RolloutReport, estate_file: str, estate: Estate, url: str | None) -> int:
    from playbooks.rollout import to_events

    return grade_and_store(url, estate, lambda _store: to_events(report, estate_file))


def _print(report: RolloutReport) -> None:
    table = Table(title=f"dual-link rollout ({report.mode}) in {report.duration_s:.0f} s")
    for column in ("batch", "level", "router", "result", "apply s", "verify s"):
        table.add_column(column, overflow="fold")
    for b in report.batches:
        for node, o in b.routers.items():
            if o.error:
                result = f"error: {o.error}"
            elif any(f.node == node for f in b.findings):
                result = "; ".join(f"{f.link}: {f.seen}" for f in b.findings if f.node == node)
            elif report.mode == "check":
                result = f"{len(o.pending)} lines would change" if o.pending else "up to date"
            else:
                result = "reloaded" if o.reloaded else "unchanged"
            table.add_row(
                str(b.index), b.level, node, result, f"{b.apply_s:.1f}", f"{b.verify_s:.1f}"
            )
    out.print(table)
    print_not_run(report, "rollout")


def _with_migration(
    targets: list[RouterTarget], estate: Estate, estate_file: Path, the_lab: Any
) -> tuple[list[RouterTarget], list[str]]:
    """The targets with what the IPv6 migration gave the routers its record
    names as migrated (the lab's record for --lab), and those routers."""
    from playbooks.dual_links import with_migration
    from playbooks.migration import MigrationError
    from playbooks.migration_record import load, record_path

    try:
        record = load(record_path(estate_file, lab=the_lab is not None))
    except MigrationError as exc:
        fail(str(exc))
    migrated = sorted(n for n, entry in record.items() if entry.get("kind") == "router")
    if not migrated:
        return targets, []
    if the_lab is not None:
        from playbooks.migration_routers import lab_routers

        routers = lab_routers(the_lab, estate)
    else:
        from playbooks.migration_estate import estate_routers

        routers = estate_routers(estate)
    return with_migration(targets, routers, migrated), migrated


def _router_id(estate: Estate, text: str) -> str:
    """--limit 华龙区 is --limit hl: a county's or township's router by the name the screens show."""
    try:
        return estate.resolve(text, ("county", "township"))[1]
    except UnknownName:
        return text  # batches() says there is no router of that id
