"""`sts drill`: the report of a simulated drill, and the identical report from its replay."""

from __future__ import annotations

import json
from pathlib import Path

from sts.cli import main

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"

SCENARIO = f"""version = 1
name = "short drill"
campus = "{NORTHFIELD}"
date = 2026-11-30
start = "10:41:30"
duration_min = 5
seed = 11
[population]
students = 30
staff = 2
[evacuation]
pre_movement_s = 10
[[events]]
at = "10:42"
type = "fire_alarm"
[[events]]
at = "10:46"
type = "all_clear"
"""


def test_drill_report_and_its_replay_are_identical(tmp_path, capsys):
    scenario = tmp_path / "drill.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    assert main(["drill", str(scenario), "--report", str(tmp_path / "a")]) == 0
    assert (
        main(["drill", "--replay", str(tmp_path / "a" / "run"), "--report", str(tmp_path / "b")])
        == 0
    )
    names = ["report.md", "report.html", "drill-record.json", "accounted.png", "exits.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    record = json.loads((tmp_path / "a" / "drill-record.json").read_text())
    assert record["record"]["drill_type"] == "drill"
    assert record["record"]["alarm_time"] == "10:42:00"
    counts = record["record"]["counts"]
    assert (
        counts["expected"] >= 25
        and counts["accounted"] + counts["unaccounted"] + counts["unknown"] == counts["expected"]
    )
    assert record["egress_s"]["n"] > 10 and record["egress_s"]["p50"] > 10
    assert sum(v["persons"] for v in record["exits"].values()) >= record["egress_s"]["n"] - 1
    md = (tmp_path / "a" / "report.md").read_text()
    for heading in (
        "Drill record",
        "Egress time",
        "Accounted per muster point",
        "Exits",
        "Zone clearance",
        "Stragglers",
    ):
        assert f"## {heading}" in md


def test_drill_needs_a_scenario_or_a_replay(tmp_path, capsys):
    assert main(["drill", "--report", str(tmp_path / "r")]) == 2
    assert "give either a SCENARIO or --replay" in capsys.readouterr().err
