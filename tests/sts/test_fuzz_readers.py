"""Fuzz every reader of a configuration-like file: refusal (an StsError) or a result.

Inputs are valid files mutated by hypothesis (bytes inserted, deleted or replaced,
lines duplicated or cut, the file truncated) and plain random bytes. For each case the
reader must return or raise an StsError (what the CLI prints as one message, exit 2):
never another exception (a traceback), never a hang (each case runs under an alarm).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geometry.errors import StsError
from sts.calibration_toml import read_calibration
from sts.events_jsonl import read_events
from sts.floorplan_io import load_floorplan
from sts.roster_csv import read_roster
from sts.rules_toml import load_rules
from sts.timetable_toml import load_timetable

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
TETAM = ROOT / "floorplans" / "tetam" / "floorplan.geojson"
SECONDS_PER_CASE = 20

FLOORPLAN = load_floorplan(NORTHFIELD).floorplan
ROSTER = read_roster(NORTHFIELD / "roster.csv")
EVENTS = (
    b'{"duration_s":null,"evidence":{"age_s":0.0,"level":"L0","uncertainty_m":1.2,"x":3.0,'
    b'"y":4.0},"kind":"enter","level":"L0","t":1796027200.0,"tag":"badge-0001",'
    b'"visit":"v1","zone":"L0-classroom-1"}\n'
) * 3
CALIBRATION = b"""[calibration]
format = "sts-calibration"
version = 1
tag_height_m = 1.2
uncertainty_scale = 0.35

[calibration.global]
rssi_1m = -62.0
exponent = 1.4
sigma_db = 6.0
"""


class HangError(Exception):
    """A reader ran past its time."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise HangError(f"a reader ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "dup_line"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "dup_line":
            lines = bytes(data).split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(k, lines[k])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def inputs(original: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(original), st.binary(max_size=256))


READERS: dict[str, tuple[bytes, str, Callable[[Path], Any]]] = {
    "roster": ((NORTHFIELD / "roster.csv").read_bytes(), "roster.csv", read_roster),
    "rules": (
        (NORTHFIELD / "rules.toml").read_bytes(),
        "rules.toml",
        lambda p: load_rules(p, FLOORPLAN, ROSTER, has_timetable=True),
    ),
    "timetable": (
        (NORTHFIELD / "timetable.toml").read_bytes(),
        "timetable.toml",
        lambda p: load_timetable(p, FLOORPLAN, ROSTER),
    ),
    "events": (EVENTS, "events.jsonl", read_events),
    "calibration": (CALIBRATION, "cal.toml", lambda p: read_calibration(p, FLOORPLAN)),
    "floorplan": (TETAM.read_bytes(), "floorplan.geojson", load_floorplan),
}


def check_reader(name: str, data: bytes, tmp: Path) -> None:
    _, file_name, reader = READERS[name]
    path = tmp / file_name
    path.write_bytes(data)
    # refused with a message (an StsError) is what the CLI prints, exit 2
    with time_limit(SECONDS_PER_CASE), contextlib.suppress(StsError):
        reader(path)


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_reader_refuses_or_reads_never_crashes(name: str, tmp_path: Path) -> None:
    original = READERS[name][0]
    check_reader(name, original, tmp_path)  # the valid file itself is read

    @settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=inputs(original))
    def case(data: bytes) -> None:
        check_reader(name, data, tmp_path)

    case()
