"""`sts track` end to end on the Northfield plan: events, alerts, consent, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.scripted_walks import RadioModel, Walk, hear, sample_truth
from transports.json_codec import decode_event

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
ROSTER = NORTHFIELD / "roster.csv"

pytestmark = pytest.mark.skipif(
    not (NORTHFIELD / "floorplan.geojson").exists(), reason="Northfield plan not present"
)

RULES = """version = 1

[[rules]]
id = "restricted-areas"
type = "restricted_zone"
kinds = ["restricted"]
severity = "critical"
"""


def sts(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sts", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def boiler_walk(tag: str, t0: float = 1000.0) -> list[str]:
    """Corridor -> into the boiler room (x 84..94, y 59..70 on L0), stay a minute."""
    rows = []
    for i in range(90):
        t = t0 + i
        if i < 20:
            x, y = 70.0 + i * 0.5, 66.0  # west of the room, outside
        else:
            x, y = 89.0, 64.5  # the middle of the boiler room
        rows.append(f"{t:.3f},{tag},L0,{x:.3f},{y:.3f},1.00")
    return rows


@pytest.fixture
def positions(tmp_path: Path) -> Path:
    rows = ["t,tag,level,x,y,uncertainty_m"]
    rows += boiler_walk("badge-0001")
    rows += boiler_walk("badge-0007")  # consent pending: never processed
    rows += boiler_walk("stranger-99")  # not on the roster
    path = tmp_path / "positions.csv"
    body = sorted(rows[1:], key=lambda r: (float(r.split(",")[0]), r))
    path.write_text("\n".join([rows[0], *body]) + "\n")
    return path


def test_track_positions_with_roster_and_rules(tmp_path: Path, positions: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    ev, al = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    r = sts(
        "track", "--floorplan", str(NORTHFIELD), "--roster", str(ROSTER), "--rules", str(rules),
        "--positions", str(positions), "--events-out", str(ev), "--alerts-out", str(al),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    events = [json.loads(line) for line in ev.read_text().splitlines()]
    for e in events:
        assert {"t", "tag", "zone", "level", "kind", "visit", "duration_s", "evidence"} <= set(e)
    assert {e["tag"] for e in events} == {"badge-0001"}
    enters = [e for e in events if e["kind"] == "enter" and e["zone"] == "L0-boiler-room"]
    assert len(enters) == 1 and enters[0]["visit"].startswith("badge-0001:L0-boiler-room:")
    alerts = [json.loads(line) for line in al.read_text().splitlines()]
    assert [(a["rule"], a["tag"], a["zone"], a["state"], a["severity"]) for a in alerts] == [
        ("restricted-areas", "badge-0001", "L0-boiler-room", "raised", "critical")
    ]
    assert {"id", "t"} <= set(alerts[0])
    # nothing of the non-consented badges anywhere, not even on stderr
    for text in (ev.read_text(), al.read_text(), r.stderr, r.stdout):
        assert "badge-0007" not in text and "stranger-99" not in text
    assert "180 rows dropped for lack of consent" in r.stderr
    # the events decode back to the engine's values
    assert decode_event(ev.read_text().splitlines()[0]).tag == "badge-0001"


def test_track_is_deterministic_and_without_roster_says_so(tmp_path: Path, positions: Path) -> None:
    outs = []
    for k in range(2):
        ev = tmp_path / f"events{k}.jsonl"
        r = sts("track", "--floorplan", str(NORTHFIELD), "--positions", str(positions),
                "--events-out", str(ev))  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "every tag counts as a consented student" in r.stderr
        outs.append(ev.read_bytes())
    assert outs[0] == outs[1]
    tags = {json.loads(line)["tag"] for line in outs[0].decode().splitlines()}
    assert tags == {"badge-0001", "badge-0007", "stranger-99"}


@pytest.mark.slow
def test_track_readings_end_to_end(tmp_path: Path) -> None:
    """Scripted readings (plain path-loss radio) -> sts track --readings -> events."""
    from sts.floorplan_io import load_floorplan

    fp = load_floorplan(NORTHFIELD).floorplan
    walk = Walk("badge-0001", (0.0, 20.0, 40.0, 120.0), (70.0, 89.0, 89.0, 89.0),
                (66.0, 64.5, 64.5, 64.5), ("L0",) * 4)  # fmt: skip
    truth = sample_truth([walk], [lv.id for lv in fp.levels], 0.0, 100.0, 0.5)
    rb = hear(truth, fp, RadioModel(interval_s=0.5), seed=4)
    path = tmp_path / "readings.csv"
    lines = ["t,tag,reader,rssi"] + [
        f"{t:.3f},badge-0001,{fp.readers[int(k)].id},{int(s)}"
        for t, k, s in zip(rb.t.tolist(), rb.reader.tolist(), rb.rssi.tolist(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    ev = tmp_path / "events.jsonl"
    r = sts("track", "--floorplan", str(NORTHFIELD), "--roster", str(ROSTER),
            "--readings", str(path), "--events-out", str(ev))  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = [decode_event(line) for line in ev.read_text().splitlines()]
    boiler = [e for e in events if e.zone == "L0-boiler-room"]
    assert boiler and boiler[0].kind.value in ("enter", "inside")
    assert np.isfinite(boiler[0].t)


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ("t,tag,x,y\n1,a,1,1\n", [], "header"),
        (None, [], "no such file"),
        ("t,tag,level,x,y,uncertainty_m\n1,a,L0,1,1,1\n", ["--alerts-out", "x.jsonl"], "--rules"),
    ],
)
def test_track_bad_input_exits_2_without_traceback(
    tmp_path: Path, content: str | None, extra: list[str], message: str
) -> None:
    path = tmp_path / "positions.csv"
    if content is not None:
        path.write_text(content)
    r = sts("track", "--floorplan", str(NORTHFIELD), "--positions", str(path),
            "--events-out", str(tmp_path / "ev.jsonl"), *extra)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_track_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_text(
        "t,tag,level,x,y,uncertainty_m\n"
        "1,badge-0001,L0,89,64.5,1\n"
        "2,badge-0001,L9,89,64.5,1\n"
        "3,badge-0001,L0,abc,64.5,1\n"
        "4,badge-0001,L0,89,64.5,1\n"
    )
    r = sts("track", "--floorplan", str(NORTHFIELD), "--positions", str(path),
            "--events-out", str(tmp_path / "ev.jsonl"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "line 3: unknown level 'L9'" in r.stderr
    assert "line 4:" in r.stderr


@pytest.mark.skipif(not (NORTHFIELD / "rules.toml").exists(), reason="no Northfield rules")
def test_track_with_the_northfield_rules_and_timetable(tmp_path: Path, positions: Path) -> None:
    ev, al = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    r = sts(
        "track", "--floorplan", str(NORTHFIELD), "--roster", str(ROSTER),
        "--rules", str(NORTHFIELD / "rules.toml"), "--positions", str(positions),
        "--events-out", str(ev), "--alerts-out", str(al),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(line) for line in al.read_text().splitlines()]
    assert ("badge-0001", "L0-boiler-room", "critical") in {
        (a["tag"], a["zone"], a["severity"]) for a in alerts
    }
