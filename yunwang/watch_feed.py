"""The centre's side of the fleet in `yunwang watch`: producers' events and heartbeats.

With an Elasticsearch store, the feed thread (yunwang/watch_loop.py) reads
what every producer (`yunwang sense/collect --store`) shipped, grades it
without storing it again, then commits the checkpoint; the fleet's
heartbeats tell which declared producer went silent. SQLite: one machine,
everything in one process, no feed.
"""

from __future__ import annotations

import threading

from estate import Estate
from estate.home import yunwang_home
from security.events import utcnow
from security.feed_reader import FeedReader
from security.fleet import Fleet
from security.pipeline import Pipeline
from yunwang import watch_loop
from yunwang.watch_loop import LoopStats


class CentreFeed:
    def __init__(
        self,
        reader: FeedReader,
        fleet: Fleet,
        pipeline: Pipeline,
        stats: LoopStats,
        problems: list[str],
    ) -> None:
        self.reader = reader
        self.fleet = fleet
        self.pipeline = pipeline
        self.stats = stats
        self.problems = problems  # the watch's: a checkpoint that cannot be written shows there

    @classmethod
    def open(
        cls, estate: Estate, pipeline: Pipeline, stats: LoopStats, problems: list[str]
    ) -> CentreFeed | None:
        """None with SQLite; a StoreError for a damaged checkpoint."""
        store = pipeline.store
        if not hasattr(store, "client"):
            return None
        path = yunwang_home() / "feed" / f"{getattr(store, 'namespace', 'default')}.json"
        reader = FeedReader(store, path)
        fleet = Fleet.from_estate(estate, started=utcnow(), grace=reader.look_back)
        return cls(reader, fleet, pipeline, stats, problems)

    def forever(self, halt: threading.Event) -> None:
        """The feed thread: a slow search never holds up grading the local events."""
        while not halt.wait(watch_loop.FEED_POLL_S):
            self.read()

    def read(self) -> None:
        # Silence is judged as of the read, not of the end of grading: a
        # slow grading (a store that just came back) is not the producers' fault.
        read_at = utcnow()
        events = self.reader.poll()
        if events:
            self.fleet.observe(events)
            self.pipeline.submit(events, stored=True)
            self.pipeline.settle()  # their warnings saved before the checkpoint moves past them
            self.stats.feed_events += len(events)
            try:
                self.reader.commit()  # after grading: a crash before here re-reads, never loses
            except OSError as exc:
                self.problems.append(f"feed checkpoint: {exc}")
        if not self.reader.reachable:
            # The store's silence is not the producers': their heartbeats wait in their spools.
            self.fleet.unheard()
            return
        if self.reader.behind:  # a backlog: the newest heartbeats are still unread
            return
        self.pipeline.submit(self.fleet.tick(read_at))

    def silent(self) -> list[str]:
        return self.fleet.silent()
