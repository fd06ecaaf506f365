"""How a long-running verb (`watch`, `collect`, `serve`) leaves on SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType


def interrupt() -> None:
    raise KeyboardInterrupt


def leave_on_sigterm(leave: Callable[[], None] = interrupt) -> None:
    """A service manager's SIGTERM leaves the way Ctrl-C does (`leave()`), once.

    A repeated SIGTERM while the verb flushes its store, ships its last batch
    or writes the audit trail is the same request, not a second interrupt
    that would cut that work off with a traceback.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        leave()

    signal.signal(signal.SIGTERM, handler)
