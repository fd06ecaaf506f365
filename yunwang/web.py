"""The web view beside `yunwang watch` (`--web`): the live pipeline and the latest poll."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from dashboards.web.server import WebError, WebOptions, WebServer
from dashboards.web.source import LinkReadings, PipelineSource
from security.audit import record
from yunwang.console import err, fail
from yunwang.watch_job import Watch

# A village hangs on one link: how its device answers is how the village is.
VILLAGE_STATE = {"reachable": "normal", "slow": "degraded", "unreachable": "isolated"}


def readings(runner: Watch) -> LinkReadings:
    found = LinkReadings()
    snapshot = runner.latest
    if snapshot is not None:
        villages = {d.name: n.id for n in runner.estate.nodes(level="village") for d in n.devices}
        for poll in snapshot.polls.values():
            if poll.device in villages:
                found.states[villages[poll.device]] = VILLAGE_STATE.get(poll.state, "unknown")
    for view in snapshot.views if snapshot else []:
        found.states[view.pair.id] = view.state
        for reading in (view.primary, view.backup):
            rates = [r for r in (reading.receive_bps, reading.transmit_bps) if r is not None]
            if rates:
                found.used_bps[reading.link.id] = max(rates)
    if runner.sensor is not None:
        counts = runner.sensor.adoption.snapshot()
        for segment in {s for s, _ in counts}:
            v4, v6 = counts.get((segment, 4)), counts.get((segment, 6))
            flows4, flows6 = (v4.flows if v4 else 0), (v6.flows if v6 else 0)
            if flows4 + flows6:
                found.ipv6_ratio[segment] = flows6 / (flows4 + flows6)
    return found


@contextmanager
def web_view(runner: Watch, options: WebOptions) -> Iterator[Callable[[], None]]:
    """Serve the page while the loop runs; yields what to call after each cycle."""
    assert runner.security is not None, "the watch is started"
    source = PipelineSource(runner.estate, runner.security.pipeline, lambda: readings(runner))
    with ExitStack() as stack:
        try:
            server = stack.enter_context(WebServer(source, options))
        except WebError as exc:
            fail(str(exc))
        record(action="web.serve", target=server.url, detail={"estate": runner.estate.file})
        err.print(server.hint(), markup=False, soft_wrap=True)
        yield source.changed
