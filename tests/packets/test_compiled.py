"""The sensor compiled with mypyc: what the suite runs, the same events as
interpreted, and never a stale build.

`make install` (and so `make test`) builds the sensor's per-frame modules
(`monitors.packets.compiled`); the rest of the suite then tests the compiled
sensor, hostile-input fuzzing included. Here the interpreted sensor
(`YUNWANG_COMPILED=0`) and the compiled one run as whole `yunwang sense`
commands on the same captures — the attack scenarios, the bench's varied
mix (fragments, VLAN tags, DNS, TCP options) and truncated frames — and must
print the same lines.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitors.packets import compiled
from monitors.packets.capture import PcapWriter
from monitors.packets.synthetic import hosts_in, mixed_traffic, varied_traffic
from tests.packets import scenarios

ROOT = Path(__file__).resolve().parents[2]
EXTRANET = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 40, 0x100)
EXCHANGE = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 40, 0x200)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = mixed_traffic(EXTRANET, EXTRANET[:10], 150, seed=13)
    frames += varied_traffic(EXTRANET, EXTRANET[:10], EXCHANGE, 300, seed=7)
    frames.sort(key=lambda frame: frame[0])
    start = frames[len(frames) // 2][0]
    attacks = [bytes(p) for p in scenarios.all_frames()]
    # Every attack frame cut short at a random length too: the decoder's
    # refusals must be the same compiled.
    rng = random.Random(5)
    cut = [frame[: rng.randrange(1, len(frame))] for frame in attacks]
    frames += [(start + i * 1e-4, frame) for i, frame in enumerate(attacks + cut)]
    path = tmp_path_factory.mktemp("compiled") / "mix.pcap"
    with PcapWriter(path) as writer:
        for ts, frame in sorted(frames):
            writer.write(ts, frame)
    return path


def _sense(
    pcap: Path, policy: Path, home: Path, compiled_on: bool
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YUNWANG_HOME": str(home), "YUNWANG_COMPILED": "1" if compiled_on else "0"}
    command = [sys.executable, "-m", "yunwang", "sense", "--pcap", str(pcap), str(scenarios.ESTATE),
               "--policy", str(policy), "--json", "--observer", "test"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_the_suite_tests_the_compiled_sensor() -> None:
    """Where the suite runs, the sensor is compiled: a missing compiler skips
    here, which CI=true turns into a failure."""
    if not compiled.in_use():
        pytest.skip(
            f"sensor not compiled here: run `make install` ({compiled.build_dir()} missing)"
        )
    assert compiled.build_dir().name == compiled.build_key()


def test_compiled_and_interpreted_commands_print_the_same_events(
    capture: Path, policy_file: Path, tmp_path: Path
) -> None:
    if not compiled.in_use():
        pytest.skip("sensor not compiled here: run `make install`")
    interpreted = _sense(capture, policy_file, tmp_path / "a", compiled_on=False)
    built = _sense(capture, policy_file, tmp_path / "b", compiled_on=True)
    assert interpreted.returncode == built.returncode == 0, interpreted.stderr + built.stderr
    lines = interpreted.stdout.splitlines()
    rules = {line.split('"rule": {"id": "')[1].split('"')[0] for line in lines if '"rule"' in line}
    # The capture is worth comparing: scans, spoofing, rogue routers and
    # DHCP, forbidden flows, and malformed frames counted.
    assert {"ywpkt-scan-port", "ywpkt-zone-forbidden-flow", "ywpkt-dhcp4-rogue-server"} <= rules, (
        rules
    )
    assert " 0 malformed" not in interpreted.stderr
    assert built.stdout == interpreted.stdout
    assert built.stderr.splitlines()[-1] == interpreted.stderr.splitlines()[-1]


def test_a_changed_source_is_never_shadowed_by_an_old_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "tree"
    for module in compiled.SOURCES:
        (copy / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / module, copy / module)
    assert compiled.build_key(copy) == compiled.build_key()
    split = copy / "monitors/packets/split.c"  # the C assigner is part of the build too
    split.write_text(split.read_text() + "\n/* edited */\n")
    assert compiled.build_key(copy) != compiled.build_key()
    split.write_bytes((ROOT / "monitors/packets/split.c").read_bytes())
    decode = copy / "monitors/packets/decode.py"
    decode.write_text(decode.read_text() + "\n# edited\n")
    assert compiled.build_key(copy) != compiled.build_key()

    # No build of these sources in the cache: the package path is left alone.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert compiled.prefer_compiled(["/src/monitors/packets"], "monitors/packets") == [
        "/src/monitors/packets"
    ]
    # An unfinished build (no `complete` mark) is not used either.
    (compiled.build_dir() / "monitors/packets").mkdir(parents=True)
    assert compiled.prefer_compiled(["/src"], "monitors/packets") == ["/src"]
    (compiled.build_dir() / "complete").write_text("")
    assert compiled.prefer_compiled(["/src"], "monitors/packets")[0] == str(
        compiled.build_dir() / "monitors/packets"
    )
    monkeypatch.setenv("YUNWANG_COMPILED", "0")
    assert compiled.prefer_compiled(["/src"], "monitors/packets") == ["/src"]
