"""The audit trail's head, anchored outside the trail's own directory.

Whoever can rewrite audit.jsonl can rewrite audit.jsonl.head beside it (and,
with the key file, re-seal every record). So each `watch` cycle writes the
head, when it moved, as an event into the event store and as a log line:
`yunwang audit verify` then checks the trail still holds the anchored record
with the anchored MAC, and a trail deleted or rewritten together with its
head no longer matches what the store and the log saw.

    anchor = HeadAnchor(AuditTrail(), submit=pipeline.submit)
    anchor.update()                       # once a cycle; cheap when nothing moved
    verify_anchor(trail, latest_anchor(store))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from security.audit import AuditError, AuditTrail, Breach
from security.events import Event, utcnow
from security.store import Store

DATASET = "yunwang.audit"
ACTION = "audit-head"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """The head of a trail as seen from outside it at `time`."""

    file: str
    seq: int
    hash: str
    time: str

    def event(self) -> Event:
        return Event(
            timestamp=utcnow(),
            dataset=DATASET,
            action=ACTION,
            message=f"audit trail {self.file} at record {self.seq}",
            labels=(
                ("audit_file", self.file),
                ("audit_hash", self.hash),
                ("audit_seq", str(self.seq)),
            ),
        )

    @classmethod
    def from_event(cls, event: Event) -> Anchor | None:
        labels = dict(event.labels)
        try:
            return cls(
                labels["audit_file"],
                int(labels["audit_seq"]),
                labels["audit_hash"],
                event.timestamp.isoformat(timespec="seconds"),
            )
        except (KeyError, ValueError):
            return None


class HeadAnchor:
    """Writes the trail's head out through `submit` (the pipeline) and the log when it moved.

    `latest` is the head last written out: `watch` shows it in its own log
    lines too, where a rewrite of trail, head and store cannot reach.
    """

    def __init__(self, trail: AuditTrail, submit: Callable[[Iterable[Event]], object]) -> None:
        self.trail = trail
        self.submit = submit
        self.latest: Anchor | None = None

    def update(self) -> Anchor | None:
        seq, digest = self.trail.head()
        if self.latest is not None and (seq, digest) == (self.latest.seq, self.latest.hash):
            return None
        anchor = Anchor(str(self.trail.path), seq, digest, utcnow().isoformat(timespec="seconds"))
        log.info("audit trail %s head: record %d mac %s", anchor.file, seq, digest)
        self.submit([anchor.event()])
        self.latest = anchor
        return anchor


def latest_anchor(store: Store, trail: AuditTrail, scan: int = 200) -> Anchor | None:
    """The newest head the event store saw for this trail's file."""
    for event in store.search(None, dataset=DATASET, limit=scan):
        anchor = Anchor.from_event(event)
        if anchor is not None and anchor.file == str(trail.path):
            return anchor
    return None


def verify_anchor(trail: AuditTrail, anchor: Anchor) -> list[Breach]:
    """The trail must still hold the anchored record, sealed with the anchored MAC."""
    try:
        for number, record in trail.numbered():
            if record.seq == anchor.seq:
                if record.hash == anchor.hash:
                    return []
                return [
                    Breach(
                        number,
                        f"record {anchor.seq} is not the one the event store anchored at "
                        f"{anchor.time}: the trail was rewritten",
                    )
                ]
    except AuditError:
        pass  # verify() reports the line itself
    if anchor.seq == 0:
        return []
    where = "the trail is gone" if not trail.path.exists() else "the trail ends before it"
    return [
        Breach(
            0,
            f"the event store anchored record {anchor.seq} at {anchor.time} but {where}: "
            "the trail was deleted or replaced",
        )
    ]
