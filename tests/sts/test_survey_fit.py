"""The radius scale `sts calibrate` fits: about 65% of the survey's own fixes within it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.locate import LocatorConfig
from sts.accuracy import Survey, evaluate, score
from sts.floorplan_io import load_floorplan
from sts.readings_csv import read_readings, read_truth
from sts.survey_fit import calibrate, fit_uncertainty_scale

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "kolakowski-flat"


def test_the_fitted_scale_puts_about_65_percent_of_the_survey_within_the_radius() -> None:
    floorplan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    readings = read_readings(DATA / "calib4_readings.csv", [r.id for r in floorplan.readers])
    truth = read_truth(DATA / "calib4_truth.csv", readings.tag_ids)
    _, per_reader = calibrate(floorplan, readings.batch, truth, 1.3)
    scale = fit_uncertainty_scale(floorplan, readings.batch, truth, per_reader, 1.3)
    config = replace(LocatorConfig(), tag_height=1.3)
    unscaled = score(
        floorplan, evaluate(Survey(floorplan, readings.batch, truth, per_reader, config))["engine"]
    )
    config = replace(config, uncertainty_scale=scale)
    scaled = score(
        floorplan, evaluate(Survey(floorplan, readings.batch, truth, per_reader, config))["engine"]
    )
    assert scaled.coverage_1x is not None and unscaled.coverage_1x is not None
    assert 0.6 <= scaled.coverage_1x <= 0.7
    # The filter's own radius is far from that: the scale is what makes it honest.
    assert abs(unscaled.coverage_1x - 0.65) > 0.1
