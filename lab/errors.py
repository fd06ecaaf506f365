"""The one error type the lab raises for things a user can fix."""

from __future__ import annotations


class LabError(Exception):
    """A one-line, user-facing problem (no traceback in the CLI)."""
