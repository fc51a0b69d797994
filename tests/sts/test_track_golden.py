"""`sts track` output is pinned byte for byte: the seam and the lean core change no event.

Each case builds its input deterministically, runs `sts track` as a subprocess and
compares the events and alerts files with the golden copies in tests/golden/, made by
the code before the refactor. To accept an intended change of output, rerun with
STS_UPDATE_GOLDEN=1 and say why in the commit message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.scripted_walks import RadioModel, Walk, hear, sample_truth
from tests.sts.test_cmd_track import NORTHFIELD, ROSTER, boiler_walk, sts
from tests.sts.test_cmd_track import RULES as RESTRICTED_ONLY

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def positions_file(tmp: Path) -> list[str]:
    rows = boiler_walk("badge-0001") + boiler_walk("badge-0007") + boiler_walk("stranger-99")
    rows.sort(key=lambda r: (float(r.split(",")[0]), r))
    path = tmp / "positions.csv"
    path.write_text("\n".join(["t,tag,level,x,y,uncertainty_m", *rows]) + "\n")
    return ["--positions", str(path)]


def readings_file(tmp: Path) -> list[str]:
    from sts.floorplan_io import load_floorplan

    fp = load_floorplan(NORTHFIELD).floorplan
    walks = [
        Walk("badge-0001", (0.0, 20.0, 40.0, 120.0), (70.0, 89.0, 89.0, 89.0),
             (66.0, 64.5, 64.5, 64.5), ("L0",) * 4),
        Walk("badge-0002", (0.0, 60.0, 120.0), (10.0, 40.0, 70.0),
             (66.0, 66.0, 66.0), ("L0",) * 3),
    ]  # fmt: skip
    truth = sample_truth(walks, [lv.id for lv in fp.levels], 0.0, 120.0, 0.5)
    rb = hear(truth, fp, RadioModel(interval_s=0.5), seed=4)
    tags = [w.tag for w in walks]
    lines = ["t,tag,reader,rssi"] + [
        f"{t:.3f},{tags[g]},{fp.readers[int(k)].id},{int(s)}"
        for t, g, k, s in zip(
            rb.t.tolist(), rb.tag.tolist(), rb.reader.tolist(), rb.rssi.tolist(), strict=True
        )
    ]
    path = tmp / "readings.csv"
    path.write_text("\n".join(lines) + "\n")
    return ["--readings", str(path)]


def restricted_rules(tmp: Path) -> list[str]:
    path = tmp / "rules.toml"
    path.write_text(RESTRICTED_ONLY)
    return ["--rules", str(path)]


def northfield_rules(tmp: Path) -> list[str]:
    return ["--rules", str(NORTHFIELD / "rules.toml")]


def no_rules(tmp: Path) -> list[str]:
    return []


Maker = Callable[[Path], list[str]]
CASES: dict[str, tuple[Maker, Maker, bool]] = {
    # name: (input, rules, with roster)
    "positions_restricted": (positions_file, restricted_rules, True),
    "positions_northfield": (positions_file, northfield_rules, True),
    "positions_open_consent": (positions_file, no_rules, False),
    "readings_northfield": (readings_file, northfield_rules, True),
}


def run_case(tmp: Path, source: list[str], rules: list[str], roster: bool) -> tuple[bytes, bytes]:
    ev, al = tmp / "events.jsonl", tmp / "alerts.jsonl"
    extra = ["--roster", str(ROSTER)] if roster else []
    alerts_out = ["--alerts-out", str(al)] if rules else []
    r = sts("track", "--floorplan", str(NORTHFIELD), *extra, *rules, *source,
            "--events-out", str(ev), *alerts_out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return ev.read_bytes(), al.read_bytes() if rules else b""


def compare(name: str, events: bytes, alerts: bytes) -> None:
    files = {f"{name}.events.jsonl": events}
    if alerts:
        files[f"{name}.alerts.jsonl"] = alerts
    for file, got in files.items():
        path = GOLDEN / file
        if os.environ.get("STS_UPDATE_GOLDEN"):
            path.write_bytes(got)
        assert got == path.read_bytes(), f"{file} differs from the golden copy"


@pytest.mark.parametrize("name", sorted(CASES))
def test_track_matches_golden(tmp_path: Path, name: str) -> None:
    make_source, make_rules, roster = CASES[name]
    events, alerts = run_case(tmp_path, make_source(tmp_path), make_rules(tmp_path), roster)
    assert events, "a golden case must produce events"
    compare(name, events, alerts)


@pytest.mark.slow
def test_demo_morning_track_matches_golden(tmp_path: Path) -> None:
    """The demo's 8 M readings through `sts track`: the same 869 events and 10 alerts."""
    r = sts("demo", "--batch", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    # the demo's own outputs (10 s ticks: the same events, alert evidence of other ages)
    demo = tmp_path / "demo"
    assert (demo / "events.jsonl").read_bytes() == (
        GOLDEN / "demo_morning.events.jsonl"
    ).read_bytes()
    assert (demo / "alerts.jsonl").read_bytes() == (
        GOLDEN / "demo_command.alerts.jsonl"
    ).read_bytes()
    source = ["--readings", str(tmp_path / "demo" / "readings.csv")]
    events, alerts = run_case(tmp_path, source, northfield_rules(tmp_path), True)
    compare("demo_morning", events, alerts)
