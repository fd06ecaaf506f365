"""`frr_config`: the estate's routing for one router as FRR configuration.

A filter and not a template: the lab renders the same text when it starts a
router (estate.routing.render_frr), so there is one renderer, not two that
drift. It runs on the controller, where yunwang is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from estate.routing import RouterRouting, render_frr


def frr_config(routing: dict[str, Any], hostname: str, preamble: Sequence[str] = ()) -> str:
    return render_frr(RouterRouting.from_dict(routing), hostname=hostname, preamble=preamble)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"frr_config": frr_config}
