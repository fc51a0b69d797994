"""`sts accuracy` end to end on slices of both real data sets, and its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from engine.locate import locate_all
from sts.accuracy import Fixes, score
from sts.floorplan_io import load_floorplan
from sts.readings_csv import read_readings, read_truth
from sts.survey_fit import fit_site
from sts.tetam_mbd import mbd_to_csv

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
KOLAKOWSKI = DATA / "kolakowski-flat"
METHODS = ("engine", "weighted centroid (4 strongest)", "plain least squares")


def sts(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m sts` in a subprocess, as an installer would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "sts", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip


def head(src: Path, dst: Path, rows: int) -> Path:
    """The header and the first `rows` rows of a CSV file."""
    lines = src.read_text().splitlines(keepends=True)
    dst.write_text("".join(lines[: rows + 1]))
    return dst


def check_report(report: Path) -> dict[str, dict[str, float | None]]:
    """The report's three files exist and agree; returns the JSON's methods."""
    assert (report / "error_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| engine |" in (report / "accuracy.md").read_text()
    methods: dict[str, dict[str, float | None]] = json.loads(
        (report / "accuracy.json").read_text()
    )["methods"]
    assert tuple(methods) == METHODS
    # The baselines are scored on the same fixes as the engine.
    assert len({m["fixes"] for m in methods.values()}) == 1
    assert methods["engine"]["fixes"] > 20
    return methods


def test_kolakowski_calibrated_on_one_set_measured_on_another(tmp_path: Path) -> None:
    cal = tmp_path / "cal.toml"
    proc = sts(
        "calibrate", "--floorplan", ROOT / "floorplans" / "kolakowski",
        "--readings", KOLAKOWSKI / "calib4_readings.csv",
        "--truth", KOLAKOWSKI / "calib4_truth.csv", "--tag-height", "1.3", "--out", cal,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    readings = head(KOLAKOWSKI / "robot_test_readings.csv", tmp_path / "r.csv", 2500)
    proc = sts(
        "accuracy", "--floorplan", ROOT / "floorplans" / "kolakowski", "--readings", readings,
        "--truth", KOLAKOWSKI / "robot_test_truth.csv", "--calibration", cal,
        "--report", tmp_path / "report",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    methods = check_report(tmp_path / "report")
    engine = methods["engine"]
    # One short calibration set covers part of the flat only: a loose bound.
    assert engine["median_m"] is not None and 0 < engine["median_m"] < 5.0
    assert engine["coverage_1x"] is not None
    assert engine["coverage_1x"] <= engine["coverage_2x"]  # type: ignore[operator]
    # The flat has rooms: room-level accuracy is reported; one level: no floor accuracy.
    assert engine["room_accuracy"] is not None and engine["floor_accuracy"] is None
    assert methods["weighted centroid (4 strongest)"]["coverage_1x"] is None


def test_tetam_without_calibration_uses_the_default_model(tmp_path: Path) -> None:
    mbd = DATA / "tetam-ble" / "straight_05_all_sensors.mbd"
    readings, truth = tmp_path / "r.csv", tmp_path / "t.csv"
    mbd_to_csv(mbd, readings, truth, "badge-1", limit=3000)
    proc = sts(
        "accuracy", "--floorplan", ROOT / "floorplans" / "tetam", "--readings", readings,
        "--truth", truth, "--report", tmp_path / "report",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    methods = check_report(tmp_path / "report")
    # One walkable room: no room-level figure to give.
    assert methods["engine"]["room_accuracy"] is None
    assert "default path-loss model" in (tmp_path / "report" / "accuracy.md").read_text()
    proc = sts(
        "accuracy", "--floorplan", ROOT / "floorplans" / "tetam", "--readings", readings,
        "--truth", truth, "--gain-offset", "--report", tmp_path / "gain",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    check_report(tmp_path / "gain")
    assert "gain offset estimated online" in (tmp_path / "gain" / "accuracy.md").read_text()


def test_truth_of_another_tag_is_a_clear_error(tmp_path: Path) -> None:
    readings = head(KOLAKOWSKI / "robot_test_readings.csv", tmp_path / "r.csv", 300)
    truth = tmp_path / "t.csv"
    truth.write_text(
        KOLAKOWSKI.joinpath("robot_test_truth.csv").read_text().replace(",robot,", ",other,")
    )
    proc = sts(
        "accuracy", "--floorplan", ROOT / "floorplans" / "kolakowski", "--readings", readings,
        "--truth", truth, "--report", tmp_path / "report",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "tag ids" in proc.stderr


def fixes(x: list[float], radius: list[float], true_x: list[float], y: float = 4.0) -> Fixes:
    """Fixes on one horizontal line of the kolakowski flat."""
    n = len(x)
    zeros = np.zeros(n, np.int32)
    return Fixes(
        np.arange(n, dtype=np.float64), zeros, np.array(x), np.full(n, y), zeros,
        np.array(radius), np.array(true_x), np.full(n, y), np.full(n, -1, np.int32),
    )  # fmt: skip


def test_coverage_counts_the_truth_within_1x_and_2x_the_radius() -> None:
    plan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    # Errors 0.5, 1.5, 2.5, 3.5 m, each with a 1 m radius.
    s = score(plan, fixes([4.0, 4.0, 4.0, 4.0], [1.0] * 4, [4.5, 5.5, 3.0 - 1.5, 4.0 - 3.5]))
    assert s.coverage_1x == pytest.approx(0.25)
    assert s.coverage_2x == pytest.approx(0.5)
    assert s.median_m == pytest.approx(2.0)


def test_room_accuracy_compares_the_rooms_of_fix_and_truth() -> None:
    plan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    # Bedroom (x < 2.6) and living room (2.7 < x < 6.3) at y = 4.
    s = score(plan, fixes([1.0, 1.0, 4.0, 4.0], [1.0] * 4, [1.5, 3.5, 5.0, 2.0]))
    assert s.room_accuracy == pytest.approx(0.5)


def test_a_fix_on_a_rooms_edge_is_in_that_room_as_the_zone_engine_counts_it() -> None:
    plan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    # The bedroom's outer wall is x = 0 (where the solver's bounds stop a fix), its
    # wall to the living room x = 2.58; the truth is inside the bedroom each time.
    s = score(plan, fixes([0.0, 2.58, 0.0], [1.0] * 3, [1.0, 2.0, 1.5]))
    assert s.room_accuracy == pytest.approx(1.0)


def test_no_fix_on_the_calibrated_flat_lies_outside_it() -> None:
    plan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    ids = [r.id for r in plan.readers]
    survey = read_readings(KOLAKOWSKI / "calib3_readings.csv", ids)
    truth = read_truth(KOLAKOWSKI / "calib3_truth.csv", survey.tag_ids)
    fit = fit_site(plan, survey.batch, truth, 1.3)
    run = read_readings(KOLAKOWSKI / "robot_test_readings.csv", ids).batch
    positions, _ = locate_all(
        plan, run.take(np.argsort(run.t, kind="stable")), fit.readers, fit.locating
    )
    flat = next(z.polygon for z in plan.zones if z.id == "flat")
    outside = shapely.distance(flat, shapely.points(positions.x, positions.y))
    # The walkable raster tests a cell by its centre: at most half a cell's diagonal out.
    assert outside.max() <= fit.locating.walkable_cell * np.sqrt(0.5) + 1e-9
