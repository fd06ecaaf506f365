"""Simulated agents die with the process that started them.

`yunwang watch` and the tests start snmpsim and the fast responders in
sessions of their own (a terminal's Ctrl-C reaches the parent, which stops
them). A parent killed hard (SIGKILL, the OOM killer) runs no cleanup, so
the kernel must end them: PR_SET_PDEATHSIG, asked for in the child between
fork and exec.

The signal follows the *thread* that forked the child: start simulators
from a thread that lives as long as they should (the main thread does).
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child gets SIGKILL when
    this process dies, and exits at once if it already has."""
    parent = os.getpid()

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(127)  # never run an agent nobody would stop
        if os.getppid() != parent:  # the parent died before prctl took hold
            os._exit(0)

    return arm
