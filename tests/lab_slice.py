"""The lab slice the SNMP and trap tests share: examples/small.yaml's lab,
the estate's test secrets, a collection polling the slice from the NMS
namespace, and `yunwang` run inside that namespace.

    lab = lab_session(SMALL)                 # in the test module: the shared lab
    with secrets_in_env():
        collection = slice_collection(lab, sink=events.append)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from estate import load
from lab.errors import LabError
from lab.lab import Lab
from lab.testing import TEST_SECRETS
from monitors.links import Thresholds
from monitors.snmp.collection import Collection, EventSink, targets_from_estate
from monitors.snmp.poller import PollerSettings

SMALL = Path(__file__).resolve().parents[1] / "examples" / "small.yaml"
# Short timeouts: the slice answers in milliseconds, and its missing
# devices (outside the slice) must not hold a cycle for long.
SLICE_POLLING = PollerSettings(timeout_s=1.0, retries=1, deadline_s=5.0, slow_s=3.0)


@contextlib.contextmanager
def secrets_in_env() -> Iterator[None]:
    """The estate's credentials resolve from the environment (TEST_SECRETS
    unless already set), restored afterwards."""
    saved = {k: os.environ.get(k) for k in TEST_SECRETS}
    os.environ.update({k: os.environ.get(k) or v for k, v in TEST_SECRETS.items()})
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def translate(lab: Lab, address: str) -> str:
    """An estate address as the lab plans it; outside the slice, unchanged."""
    try:
        return str(lab.lab_address(address))
    except LabError:
        return address


def slice_collection(
    lab: Lab, sink: EventSink | None = None, thresholds: Thresholds | None = None
) -> Collection:
    """A collection of the slice's devices, polled at their lab addresses."""
    estate = load(SMALL)
    in_lab = {device for router in lab.routers for device in router.devices}
    addresses = {
        d.name: (lab.lab_address(str(d.mgmt4)), 161) for d in estate.devices() if d.name in in_lab
    }
    targets, problems = targets_from_estate(estate, addresses)
    assert not problems, problems
    return Collection(
        estate,
        [t for t in targets if t.name in in_lab],
        SLICE_POLLING,
        thresholds,
        sink=sink,
        translate=lambda address: translate(lab, address),
    )


def yunwang_env(home: Path) -> dict[str, str]:
    """The environment of a `yunwang` process: its own home, the secrets."""
    env = dict(os.environ, YUNWANG_HOME=str(home))
    env.update({k: os.environ.get(k) or v for k, v in TEST_SECRETS.items()})
    return env


def yunwang_in_nms(lab: Lab, *args: str) -> list[str]:
    """The command line running `yunwang ARGS` in the NMS namespace."""
    yunwang = str(Path(sys.executable).parent / "yunwang")
    return ["ip", "netns", "exec", lab.namespace("nms"), yunwang, *args]


def default_sigint() -> None:
    """A terminal's Ctrl-C for the child (preexec_fn): a test run started in
    the background (CI, nohup) inherits SIGINT ignored, and Python keeps an
    ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
