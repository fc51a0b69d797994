"""Bad input is refused with the file, the place and the fix, never turned into silence.

Each case runs a real command on real files (subprocess) and checks: exit 2, a message
that names the place and says `Fix`/what to do, no traceback, and for summaries built
from no data, never "all accounted".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
ROSTER = NORTHFIELD / "roster.csv"
RULES = NORTHFIELD / "rules.toml"
EVENT = (
    '{"duration_s":null,"evidence":null,"kind":"inside","level":"L0","t":1796027200.0,'
    '"tag":"badge-0001","visit":"v1","zone":"L0-classroom-1"}\n'
)


def sts(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sts", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip


def refused(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def campus_copy(tmp: Path) -> Path:
    campus = tmp / "campus"
    shutil.copytree(NORTHFIELD, campus, ignore=shutil.ignore_patterns("*.py", "scenarios"))
    return campus


def track(campus: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    positions = tmp / "positions.csv"
    positions.write_text("t,tag,level,x,y,uncertainty_m\n1796027200,badge-0001,L0,10,10,1\n")
    return sts("track", "--floorplan", campus, "--roster", campus / "roster.csv",
               "--rules", campus / "rules.toml", "--positions", positions,
               "--events-out", tmp / "ev.jsonl")  # fmt: skip


@pytest.mark.parametrize(
    "key, value",
    [("after_min", "nan"), ("after_min", "inf"), ("after_min", "100000"), ("after_min", "-1")],
)
def test_rules_numbers_that_are_not_minutes_are_refused(
    tmp_path: Path, key: str, value: str
) -> None:
    campus = campus_copy(tmp_path)
    text = (campus / "rules.toml").read_text()
    (campus / "rules.toml").write_text(
        text + f'\n[[rules]]\nid = "extra"\ntype = "restricted_zone"\nkinds = ["restricted"]\n'
        f"{key} = {value}\n"
    )
    refused(track(campus, tmp_path), "rules.toml", key, "Fix")
    assert not (tmp_path / "ev.jsonl").exists(), "nothing is written before the inputs pass"


def test_a_non_utf8_byte_in_a_rules_comment_names_its_line_and_byte(tmp_path: Path) -> None:
    campus = campus_copy(tmp_path)
    data = (campus / "rules.toml").read_bytes()
    (campus / "rules.toml").write_bytes(b"# caf\xe9 rules\n" + data)
    refused(track(campus, tmp_path), "rules.toml", "line 1", "byte 5", "UTF-8")


def test_timetable_minutes_past_a_day_are_refused(tmp_path: Path) -> None:
    campus = campus_copy(tmp_path)
    tt = campus / "timetable.toml"
    tt.write_text(tt.read_text() + "\n")
    text = tt.read_text()
    assert "late_after_min" in text
    tt.write_text(text.replace("late_after_min = ", "late_after_min = 1e9 #", 1))
    refused(track(campus, tmp_path), "timetable.toml", "late_after_min")


def test_the_roster_takes_a_bom_and_refuses_utf16_typos_and_line_breaks(tmp_path: Path) -> None:
    campus = campus_copy(tmp_path)
    roster = campus / "roster.csv"
    text = ROSTER.read_text()
    roster.write_bytes(b"\xef\xbb\xbf" + text.encode())
    r = track(campus, tmp_path)
    assert r.returncode == 0, r.stderr
    roster.write_bytes(text.encode("utf-16"))
    refused(track(campus, tmp_path), "roster.csv", "UTF-16", "UTF-8")
    roster.write_text(text.replace(",granted", ",grantd", 1))
    refused(track(campus, tmp_path), "roster.csv", "line 2", "grantd")
    lines = text.splitlines()
    sid, tag, name, group, consent = lines[1].split(",")
    lines[1] = f'{sid},{tag},"{name}\nJr",{group},{consent}'
    roster.write_text("\n".join(lines) + "\n")
    refused(track(campus, tmp_path), "roster.csv", "line break")


def test_missing_paths_and_folders_say_how_to_fix_them(tmp_path: Path) -> None:
    r = sts("attendance", "--floorplan", NORTHFIELD, "--timetable", NORTHFIELD / "timetable.toml",
            "--events", tmp_path / "nope.jsonl", "--out", tmp_path / "a.csv")  # fmt: skip
    refused(r, "nope.jsonl", "no such file", "Fix")
    r = sts("attendance", "--floorplan", NORTHFIELD, "--timetable", NORTHFIELD / "timetable.toml",
            "--events", tmp_path, "--out", tmp_path / "a.csv")  # fmt: skip
    refused(r, "folder", "Fix")


def rollcall(events: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return sts("rollcall", "--floorplan", NORTHFIELD, "--rules", RULES, "--roster", ROSTER,
               "--events", events, "--start", "2026-11-30T08:30", *extra)  # fmt: skip


def test_a_roll_call_from_no_data_never_says_all_accounted(tmp_path: Path) -> None:
    empty = tmp_path / "events.jsonl"
    empty.write_text("")
    r = rollcall(empty)
    refused(r, "no events", "Fix")
    assert "ALL ACCOUNTED" not in r.stdout
    # events, but nobody on campus when the evacuation starts: no data either
    late = tmp_path / "late.jsonl"
    late.write_text(EVENT.replace("1796027200.0", "1796029200.0"))  # 09:00, after the start
    r = rollcall(late, "--at", "2026-11-30T10:00")
    assert r.returncode == 1 and "NO DATA" in r.stdout and "ALL ACCOUNTED" not in r.stdout


def test_marking_safe_a_tag_nobody_wears_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(EVENT)
    r = rollcall(events, "--mark-safe", "badge-9999:Ms Day:seen at the gate", "--at",
                 "2026-11-30T09:00")  # fmt: skip
    refused(r, "badge-9999", "roster")


def test_attendance_from_no_data_is_refused_and_unknown_events_counted(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    out = tmp_path / "attendance.csv"
    r = sts("attendance", "--floorplan", NORTHFIELD, "--timetable", NORTHFIELD / "timetable.toml",
            "--events", events, "--out", out, "--from", "2026-11-30T08:00",
            "--to", "2026-11-30T12:00")  # fmt: skip
    refused(r, "no events", "no data")
    assert not out.exists()
    events.write_text(EVENT + EVENT.replace("badge-0001", "badge-9999"))
    r = sts("attendance", "--floorplan", NORTHFIELD, "--timetable", NORTHFIELD / "timetable.toml",
            "--events", events, "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "1 events of tags not on the roster" in r.stderr


@pytest.mark.parametrize(
    "content, needle",
    [
        (b'{"t": 1796027200, "tag": "a", "kind": "enter"}\n\xff\xfe\n', "line 2"),
        (b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested"),
        (b'{"t": 1796027200000, "tag": "badge-0001", "kind": "enter"}\n', "outside"),
    ],
)
def test_events_files_that_are_not_events_are_refused(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(content)
    refused(rollcall(events), "events.jsonl", needle)


def test_a_floorplan_without_zones_is_an_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.geojson"
    plan.write_text(
        '{"type":"FeatureCollection","sts":{"site":{"id":"s","name":"S"},'
        '"levels":[{"id":"L0","ordinal":0,"name":"G"}],"crs":"local"},"features":[]}'
    )
    refused(sts("floorplan", "validate", plan), "no zones")
    deep = tmp_path / "deep.geojson"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    refused(sts("floorplan", "validate", deep), "nested too deeply")


@pytest.mark.parametrize(
    "command, option, value",
    [
        ("locate", "--interval", "1e-9"),
        ("locate", "--interval", "nan"),
        ("locate", "--window", "1e9"),
        ("track", "--step", "inf"),
        ("track", "--step", "1e-300"),
        ("track", "--dwell", "-1"),
        ("track", "--stale", "1e30"),
    ],
)
def test_options_outside_their_range_are_refused(
    tmp_path: Path, command: str, option: str, value: str
) -> None:
    readings = tmp_path / "readings.csv"
    readings.write_text("t,tag,reader,rssi\n1796027200,badge-0001,rd-L0-corridor-a-4,-70\n")
    out = ["--out", tmp_path / "p.csv"] if command == "locate" else ["--events-out", tmp_path / "e"]
    r = sts(command, "--floorplan", NORTHFIELD, "--readings", readings, *out, f"{option}={value}")
    refused(r, option, "Fix")


def test_readings_written_twice_count_once_and_are_reported(tmp_path: Path) -> None:
    from tests.sts.test_track_golden import GOLDEN, northfield_rules, readings_file, run_case

    source = readings_file(tmp_path)
    path = Path(source[1])
    lines = path.read_text().splitlines()
    doubled = [lines[0]] + [
        x for i, line in enumerate(lines[1:]) for x in [line] * (1 + (i % 5 == 0))
    ]
    path.write_text("\n".join(doubled) + "\n")
    events, _ = run_case(tmp_path, source, northfield_rules(tmp_path), True)
    assert events == (GOLDEN / "readings_northfield.events.jsonl").read_bytes()
    r = sts("track", "--floorplan", NORTHFIELD, "--roster", ROSTER, "--readings", path,
            "--events-out", tmp_path / "again.jsonl")  # fmt: skip
    assert r.returncode == 0
    assert f"{len(doubled) - len(lines)} duplicate" in r.stderr
