"""`sts attendance` end to end: files in, CSV out; bad input exits 2 without a traceback."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sts.cli import main

REPO = Path(__file__).resolve().parents[2]


def at(h: int, m: int = 0, s: int = 0) -> float:
    return datetime(2026, 9, 7, h, m, s, tzinfo=UTC).timestamp()


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def zone(zid: str, kind: str, ring: list[list[list[float]]]) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": zid,
        "geometry": {"type": "Polygon", "coordinates": ring},
        "properties": {"feature_type": "zone", "level": "L0", "kind": kind, "name": zid},
    }


FLOORPLAN = {
    "type": "FeatureCollection",
    "sts": {
        "format": "sts-floorplan",
        "version": 1,
        "crs": "local",
        "site": {"id": "mini", "name": "Mini school"},
        "levels": [{"id": "L0", "ordinal": 0, "name": "Ground"}],
    },
    "features": [
        zone("campus", "safe_area", square(0, 0, 60, 40)),
        zone("room-a", "classroom", square(0, 0, 10, 10)),
        zone("room-b", "classroom", square(10, 0, 20, 10)),
        zone("hall", "corridor", square(0, 10, 40, 14)),
    ],
}

TIMETABLE = """
version = 1
roster = "roster.csv"

[calendar]
timezone = "UTC"
day_start = "08:30"
day_end = "15:30"

[periods]
P1 = { start = "09:00", end = "10:00" }
P2 = { start = "10:00", end = "11:00" }

[[lessons]]
group = "7A"
period = "P1"
room = "room-a"

[[lessons]]
group = "7A"
period = "P2"
room = "room-b"
"""

ROSTER = """student_id,tag,name,group,consent
S1,badge-0001,Ada,7A,granted
S2,badge-0002,Ben,7A,granted
S3,badge-0003,Cy,7A,granted
S4,badge-0004,Dee,7A,refused
"""


def event(t: float, tag: str, zone: str, kind: str, age: float = 0.0) -> str:
    """One events.jsonl line as `sts track` writes it (docs/events.md)."""
    evidence = {"age_s": age, "level": "L0", "uncertainty_m": 1.5, "x": 5.0, "y": 5.0}
    obj = {"duration_s": None, "evidence": evidence, "kind": kind, "level": "L0"}
    obj |= {"t": t, "tag": tag, "visit": "", "zone": zone}
    return json.dumps(obj, sort_keys=True)


EVENTS = [
    event(at(8, 55), "badge-0001", "room-a", "enter"),  # on time, then to P2 on time
    event(at(9, 20), "badge-0002", "room-a", "enter"),  # late
    event(at(9, 40, 30), "badge-0002", "", "stale", age=30.0),  # silent from 09:40
    event(at(10, 0), "badge-0001", "room-a", "exit"),
    event(at(10, 1), "badge-0001", "room-b", "enter"),
    event(at(10, 30), "badge-0001", "room-b", "exit"),  # leaves early
    event(at(10, 59), "badge-0003", "hall", "enter"),  # never in class
]


@pytest.fixture()
def school(tmp_path: Path) -> Path:
    (tmp_path / "floorplan.geojson").write_text(json.dumps(FLOORPLAN))
    (tmp_path / "timetable.toml").write_text(TIMETABLE)
    (tmp_path / "roster.csv").write_text(ROSTER)
    (tmp_path / "events.jsonl").write_text("\n".join(EVENTS) + "\n")
    return tmp_path


def args(d: Path, *extra: str) -> list[str]:
    return [
        "attendance",
        "--floorplan",
        str(d / "floorplan.geojson"),
        "--timetable",
        str(d / "timetable.toml"),
        "--events",
        str(d / "events.jsonl"),
        "--out",
        str(d / "attendance.csv"),
        "--data",  # no registry here, whatever ./var holds: the roster's column decides
        str(d / "no-registry"),
        *extra,
    ]


def test_attendance_end_to_end(school: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(school)) == 0
    rows = list(csv.DictReader((school / "attendance.csv").open()))
    got = [(r["period"], r["tag"], r["status"], r["first_arrival"], r["left_early"]) for r in rows]
    assert got == [
        ("P1", "badge-0001", "present", "08:55:00", "no"),
        ("P1", "badge-0002", "late", "09:20:00", "no"),
        ("P1", "badge-0003", "absent", "", "no"),
        ("P2", "badge-0001", "present", "10:01:00", "yes"),
        ("P2", "badge-0002", "unknown", "", "no"),  # silent since 09:40
        ("P2", "badge-0003", "absent", "", "no"),
    ]
    by = {(r["period"], r["tag"]): r for r in rows}
    assert by[("P1", "badge-0002")]["minutes_in_room"] == "20.00"
    assert by[("P1", "badge-0002")]["badge_silent_at"] == "09:40:00"
    assert by[("P1", "badge-0001")]["student_id"] == "S1"
    assert "badge-0004" not in {r["tag"] for r in rows}  # no consent, no row
    out = capsys.readouterr().out
    assert "6 row(s)" in out and "Ada" not in out
    first = (school / "attendance.csv").read_bytes()
    assert main(args(school)) == 0
    assert (school / "attendance.csv").read_bytes() == first


def test_evacuation_window_option(school: Path) -> None:
    assert main(args(school, "--evacuation", "2026-09-07T09:00/2026-09-07T09:30")) == 0
    rows = {(r["period"], r["tag"]): r for r in csv.DictReader((school / "attendance.csv").open())}
    assert rows[("P1", "badge-0002")]["status"] == "present"  # 09:20 is on time once cut
    assert rows[("P1", "badge-0002")]["evacuated_minutes"] == "30.00"


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('P2 = { start = "10:00"', 'P2 = { start = "09:30"', "periods.P2.start"),
        ('end = "11:00"', 'end = "25:00"', "periods.P2.end"),
        ('room = "room-b"', 'room = "room-z"', "lessons[1].room"),
        ('group = "7A"\nperiod = "P2"', 'group = "9Z"\nperiod = "P2"', "lessons[1].group"),
    ],
)
def test_bad_timetable_exits_2_naming_the_key(
    school: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, needle: str
) -> None:
    (school / "timetable.toml").write_text(TIMETABLE.replace(old, new, 1))
    assert main(args(school)) == 2
    err = capsys.readouterr().err
    assert "timetable.toml" in err and needle in err and "Fix:" in err
    assert "Traceback" not in err and not (school / "attendance.csv").exists()


def test_bad_events_and_missing_roster(school: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (school / "events.jsonl").write_text(
        EVENTS[0] + "\n{not json\n" + event(1.0, "b", "z", "wander")
    )
    assert main(args(school)) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "line 3: unknown kind 'wander'" in err
    (school / "timetable.toml").write_text(TIMETABLE.replace('roster = "roster.csv"\n', ""))
    assert main(args(school)) == 2
    assert "--roster" in capsys.readouterr().err


def test_cli_process_has_no_traceback(school: Path) -> None:
    (school / "timetable.toml").write_text(TIMETABLE.replace('"09:00"', '"9 o\'clock"'))
    proc = subprocess.run(
        [sys.executable, "-m", "sts", *args(school)], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 2
    assert "periods.P1.start" in proc.stderr and "Traceback" not in proc.stderr
