"""`yunwang watch` with stdout not a terminal: log lines, not a redrawn screen."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from security.audit import AuditTrail
from yunwang.watch_job import Summary
from yunwang.watchlog import WatchLog

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (warning (opened|escalated|resolved)|status|audit head) "
)


def test_piped_watch_logs_warnings_and_a_status_line_per_period(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_SNMP")}
    env["YUNWANG_HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "yunwang", "watch", "--interval", "1", "--status-every", "3",
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    guard = threading.Timer(300, proc.kill)  # bounds a hang; the test waits on lines, not time
    guard.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len([x for x in lines if " status " in x]) >= 3 and _opened(lines, "YW-NET-001"):
                break
    finally:
        proc.send_signal(signal.SIGTERM)  # as a service manager stops it
        rest, stderr = proc.communicate(timeout=120)
        guard.cancel()
    lines += rest.splitlines()
    assert proc.returncode == 0, stderr
    assert lines and all(LINE.match(line) for line in lines), lines
    assert not any("\x1b" in line for line in lines)  # no cursor or colour: a log, not a screen
    # The demo's replayed attacks open warnings in the first cycle, each logged once.
    assert _opened(lines, "YW-NET-001")
    ids = [line.split()[3] for line in lines if " warning opened " in line]
    assert len(ids) == len(set(ids))
    statuses = [line for line in lines if " status " in line]
    assert (
        len(statuses) >= 3 and "devices " in statuses[-1] and "open warnings red " in statuses[-1]
    )
    seconds = [datetime.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ") for line in statuses]
    assert all((b - a).total_seconds() >= 2 for a, b in pairwise(seconds))  # 3 s, to the second
    # The audit trail's head, anchored in the log as well as the store (issue 10 item 13):
    # watch's own start is audited, so there is a head to show.
    [*_, head] = AuditTrail(tmp_path / "audit.jsonl").records()
    anchored = [line.split(" ", 1)[1] for line in lines if " audit head " in line]
    assert anchored and all(a.startswith("audit head record ") for a in anchored)
    seq, mac = anchored[-1].split()[3], anchored[-1].split()[5]
    assert int(seq) <= head.seq and len(mac) == 16
    assert f"audit record {seq} mac {mac}" in statuses[-1]


def _opened(lines: list[str], rule: str) -> bool:
    return any(" warning opened " in line and f" {rule} " in line for line in lines)


def _summary(*warnings: tuple[str, str], audit: dict[str, object] | None = None) -> Summary:
    return Summary(
        estate="small.yaml", mode="simulated", cycles=1, devices={"reachable": 14}, pairs=[],
        warnings=[{"id": wid, "level": level, "rule": "YW-LINK-001", "summary": "hl on backup",
                   "status": "open", "count": 1, "age_s": 0} for wid, level in warnings],
        posture=[], events={}, metrics_url=None, audit=audit,
    )  # fmt: skip


def test_opened_escalated_resolved_each_once() -> None:
    stream = io.StringIO()
    log = WatchLog(stream, status_every_s=60)
    log.update(_summary(("W1", "orange")), now=0)
    log.update(_summary(("W1", "orange")), now=10)  # nothing changed, no status due
    log.update(_summary(("W1", "red"), ("W2", "blue")), now=20)
    log.update(_summary(("W1", "yellow"), ("W2", "blue")), now=30)  # de-escalation: not logged
    log.update(_summary(("W2", "blue")), now=61)
    events = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert [e for e in events if not e.startswith("status")] == [
        "warning opened W1 orange YW-LINK-001 hl on backup",
        "warning escalated orange -> W1 red YW-LINK-001 hl on backup",
        "warning opened W2 blue YW-LINK-001 hl on backup",
        "warning resolved W1 yellow YW-LINK-001 hl on backup",
    ]
    assert [e.split(" · ")[0] for e in events if e.startswith("status")] == ["status cycle 1"] * 2


def test_the_audit_head_is_logged_when_it_moves() -> None:
    stream = io.StringIO()
    log = WatchLog(stream, status_every_s=60)
    first = {"seq": 3, "mac": "ab" * 32, "file": "/x/audit.jsonl"}
    log.update(_summary(audit=None), now=0)  # nothing anchored yet
    log.update(_summary(audit=first), now=1)
    log.update(_summary(audit=first), now=2)  # unchanged: no line
    log.update(_summary(audit={**first, "seq": 4, "mac": "cd" * 32}), now=61)
    events = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert [e for e in events if e.startswith("audit")] == [
        f"audit head record 3 mac {'ab' * 8} /x/audit.jsonl",
        f"audit head record 4 mac {'cd' * 8} /x/audit.jsonl",
    ]
    statuses = [e for e in events if e.startswith("status")]
    assert "audit" not in statuses[0] and statuses[1].endswith(f" · audit record 4 mac {'cd' * 8}")
