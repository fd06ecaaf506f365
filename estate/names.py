"""The names people type for a scope: codes, display names, and systems'
bare codes (estate.Estate.resolve)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from estate.model import Estate, ScopeKind, System


class UnknownName(LookupError):
    """A code or display name the estate does not have; str() is one line with close matches."""


def _system_alias(systems: list[System], wanted: str, file: str) -> str | None:
    """The `tenant/code` of the one system whose bare code or display name is
    `wanted`; None if none is. Every bureau may have its own `ywbl`, so a
    bare code shared by several tenants is refused, naming them."""
    keys = [f"{s.tenant}/{s.code}" for s in systems if wanted in (s.code, s.name)]
    if len(keys) > 1:
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        raise UnknownName(
            f"{wanted!r} is a system of {len(keys)} tenants in {file}: "
            f"name one as TENANT/CODE ({shown})"
        )
    return keys[0] if keys else None


def resolve_name(estate: Estate, text: str, kinds: tuple[ScopeKind, ...]) -> tuple[ScopeKind, str]:
    """See `Estate.resolve`."""
    codes: list[tuple[str, ScopeKind, str]] = []
    names: list[tuple[str, ScopeKind, str]] = []
    for kind in kinds:
        if kind in ("county", "township"):
            for n in estate.nodes(level=kind):
                codes.append((n.id, kind, n.id))
                names.append((n.name, kind, n.id))
        elif kind == "tenant":
            codes += [(t.code, kind, t.code) for t in estate.tenants]
            names += [(t.name, kind, t.code) for t in estate.tenants]
        elif kind == "zone":
            codes += [(z.name, kind, z.name) for z in estate.zones]
            names += [(z.description, kind, z.name) for z in estate.zones]
            # "安全交换区 (safe-exchange DMZ)" is typed as 安全交换区
            names += [(z.description.split(" (")[0], kind, z.name) for z in estate.zones]
        elif kind == "host":
            codes += [(h.name, kind, h.name) for s in estate.systems() for h in s.hosts]
        else:
            codes += [
                (f"{s.tenant}/{s.code}", kind, f"{s.tenant}/{s.code}") for s in estate.systems()
            ]
    wanted = text.strip()
    for label, kind, key in codes + names:
        if label == wanted:
            return kind, key
    if "system" in kinds and (alias := _system_alias(estate.systems(), wanted, estate.file)):
        return "system", alias
    labels = sorted({label for label, _, _ in codes + names})
    close = difflib.get_close_matches(wanted, labels, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    what = ", ".join(kinds[:-1]) + (" or " if len(kinds) > 1 else "") + kinds[-1]
    raise UnknownName(f"no {what} named {wanted!r} in {estate.file}{hint}")
