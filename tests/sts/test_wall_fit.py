"""`sts calibrate`'s wall loss: recovered from a survey of a walled plan, none on a plan
with one room, written in the calibration file and checked when read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.locate import LocatorConfig
from geometry.errors import ConfigError
from geometry.model import Floorplan
from sts.calibration_toml import format_calibration, read_calibration
from sts.floorplan_io import write_floorplan
from sts.readings_csv import Truth
from sts.survey_fit import fit_survey, fit_walls
from tests.engine.test_wall_loss import CAL, HEIGHT, heard, two_rooms
from tests.sts.test_cmd_accuracy import sts

WALL_DB = 6.0


def survey(fp: Floorplan, wall_db: float) -> tuple:
    """A walk over a 1 m grid of both rooms, heard by every reader, 2 dB of noise."""
    gx, gy = np.meshgrid(np.arange(0.5, 16.0, 1.0), np.arange(0.5, 8.0, 1.0))
    xy = np.repeat(np.column_stack((gx.ravel(), gy.ravel())), 4, axis=0)
    batch = heard(fp, xy, wall_db, noise_db=2.0, seed=5)
    t = np.arange(len(xy), dtype=np.float64) + 0.25
    truth = Truth(t, np.zeros(len(t), np.int32), xy[:, 0], xy[:, 1], ("L0",) * len(t), ("b",), ())
    return batch, truth


def test_calibrate_recovers_the_loss_per_wall_and_the_open_path_loss() -> None:
    fp = two_rooms()
    wall_db, cal = fit_walls(fp, *survey(fp, WALL_DB), HEIGHT)
    # Counted at the fixes (as the locator will), a little under the true loss.
    assert 0.7 * WALL_DB < wall_db < 1.1 * WALL_DB
    assert abs(cal.global_.rssi_1m - CAL.rssi_1m) < 2.0
    assert abs(cal.global_.exponent - CAL.exponent) < 0.25
    # Without the wall term the fit soaks the walls up in a steeper slope.
    plain = fit_survey(fp, *survey(fp, WALL_DB), HEIGHT)
    assert plain.global_.exponent > cal.global_.exponent + 0.2


def test_a_plan_with_one_room_fits_no_wall_loss_and_the_plain_path_loss() -> None:
    fp = two_rooms(split=False)
    batch, truth = survey(fp, 0.0)
    wall_db, cal = fit_walls(fp, batch, truth, HEIGHT)
    assert wall_db == 0.0
    plain = fit_survey(fp, batch, truth, HEIGHT)
    np.testing.assert_array_equal(cal.rssi_1m, plain.rssi_1m)
    np.testing.assert_array_equal(cal.exponent, plain.exponent)


def test_the_wall_loss_is_written_and_read_back(tmp_path: Path) -> None:
    fp = two_rooms()
    cal = fit_survey(fp, *survey(fp, 0.0), HEIGHT)
    ids = [r.id for r in fp.readers]
    path = tmp_path / "cal.toml"
    path.write_text(format_calibration(cal, ids, HEIGHT, 0.5, LocatorConfig(wall_db=4.25)))
    read = read_calibration(path, fp)
    assert read.wall_db == 4.25
    assert read.locator_config(LocatorConfig()).wall_db == 4.25
    path.write_text(format_calibration(cal, ids, HEIGHT, 0.5, LocatorConfig()))
    assert "wall_db" not in path.read_text() and read_calibration(path, fp).wall_db == 0.0


@pytest.mark.parametrize("line", ["wall_db = -1", "wall_db = 45", 'wall_db = "6"'])
def test_a_bad_wall_loss_in_the_calibration_is_a_config_error_naming_it(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(
        '[calibration]\nformat = "sts-calibration"\nversion = 1\n'
        f"{line}\n[calibration.global]\nrssi_1m = -62.0\nexponent = 1.4\nsigma_db = 6.0\n"
    )
    with pytest.raises(ConfigError, match=r"calibration\.wall_db"):
        read_calibration(path, two_rooms())


def write_survey(folder: Path, fp: Floorplan, wall_db: float) -> tuple[Path, Path]:
    """The survey as readings.csv and truth.csv (tag "b", reader ids of the plan)."""
    batch, truth = survey(fp, wall_db)
    ids = [r.id for r in fp.readers]
    readings = folder / "readings.csv"
    rows = zip(batch.t.tolist(), batch.reader.tolist(), batch.rssi.tolist(), strict=True)
    readings.write_text(
        "t,tag,reader,rssi\n" + "".join(f"{t:.3f},b,{ids[r]},{v:.1f}\n" for t, r, v in rows)
    )
    truth_csv = folder / "truth.csv"
    points = zip(truth.t.tolist(), truth.x.tolist(), truth.y.tolist(), strict=True)
    truth_csv.write_text("t,tag,x,y\n" + "".join(f"{t:.3f},b,{x},{y}\n" for t, x, y in points))
    return readings, truth_csv


def test_sts_calibrate_writes_the_wall_loss_and_sts_accuracy_says_it_used_it(
    tmp_path: Path,
) -> None:
    fp = two_rooms()
    plan = write_floorplan(fp, tmp_path / "floorplan.geojson")
    readings, truth = write_survey(tmp_path, fp, WALL_DB)
    cal = tmp_path / "cal.toml"
    proc = sts(
        "calibrate", "--floorplan", plan, "--readings", readings, "--truth", truth,
        "--out", cal, "--tag-height", str(HEIGHT),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "walls 4." in proc.stderr or "walls 5." in proc.stderr
    assert 0.7 * WALL_DB < read_calibration(cal, fp).wall_db < 1.1 * WALL_DB
    proc = sts(
        "accuracy", "--floorplan", plan, "--readings", readings, "--truth", truth,
        "--calibration", cal, "--report", tmp_path / "report",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "loss per wall between rooms" in (tmp_path / "report" / "accuracy.md").read_text()
