"""The Elasticsearch store's own trouble, as events: the security system's health is posture.

A problem (`refused`: 401/403/413; `spool-full`: the spool's disk cannot
take a batch) is logged once when it starts and once when it ends, and each
edge becomes a `yunwang.store` / `store-state-changed` event that rule
YW-STORE-001 turns into a warning and resolves.
"""

from __future__ import annotations

import logging
import threading

from security.events import Context, Event, utcnow

log = logging.getLogger("security.store.elastic")


class StoreProblems:
    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._open: dict[str, str] = {}  # problem -> why, while it lasts
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def start(self, problem: str, why: str, status: str = "") -> None:
        with self._lock:
            if problem in self._open:
                return
            self._open[problem] = why
            self._events.append(self._event(problem, problem, why, status))
        log.warning("%s", why)

    def end(self, problem: str, why: str) -> None:
        with self._lock:
            if self._open.pop(problem, None) is None:
                return
            self._events.append(self._event(problem, "accepting", why, ""))
        log.warning("%s", why)

    def take(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def _event(self, problem: str, state: str, why: str, status: str) -> Event:
        labels = {"store": self.store_url, "problem": problem}
        if status:
            labels["status"] = status
        return Event(
            timestamp=utcnow(),
            dataset="yunwang.store",
            action="store-state-changed",
            message=why,
            kind="state",
            category=("database",),
            type=("change",),
            outcome="success" if state == "accepting" else "failure",
            context=Context(state=state),
            labels=tuple(sorted(labels.items())),
        )
