"""`sts demo` end to end: the scripted morning raises the alerts its scene is made of."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sts.cli import main
from sts.demo_morning import plan_morning
from sts.floorplan_io import load_floorplan
from sts.roster_csv import read_roster
from sts.timetable_toml import load_timetable

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"


def test_the_morning_script_is_deterministic_and_covers_the_roster() -> None:
    fp = load_floorplan(NORTHFIELD).floorplan
    roster = read_roster(NORTHFIELD / "roster.csv")
    tt = load_timetable(NORTHFIELD / "timetable.toml", fp, roster).timetable
    a = plan_morning(fp, tt, roster, seed=3)
    b = plan_morning(fp, tt, roster, seed=3)
    assert a == b
    assert {w.tag for w in a.walks} == {e.tag for e in roster.entries}
    scene = a.scene
    assert len({scene.late, scene.boiler_room, scene.leaves_safe_area, scene.long_toilet}) == 4


@pytest.mark.slow
def test_demo_morning_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--batch", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    fp = load_floorplan(NORTHFIELD).floorplan
    roster = read_roster(NORTHFIELD / "roster.csv")
    tt = load_timetable(NORTHFIELD / "timetable.toml", fp, roster).timetable
    scene = plan_morning(fp, tt, roster).scene

    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    raised = {(a["rule"], a["tag"]) for a in alerts if a["state"] == "raised"}
    assert ("restricted-areas", scene.boiler_room) in raised
    assert ("younger-stay-inside", scene.leaves_safe_area) in raised
    # Critical alerts wait for a person: none is resolved by the system.
    assert not [a for a in alerts if a["severity"] == "critical" and a["state"] == "resolved"]

    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    entered = {(e["tag"], e["zone"]) for e in events if e["kind"] == "enter"}
    assert (scene.boiler_room, "L0-boiler-room") in entered
    assert (scene.leaves_safe_area, "L0-staff-car-park") in entered
    # Badges without consent leave no trace in any output.
    refused = {e.tag for e in roster.entries if not e.consent}
    assert refused and not refused & {e["tag"] for e in events}
    assert not refused & {a["tag"] for a in alerts}

    with (tmp_path / "attendance.csv").open() as f:
        rows = list(csv.DictReader(f))
    registration = {r["tag"]: r["status"] for r in rows if r["period"] == "REG"}
    period1 = {r["tag"]: r["status"] for r in rows if r["period"] == "P1"}
    assert registration[scene.late] == "absent" and period1[scene.late] == "late"
    assert sum(s == "present" for s in registration.values()) == len(registration) - 1
    assert "Alerts:" in printed and "Attendance" in printed
