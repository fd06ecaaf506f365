"""Where yunwang keeps its runtime state: stores, audit trail, lab, caches.

`$YUNWANG_HOME` when set and not empty, else ~/.local/share/yunwang. It lives
in estate/ because every room may import estate/ and every room needs it.
"""

from __future__ import annotations

import os
from pathlib import Path


def yunwang_home() -> Path:
    # An empty YUNWANG_HOME (`YUNWANG_HOME= yunwang watch`) means "unset",
    # never the current directory.
    return Path(os.environ.get("YUNWANG_HOME") or Path.home() / ".local/share/yunwang")


def user_cache() -> Path:
    """Where builds shared by every home and clone go (the compiled sensor):
    `$XDG_CACHE_HOME/yunwang`, else ~/.cache/yunwang. Not under the home: a
    test or a second city with its own YUNWANG_HOME uses the same build."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yunwang"
