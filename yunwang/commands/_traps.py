"""The trap receiver's options, the same for `collect` and `watch`."""

from __future__ import annotations

from typing import Annotated

import typer

TrapsFlag = Annotated[
    bool, typer.Option("--traps", help="Receive SNMP traps/informs; re-poll a pair at once.")
]
TrapListenOption = Annotated[
    str | None, typer.Option(help="Trap receiver address (estate's, else 127.0.0.1).")
]
TrapPortOption = Annotated[
    int | None,
    typer.Option(help="Trap receiver UDP port (estate's, else 162).", min=0, max=65535),
]
