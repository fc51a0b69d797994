"""The simulated tetam room (benchmarks/turning_tracks.py): walkers who turn, badges of
other gains; `sts calibrate` on one run measures the body and the gain offset's reference
and says so in the file; `sts accuracy` on another run beats the centroid with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from geometry.errors import ConfigError
from sts.calibration_toml import CalibrationFile, read_calibration
from sts.floorplan_io import load_floorplan
from tests.sts.test_cmd_accuracy import ROOT, sts

TETAM = ROOT / "floorplans" / "tetam"


def simulate(out: Path, seed: int, gains: str) -> Path:
    """Four walkers for 120 s: readings.csv and truth.csv in `out`."""
    proc = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "turning_tracks.py", out, "--seed", str(seed),
         "--gains", gains, "--walkers", "4", "--duration", "120"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def test_calibrated_with_the_gain_offset_it_locates_turning_walkers_of_other_gains(
    tmp_path: Path,
) -> None:
    survey = simulate(tmp_path / "survey", 11, "0")
    run = simulate(tmp_path / "run", 12, "8,-8,16,0")
    cal = tmp_path / "cal.toml"
    proc = sts(
        "calibrate", "--floorplan", TETAM, "--readings", survey / "readings.csv",
        "--truth", survey / "truth.csv", "--out", cal,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    read = read_calibration(cal, load_floorplan(TETAM).floorplan)
    assert read.gain_offset and 1.5 < read.body_db < 6.0  # the radio's body loss is 6 dB
    proc = sts(
        "accuracy", "--floorplan", TETAM, "--readings", run / "readings.csv",
        "--truth", run / "truth.csv", "--calibration", cal, "--report", tmp_path / "report",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    methods = json.loads((tmp_path / "report" / "accuracy.json").read_text())["methods"]
    engine, centroid = methods["engine"], methods["weighted centroid (4 strongest)"]
    assert engine["median_m"] < 0.8 * centroid["median_m"]
    assert engine["p90_m"] < centroid["p90_m"]
    assert 0.5 < engine["coverage_1x"] < 0.85
    notes = (tmp_path / "report" / "accuracy.md").read_text()
    assert "gain offset estimated online (as calibrated)" in notes and "body loss" in notes


@pytest.mark.parametrize(
    "line", ["gain_offset = 1", 'gain_offset = "yes"', "body_db = -2", "gain_reference_db = 40"]
)
def test_a_bad_body_or_gain_line_in_the_calibration_is_a_config_error(
    tmp_path: Path, line: str
) -> None:
    cal = tmp_path / "cal.toml"
    cal.write_text(
        '[calibration]\nformat = "sts-calibration"\nversion = 1\n'
        f"{line}\n[calibration.global]\nrssi_1m = -62.0\nexponent = 1.4\nsigma_db = 6.0\n"
    )
    with pytest.raises(ConfigError, match="calibration"):
        read_calibration(cal, load_floorplan(TETAM).floorplan)


def test_what_the_survey_measured_reaches_the_locator_and_nothing_else_does() -> None:
    plain = CalibrationFile({}, 1.3, 0.4)
    config = plain.locator_config(LocatorConfig())
    assert (config.tag_height, config.uncertainty_scale) == (1.3, 0.4)
    assert config.body_db == 0.0 and config.gain is None
    measured = CalibrationFile({}, 1.3, 0.4, body_db=3.5, gain_offset=True, gain_reference_db=2.2)
    config = measured.locator_config(LocatorConfig())
    assert config.body_db == 3.5 and config.gain == GainSpec(reference_db=2.2)
