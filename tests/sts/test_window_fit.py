"""`sts calibrate`'s window statistic: chosen on survey walks the path loss was not fitted
on (the mean where the noise is even, the upper quartile where a body fades readings),
written to the calibration only when it is not the default, read back checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.batches import ReadingBatch
from engine.locate import LocatorConfig
from engine.windowing import Statistic, WindowSpec
from geometry.errors import ConfigError
from sts.calibration_toml import format_calibration, read_calibration
from sts.readings_csv import Truth
from sts.survey_fit import WINDOW_CANDIDATES, fit_site, fit_survey, fit_window
from tests.engine.test_radio_map import HEIGHT, hall, survey
from tests.sts.test_cmd_accuracy import KOLAKOWSKI, ROOT, sts

#: A body between badge and reader: this share of the readings comes in this much weaker.
FADE_SHARE = 0.3
FADE_DB = 15.0


def faded(batch: ReadingBatch, seed: int = 3) -> ReadingBatch:
    """`batch` with FADE_SHARE of its readings FADE_DB weaker."""
    rng = np.random.default_rng(seed)
    drop = np.where(rng.random(len(batch)) < FADE_SHARE, FADE_DB, 0.0)
    return ReadingBatch(batch.t, batch.tag, batch.reader, (batch.rssi - drop).astype(np.float32))


def chosen(fp, batch: ReadingBatch, truth: Truth) -> WindowSpec:
    """The window `fit_window` chooses for the hall's plain locator."""
    return fit_window(fp, batch, truth, LocatorConfig(tag_height=HEIGHT))


def test_even_noise_chooses_the_mean() -> None:
    fp = hall()
    batch, truth = survey(fp, noise_db=4.0)
    assert chosen(fp, batch, truth) == WINDOW_CANDIDATES["mean"]


def test_readings_faded_by_a_body_keep_the_upper_quartile() -> None:
    fp = hall()
    batch, truth = survey(fp, noise_db=4.0)
    assert chosen(fp, faded(batch), truth) == WINDOW_CANDIDATES["quantile"] == WindowSpec()


def test_a_survey_with_nothing_to_judge_keeps_the_default() -> None:
    fp = hall()
    batch, truth = survey(fp, walks=1)
    early = batch.take(np.flatnonzero(batch.t < 3.0))  # too few readings to fit either half
    assert chosen(fp, early, truth) == WindowSpec()


def test_sts_calibrate_writes_the_mean_and_the_locator_reads_it(tmp_path: Path) -> None:
    fp = hall()
    batch, truth = survey(fp, noise_db=4.0)
    fit = fit_site(fp, batch, truth, HEIGHT, gain=None, body=False, radio_map="off")
    assert fit.locating.window.statistic == Statistic.MEAN
    path = tmp_path / "cal.toml"
    ids = [r.id for r in fp.readers]
    scale = fit.locating.uncertainty_scale
    path.write_text(format_calibration(fit.calibration, ids, HEIGHT, scale, fit.locating))
    assert 'window_statistic = "mean"' in path.read_text()
    read = read_calibration(path, fp)
    config = read.locator_config(LocatorConfig())
    assert config.window == WINDOW_CANDIDATES["mean"]


def test_a_file_that_chose_the_default_or_predates_the_choice_says_nothing(
    tmp_path: Path,
) -> None:
    fp = hall()
    batch, truth = survey(fp)
    cal = fit_survey(fp, batch, truth, HEIGHT)
    path = tmp_path / "cal.toml"
    path.write_text(format_calibration(cal, [r.id for r in fp.readers], HEIGHT, 0.5))
    assert "window_statistic" not in path.read_text()
    assert read_calibration(path, fp).locator_config(LocatorConfig()).window == WindowSpec()


@pytest.mark.parametrize("value", ['"median"', "1", '""'])
def test_an_unknown_window_statistic_names_the_key_and_the_choices(
    tmp_path: Path, value: str
) -> None:
    fp = hall()
    batch, truth = survey(fp)
    cal = fit_survey(fp, batch, truth, HEIGHT)
    text = format_calibration(cal, [r.id for r in fp.readers], HEIGHT, 0.5)
    path = tmp_path / "cal.toml"
    path.write_text(
        text.replace("[calibration.global]", f"window_statistic = {value}\n\n[calibration.global]")
    )
    with pytest.raises(
        ConfigError,
        match=r"cal.toml: calibration.window_statistic must be one of \"quantile\", \"mean\"",
    ):
        read_calibration(path, fp)


@pytest.mark.parametrize("statistic", ["quantile", "mean"])
def test_sts_calibrate_can_be_told_the_statistic(tmp_path: Path, statistic: str) -> None:
    flat = KOLAKOWSKI
    out = tmp_path / "cal.toml"
    proc = sts(
        "calibrate", "--floorplan", ROOT / "floorplans" / "kolakowski",
        "--readings", flat / "calib1_readings.csv", "--truth", flat / "calib1_truth.csv",
        "--tag-height", "1.3", "--out", out, "--window-statistic", statistic,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"window {statistic}," in proc.stderr
    assert ('window_statistic = "mean"' in out.read_text()) is (statistic == "mean")
