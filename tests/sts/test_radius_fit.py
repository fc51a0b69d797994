"""The radius model `sts calibrate` fits: the scale for every fix, and a widening where
the gain offset estimate is beyond its band when the survey's fixes there need it; the
calibration file carries it, and a file from before it loads as it always did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from geometry.calibration import Calibration
from geometry.errors import ConfigError
from geometry.model import ReaderCalibration
from sts.calibration_toml import format_calibration, read_calibration
from sts.floorplan_io import load_floorplan
from sts.survey_fit import fit_widening
from tests.sts.test_cmd_accuracy import KOLAKOWSKI, ROOT, head, sts
from tests.sts.test_turning_room import TETAM

CAL_HEAD = '[calibration]\nformat = "sts-calibration"\nversion = 1\nuncertainty_scale = 0.4\n'
CAL_GLOBAL = "[calibration.global]\nrssi_1m = -62.0\nexponent = 1.4\nsigma_db = 6.0\n"


def fixes(rng: np.random.Generator, n: int, share_beyond: float):
    """Errors, filter radii and dB beyond the band of a site where fixes beyond the
    band (model error the estimate soaks up) err 2.5 times as far as the filter says."""
    radius = rng.uniform(4.0, 8.0, n)
    beyond = np.where(rng.random(n) < share_beyond, rng.uniform(1.0, 4.0, n), 0.0)
    sigma = 0.25 * radius * np.where(beyond > 0, 2.5, 1.0)
    error = np.hypot(rng.normal(0, sigma), rng.normal(0, sigma))
    return error, radius, beyond


def test_the_widening_holds_coverage_where_the_estimate_is_beyond_its_band() -> None:
    rng = np.random.default_rng(5)
    survey = fixes(rng, 3000, 0.1)
    model = fit_widening(*survey)
    single = fit_widening(survey[0], survey[1], np.zeros(len(survey[0])))
    assert model.per_gain_db > 0.2 and single.per_gain_db == 0.0
    # Held out, with many more fixes beyond the band (a badge walking where the survey
    # calibrated badly): the single scale is over-confident there and overall; the
    # fitted model covers about 65% in each part.
    error, radius, beyond = fixes(rng, 3000, 0.5)
    out = beyond > 0
    widened = model.radius(radius, beyond + 3.0, dead_band_db=3.0)
    scaled = single.radius(radius, None, dead_band_db=3.0)
    assert 0.6 < np.mean(error <= widened) < 0.7
    assert 0.6 < np.mean(error[out] <= widened[out]) < 0.7
    assert np.mean(error <= scaled) < 0.5
    assert np.mean(error[out] <= scaled[out]) < 0.3


def test_a_survey_that_never_leaves_the_band_fits_no_widening() -> None:
    rng = np.random.default_rng(6)
    error, radius, _ = fixes(rng, 2000, 0.0)
    model = fit_widening(error, radius, np.zeros(len(error)))
    assert model.per_gain_db == 0.0
    assert 0.66 < np.mean(error <= model.scale * radius) < 0.70  # RADIUS_PERCENTILE, 68
    # A handful beyond it say too little to fit on.
    beyond = np.zeros(len(error))
    beyond[:10] = 2.0
    assert fit_widening(error * np.where(beyond > 0, 4.0, 1.0), radius, beyond).per_gain_db == 0


def test_the_calibration_file_carries_the_widening_and_old_files_load_without(
    tmp_path: Path,
) -> None:
    floorplan = load_floorplan(TETAM).floorplan
    ids = [r.id for r in floorplan.readers]
    fit = ReaderCalibration(-62.0, 1.4, 6.0)
    n = len(ids)
    cal = Calibration(fit, np.full(n, -62.0), np.full(n, 1.4), np.full(n, 6.0), np.full(n, 100))
    locating = LocatorConfig(
        gain=GainSpec(reference_db=2.0), uncertainty_scale=0.3, uncertainty_per_gain_db=0.62
    )
    path = tmp_path / "cal.toml"
    path.write_text(format_calibration(cal, ids, 1.2, 0.3, locating))
    config = read_calibration(path, floorplan).locator_config(LocatorConfig())
    assert (config.uncertainty_scale, config.uncertainty_per_gain_db) == (0.3, 0.62)
    # A file written before the widening: the radius is the scaled one, as before.
    old = tmp_path / "old.toml"
    old.write_text(CAL_HEAD + "gain_offset = true\n" + CAL_GLOBAL)
    config = read_calibration(old, floorplan).locator_config(LocatorConfig())
    assert (config.uncertainty_scale, config.uncertainty_per_gain_db) == (0.4, 0.0)
    # No widening fitted: the key is not written (the files of before, byte for byte).
    assert "per_gain" not in format_calibration(cal, ids, 1.2, 0.3, LocatorConfig())


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("gain_offset = true\nuncertainty_per_gain_db = -1\n", r"in \[0, 5\]"),
        ("gain_offset = true\nuncertainty_per_gain_db = 9\n", r"in \[0, 5\]"),
        ('gain_offset = true\nuncertainty_per_gain_db = "big"\n', "finite number"),
        ("uncertainty_per_gain_db = 0.5\n", "gain_offset is not true"),
    ],
)
def test_a_bad_widening_line_is_a_config_error_naming_the_key(
    tmp_path: Path, lines: str, message: str
) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(CAL_HEAD + lines + CAL_GLOBAL)
    with pytest.raises(ConfigError, match=message) as caught:
        read_calibration(path, load_floorplan(TETAM).floorplan)
    assert "calibration.uncertainty_per_gain_db" in str(caught.value)


def test_sts_accuracy_reports_the_widening_and_only_the_radius_moves(tmp_path: Path) -> None:
    floorplan = ROOT / "floorplans" / "kolakowski"
    readings = head(KOLAKOWSKI / "robot_test_readings.csv", tmp_path / "r.csv", 3000)
    # A badge 10 dB hotter than the calibration: its estimate goes beyond the band.
    lines = readings.read_text().splitlines()
    cols = lines[0].split(",")
    at = cols.index("rssi")
    hot = [lines[0]] + [
        ",".join(f"{float(v) + 10:g}" if i == at else v for i, v in enumerate(row.split(",")))
        for row in lines[1:]
    ]
    readings.write_text("\n".join(hot) + "\n")
    gain = "tag_height_m = 1.3\ngain_offset = true\ngain_reference_db = 2.0\n"
    reports = {}
    for widening in ("", "uncertainty_per_gain_db = 0.3\n"):
        cal = tmp_path / f"cal{len(widening)}.toml"
        cal.write_text(CAL_HEAD + gain + widening + CAL_GLOBAL)
        report = tmp_path / f"report{len(widening)}"
        proc = sts(
            "accuracy", "--floorplan", floorplan, "--readings", readings,
            "--truth", KOLAKOWSKI / "robot_test_truth.csv", "--calibration", cal,
            "--report", report,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        reports[bool(widening)] = json.loads((report / "accuracy.json").read_text())
    plain, widened = reports[False]["methods"]["engine"], reports[True]["methods"]["engine"]
    assert widened["median_m"] == plain["median_m"] and widened["fixes"] == plain["fixes"]
    assert widened["coverage_1x"] > plain["coverage_1x"]
    assert any("radius widened by 0.30" in note for note in reports[True]["notes"])
    assert not any("radius widened" in note for note in reports[False]["notes"])
