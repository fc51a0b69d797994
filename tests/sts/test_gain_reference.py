"""The gain offset's reference, fitted on a survey: the surveyed badge's own mean fix
residual, so that badge is taken as no offset; `sts calibrate` writes it by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.batches import ReadingBatch
from engine.gain_offset import GainSpec, applied_offset
from engine.locate import Locator, LocatorConfig
from engine.windowing import Statistic
from sts.calibration_toml import read_calibration
from sts.floorplan_io import load_floorplan
from sts.survey_fit import fit_gain_reference
from tests.engine.test_gain_offset import SURVEYED
from tests.engine.test_locate import tetam_floorplan, tetam_track
from tests.sts.test_cmd_accuracy import sts
from tests.sts.test_turning_room import TETAM, simulate


def integrator_on(fp, batch: ReadingBatch, reference_db: float) -> np.ndarray:
    """The badge's gain offset estimate after each second of its track, dB."""
    config = LocatorConfig(tag_height=1.8, gain=GainSpec(reference_db=reference_db))
    locator = Locator(fp, {}, config)
    second = np.floor(batch.t - batch.t[0]).astype(int)
    out = []
    for s in range(int(second.max()) + 1):
        locator.process(batch.take(np.flatnonzero(second == s)))
        state = locator.gain_state_db()
        out.append(state[0] if len(state) else 0.0)
    return np.array(out)


def test_the_reference_keeps_a_badge_like_the_surveyed_one_uncorrected() -> None:
    fp = tetam_floorplan()
    batch, _ = tetam_track("straight_01", fp)
    plain = LocatorConfig(tag_height=1.8)
    reference = fit_gain_reference(fp, batch, {}, 1.8, plain)
    # The upper-quartile window reads hotter than the mean model: a positive residual.
    assert reference > 1.0
    # The value tests/engine/test_gain_offset.py takes as the surveyed badge's.
    assert abs(reference - SURVEYED) < 0.2
    # On another track of the same badge, with the reference the estimate stays within
    # the dead band but for a few seconds just past it (under 1 dB applied); counted from
    # 0 it is beyond the band most of the time.
    other, _ = tetam_track("straight_04", fp)
    spec = GainSpec()
    estimate = integrator_on(fp, other, reference)
    assert np.mean(np.abs(estimate) > spec.dead_band_db) < 0.15
    assert np.abs(applied_offset(estimate, spec)).max() < 1.0
    assert np.mean(np.abs(integrator_on(fp, other, 0.0)) > spec.dead_band_db) > 0.4
    # A survey badge 6 dB hotter, located with the same model, leaves more.
    hot = ReadingBatch(batch.t, batch.tag, batch.reader, batch.rssi + 6)
    assert fit_gain_reference(fp, hot, {}, 1.8, plain) > reference + 1.0


def test_calibrate_writes_the_gain_offset_by_default_and_not_when_told(tmp_path: Path) -> None:
    survey = simulate(tmp_path / "survey", 11, "0")
    floorplan = load_floorplan(TETAM).floorplan
    files = ("--readings", survey / "readings.csv", "--truth", survey / "truth.csv")
    for flags, expected in (((), True), (("--no-gain-offset",), False)):
        cal = tmp_path / f"cal{len(flags)}.toml"
        proc = sts("calibrate", "--floorplan", TETAM, *files, "--out", cal, *flags)
        assert proc.returncode == 0, proc.stderr
        read = read_calibration(cal, floorplan)
        assert read.gain_offset is expected
        config = read.locator_config(LocatorConfig())
        if expected:
            # The survey chose the mean window (tests/sts/test_window_fit.py): the badges'
            # residual about the mean model is near 0, not the upper quartile's 1-4 dB.
            assert config.window.statistic == Statistic.MEAN
            assert config.gain is not None and abs(config.gain.reference_db) < 1.0
            assert "gain offset reference" in proc.stderr
        else:
            assert config.gain is None and "gain offset off" in proc.stderr
