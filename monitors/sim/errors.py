"""The one error the simulator raises for a user's mistake: one line, no traceback."""


class SimError(Exception):
    """A scenario, level or credential the simulator cannot serve (one-line message)."""
