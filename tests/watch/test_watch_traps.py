"""`watch --traps` with the threaded loop: a trap received between cycles is
graded and re-polls the pairs it names at once, not at the next cycle.

The simulated city (snmpsim-like responders on loopback) and net-snmp's own
`snmptrap`, sending a v3 BFD session-down (it names every pair at the
sender's node) with the sending device's own keys.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from yunwang.watch_job import Watch, WatchOptions

INTERVAL_S = 120.0  # one scheduled cycle in this test: any later poll is the trap's
BFD_SESS_DOWN = "1.3.6.1.2.1.222.0.2"
AUTH = {"sha": "SHA", "sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5"}
PRIV = {"aes128": "AES", "des": "DES"}


def test_a_trap_between_cycles_is_graded_and_repolls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("snmptrap") is None:
        pytest.fail("snmptrap is missing: run ci/setup.d/30-snmp.sh")
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    options = WatchOptions(
        interval_s=INTERVAL_S, metrics_port=0, traps=True, trap_address="127.0.0.1", trap_port=0
    )
    with Watch(options) as watch:
        assert watch.traps is not None and watch.trap_address is not None
        host, port = watch.trap_address
        sender = watch.traps.receiver.users  # the device the receiver knows at this address
        name, credential = sender.devices["127.0.0.1"]
        assert credential.version == 3 and credential.user and credential.auth_key
        sent: list[float] = []

        def refresh() -> None:
            if watch.cycles == 1 and not sent:
                sent.append(time.monotonic())
                trap = subprocess.run(
                    ["snmptrap", "-v3", "-u", credential.user or "", "-l", "authPriv",
                     "-a", AUTH[credential.auth_protocol], "-A", credential.auth_key or "",
                     "-x", PRIV[credential.priv_protocol], "-X", credential.priv_key or "",
                     f"udp:{host}:{port}", "", BFD_SESS_DOWN],
                    capture_output=True, text=True, timeout=10,
                )  # fmt: skip
                assert trap.returncode == 0, trap.stderr

        def trap_handled() -> bool:
            assert watch.traps is not None and watch.security is not None
            graded = watch.security.pipeline.events_total["yunwang.traps"]
            return bool(sent) and watch.traps.counters.repolls >= 1 and graded >= 1

        watch.run(time.monotonic() + 40, refresh, done=trap_handled, refresh_s=0.2)
        assert trap_handled(), (watch.traps.counters, watch.traps.receiver.stats, name)
        assert watch.cycles == 1  # the re-poll came from the trap, not from the schedule
        assert watch.stats.cycles_late == 0
