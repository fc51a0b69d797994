"""`sts rollcall` on Northfield: counts, the missing list, unknown badges, marking safe."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sts.cli import main

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"


def at(h: int, m: int = 0) -> float:
    return datetime(2026, 9, 7, h, m, tzinfo=ZoneInfo("Europe/London")).timestamp()


def event(t: float, tag: str, zone: str, kind: str, age: float = 0.0) -> str:
    evidence = {"age_s": age, "level": "L0", "uncertainty_m": 2.5, "x": 10.0, "y": 20.0}
    obj = {"duration_s": None, "evidence": evidence, "kind": kind, "level": "L0", "t": t}
    return json.dumps(obj | {"tag": tag, "visit": "", "zone": zone}, sort_keys=True)


EVENTS = [
    *(event(at(10, 0), f"badge-000{i}", "L0-safe-area", "inside") for i in (1, 2, 3, 4)),
    event(at(10, 0), "badge-0004", "L0-classroom-1", "inside"),
    event(at(10, 0), "badge-0007", "L0-safe-area", "inside"),  # no consent: ignored
    event(at(10, 4), "badge-0001", "L0-muster-a", "enter"),
    event(at(10, 5), "badge-0002", "L0-muster-b", "enter"),
    event(at(10, 6), "badge-0003", "", "stale", age=30.0),
]


@pytest.fixture()
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(EVENTS) + "\n")
    return path


def args(events: Path, *extra: str) -> list[str]:
    return [
        "rollcall",
        "--floorplan",
        str(NORTHFIELD),
        "--rules",
        str(NORTHFIELD / "rules.toml"),
        "--roster",
        str(NORTHFIELD / "roster.csv"),
        "--events",
        str(events),
        "--start",
        "2026-09-07T10:02",
        "--at",
        "2026-09-07T10:10",
        *extra,
    ]


def test_rollcall_text_report(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(events)) == 1  # not all accounted
    out = capsys.readouterr().out
    assert "roll call (drill): NOT ALL ACCOUNTED" in out
    assert "expected 4, accounted 2, marked safe 0, unaccounted 1, unknown 1" in out
    assert "at L0-muster-a: 1" in out and "at L0-muster-b: 1" in out
    lines = out.splitlines()
    unknown = lines.index(next(ln for ln in lines if "unknown     badge-0003" in ln))
    unaccounted = lines.index(next(ln for ln in lines if "unaccounted badge-0004" in ln))
    assert unknown < unaccounted  # unknown first
    assert "last in L0-classroom-1 (600 s ago +/- 2.5 m)" in lines[unaccounted]
    assert "badge-0007" not in out


def test_rollcall_json_and_mark_safe(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--json", "--mode", "live", "--mark-safe", "badge-0004:Ms Reed:in the office"]
    assert main(args(events, *extra)) == 1  # badge-0003 is still unknown
    doc = json.loads(capsys.readouterr().out)
    report = doc["report"]
    assert (report["mode"], report["marked_safe"], report["unknown"]) == ("live", 1, 1)
    assert report["all_accounted"] is False
    assert [m["tag"] for m in report["missing"]] == ["badge-0003"]
    raised = {(a["tag"], a["state"]) for a in doc["muster_alerts"]}
    assert ("badge-0003", "raised") in raised and ("badge-0004", "raised") in raised
    # Vouching for the silent badge too completes the roll call.
    more = [*extra, "--mark-safe", "badge-0003:Mr Lee:seen at the gate"]
    assert main(args(events, *more)) == 0
    assert json.loads(capsys.readouterr().out)["report"]["all_accounted"] is True


def test_rollcall_bad_input_exits_2(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(events, "--mark-safe", "badge-0004")) == 2
    assert "TAG:BY:REASON" in capsys.readouterr().err
    bad = args(events)
    bad[bad.index("--start") + 1] = "ten past ten"
    assert main(bad) == 2
    assert "not an ISO date-time" in capsys.readouterr().err
