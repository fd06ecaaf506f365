"""Scoring every scope at full city size, with hosts and systems, against the
scoring code before them (same run).

    .venv/bin/python bench/posture_scopes.py --runs 7 [--before eb90a45]

examples/puyang.yaml: every host of every system checked against every
control (312 hosts x 135 controls, events from playbooks.hardening.to_events
through EstateContext), one host in ten failing a tenth of its controls,
and the YW-HOST-001 warnings the real rules raise for them. Timed in CPU
seconds of this process (`time.process_time`: the machine is shared, wall
time there measures the neighbours), median of --runs:

- before: `score_all` of commit --before (city, counties, tenants, zones);
- before, per host/system: that commit's `score()` called for every system
  and host as well (what adding the scopes without filing items would cost);
- now: `score_all` (city, counties, tenants, zones, systems, hosts).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from estate import load  # noqa: E402
from playbooks.controls import catalogue  # noqa: E402
from playbooks.hardening import ControlResult, HostOutcome, Report, to_events  # noqa: E402
from playbooks.inventory import Policy, estate_targets  # noqa: E402
from security.context import EstateContext  # noqa: E402
from security.engine import WarningBook  # noqa: E402
from security.events import utcnow  # noqa: E402
from security.posture import PostureInputs, score_all  # noqa: E402
from security.rulebook import load_rules  # noqa: E402


def _before(commit: str) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:security/posture.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "posture_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("posture_before", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return module


def _median(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()  # type: ignore[operator]
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", default="eb90a45")
    args = parser.parse_args()

    estate = load(REPO / "examples" / "puyang.yaml")
    targets = estate_targets(estate, Policy())
    controls = sorted(catalogue())
    hosts = sorted(targets.hosts)
    results = [
        ControlResult(
            host,
            control,
            "fail" if h % 10 == 0 and c % 10 == 0 else "pass",
            f"{control} on {host}",
        )
        for h, host in enumerate(hosts)
        for c, control in enumerate(controls)
    ]
    report = Report("check", results, {host: HostOutcome() for host in hosts})
    now = utcnow()
    enrich = EstateContext(estate).enrich
    events = [enrich(e) for e in to_events(report, targets, now=now - timedelta(minutes=5))]
    book = WarningBook(load_rules())
    for event in events:
        book.observe(event)
    warnings = book.active()
    inputs = PostureInputs().observe_all(events)

    before = _before(args.before)
    old_inputs = before.PostureInputs()
    for event in events:
        old_inputs.observe(event)
    systems = sorted({f"{t.tenant}/{t.system}" for t in targets.hosts.values()})

    def old_with_scopes() -> None:
        before.score_all(old_inputs, warnings, now)
        for key in systems:
            code = key.split("/")[1]
            # The old filter knew one context field per scope: the system's code.
            before.score(old_inputs, warnings, "system", code, now)
        for host in hosts:
            before.score(old_inputs, warnings, "host", host, now)

    old_s = _median(args.runs, lambda: before.score_all(old_inputs, warnings, now))
    old_scoped_s = _median(1, old_with_scopes)  # tens of seconds: once
    new_s = _median(args.runs, lambda: score_all(inputs, warnings, now))
    scopes = score_all(inputs, warnings, now)
    kinds = {
        k: sum(1 for s in scopes if s.kind == k) for k in dict.fromkeys(s.kind for s in scopes)
    }
    print(
        f"{len(hosts)} hosts x {len(controls)} controls = {len(events)} control results, "
        f"{len(warnings)} warnings; scopes now: {kinds}"
    )
    print(f"before ({args.before}) score_all, 4 kinds:      {old_s * 1000:8.1f} ms")
    print(f"before, plus score() per system and host:    {old_scoped_s * 1000:8.1f} ms")
    print(f"now score_all, 6 kinds:                       {new_s * 1000:8.1f} ms")
    print(f"ratio now / before (4 kinds): {new_s / old_s:.2f}; "
          f"now / before with scopes: {new_s / old_scoped_s:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
