"""Small pieces of the lab that need no root."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.chaos import parse_rate
from lab.errors import LabError
from lab.measure import parse
from lab.rootfs import _mirror_in
from lab.state import LabState, Process, lab_tag


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("50Mbit/s", 50_000_000),
        ("800kbit", 800_000),
        ("2000000", 2_000_000),
        ("1.5G", 1_500_000_000),
    ],
)
def test_rates_parse_to_bits_per_second(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize("text", ["fast", "0", "-5Mbit"])
def test_bad_rates_are_one_line_errors(text: str) -> None:
    with pytest.raises(LabError, match="--rate"):
        parse_rate(text)


def _ping(replies: list[tuple[float, int]], sent: int) -> str:
    """`ping -D` output: a reply per (stamp, icmp_seq), then the summary."""
    lines = [f"[{at:.3f}] 64 bytes from 198.18.0.10: icmp_seq={seq} ttl=62 time=0.3 ms"
             for at, seq in replies]  # fmt: skip
    return "\n".join([
        "PING 198.18.0.10 (198.18.0.10) 56(84) bytes of data.", *lines, "",
        "--- 198.18.0.10 ping statistics ---",
        f"{sent} packets transmitted, {len(replies)} received, time 360ms", "",
    ])  # fmt: skip


PING = _ping([(1000.0, 1), (1000.016, 2), (1000.35, 22), (1000.366, 23)], sent=23)


def test_largest_gap_between_replies_is_the_outage() -> None:
    outage = parse(PING)
    assert outage.largest_gap_s == pytest.approx(0.334)
    assert (outage.sent, outage.received, outage.lost) == (23, 4, 19)


def test_a_stream_that_never_came_back_counts_to_the_stop() -> None:
    assert parse(PING, stopped_at=1005.0).largest_gap_s == pytest.approx(4.634)


# ping waited 9.6 s for a CPU between requests 3 and 4; 6-7 and 9-10 unanswered.
STARVED = _ping(
    [(1000.0, 1), (1000.016, 2), (1000.032, 3), (1009.632, 4), (1009.648, 5), (1009.664, 8)],
    sent=10,
)


def test_the_lost_run_counts_unanswered_requests_not_a_starved_pinger() -> None:
    assert parse(PING).lost_run_s == pytest.approx(20 * 0.016, rel=0.05)  # as the gap
    assert parse(PING).summary() == "unanswered 320 ms (largest gap 334 ms), lost 19 of 23"
    starved = parse(STARVED)  # ping waited 9.6 s for a CPU between two requests
    assert starved.largest_gap_s == pytest.approx(9.6)
    # seq 6-7 unanswered (3 steps) and 9-10 after the last reply (3 steps).
    assert starved.lost_run_s == pytest.approx(3 * 0.016)


def test_no_replies_is_an_error() -> None:
    with pytest.raises(LabError, match="no usable output"):
        parse("connect: Network is unreachable\n")


def test_mirror_comes_from_the_machines_apt_sources() -> None:
    deb822 = (
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n"
    )
    assert _mirror_in(deb822) == "http://mirror.invalid/debian"
    assert _mirror_in("deb [arch=amd64] http://m.invalid/debian bookworm main\n") == (
        "http://m.invalid/debian"
    )
    assert _mirror_in("deb http://m.invalid/other jammy main\n") is None


def test_state_round_trips_and_tags_differ_per_directory(tmp_path: Path) -> None:
    state = LabState(directory=tmp_path / "a", tag=lab_tag(tmp_path / "a"))
    state.add_namespace("ywlab-x-py")
    state.add_process(Process(123, 456, "snmpd", "ywlab-x-py"))
    again = LabState.load(tmp_path / "a")
    assert again.namespaces == ["ywlab-x-py"]
    assert again.processes == [Process(123, 456, "snmpd", "ywlab-x-py")]
    assert lab_tag(tmp_path / "a") != lab_tag(tmp_path / "b")


def test_unreadable_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(LabError, match="unreadable lab state"):
        LabState.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe junk", "unreadable lab state"),
        (b"[1, 2]", "expected a lab state object, found list"),
        (b'{"version": 1}', "not a lab state yunwang wrote \\(KeyError: 'tag'\\)"),
        (b'{"version": 1, "tag": "t", "processes": [3]}', "not a lab state yunwang wrote"),
        (
            b'{"version": 1, "tag": "t", "plan": {"routers": [{"name": "r"}]}}',
            "not a lab state yunwang wrote",
        ),
    ],
)
def test_a_state_file_yunwang_did_not_write_is_one_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Found by fuzzing `lab inventory --dir`: each of these was a traceback."""
    (tmp_path / "state.json").write_bytes(content)
    with pytest.raises(LabError, match=message):
        LabState.load(tmp_path)
