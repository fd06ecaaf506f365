"""What can go wrong talking to a device, as a small closed set of kinds.

Each kind is a label value on `yunwang_snmp_errors_total{kind=...}` and the
reason in device-state events, so keep the names short and stable.
"""

from __future__ import annotations

from typing import Literal

# "internal": a defect on our side that one device's answer ran into; it
# costs that device's poll (logged with its traceback at debug level).
ErrorKind = Literal["timeout", "auth", "malformed", "agent", "walk", "config", "internal"]


class SnmpError(Exception):
    kind: ErrorKind = "agent"


class SnmpTimeout(SnmpError):
    kind: ErrorKind = "timeout"


class SnmpAuthError(SnmpError):
    """Wrong user, key, community (v3 reports) or unsupported security level."""

    kind: ErrorKind = "auth"


class SnmpMalformed(SnmpError):
    """The device answered with bytes that are not a valid SNMP response."""

    kind: ErrorKind = "malformed"


class SnmpAgentError(SnmpError):
    """The agent answered with a non-zero error-status."""

    kind: ErrorKind = "agent"


class SnmpWalkError(SnmpError):
    """The agent broke walk order (OIDs not increasing): we stop, not loop."""

    kind: ErrorKind = "walk"


class SnmpConfigError(SnmpError):
    """A credential could not be resolved or is not usable."""

    kind: ErrorKind = "config"
