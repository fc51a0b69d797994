"""Per badge of a survey: what the per-tag gain offset estimate does, and what it costs.

    .venv/bin/python benchmarks/gain_offset_trace.py --floorplan F --readings R.csv \
        --truth T.csv --calibration CAL.toml

One row per tag with scored fixes (tags pseudonymous in the recordings): scored fixes,
median error with the calibration's locator and with the estimate off (the same
calibration, `gain=None`), the estimate after each second of the tag's readings
(10th / 50th / 90th percentile, dB), the share of those seconds in which some of it is
applied (beyond the dead band), the room the truth spends most seconds in, and the
median number of readers that heard it in a second. What found the drift in
benchmarks/RESULTS.md, "Gain offset drift on the corrected simulator".
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.batches import ReadingBatch  # noqa: E402
from engine.locate import Locator, LocatorConfig  # noqa: E402
from geometry.model import Floorplan  # noqa: E402
from geometry.zone_index import ZoneIndex  # noqa: E402
from sts.accuracy import Survey, evaluate, room_of  # noqa: E402
from sts.calibration_toml import read_calibration  # noqa: E402
from sts.survey_files import load_survey  # noqa: E402


def estimates_per_second(survey: Survey) -> dict[int, np.ndarray]:
    """Per tag code: the gain offset estimate after each second in which it was heard."""
    batch = survey.batch.take(np.argsort(survey.batch.t, kind="stable"))
    locator = Locator(survey.floorplan, survey.calibration, survey.config)
    second = np.floor(batch.t - batch.t[0]).astype(np.int64)
    cuts = np.flatnonzero(np.diff(second)) + 1
    trace: dict[int, list[float]] = {}
    for rows in np.split(np.arange(len(batch)), cuts):
        locator.process(batch.take(rows))
        state = locator.gain_state_db()
        for code in np.unique(batch.tag[rows]).tolist():
            if code < len(state):
                trace.setdefault(code, []).append(float(state[code]))
    return {code: np.array(values) for code, values in trace.items()}


def main_room(floorplan: Floorplan, x: np.ndarray, y: np.ndarray, level: tuple[str, ...]) -> str:
    """The smallest room holding the most of the truth's points, and its kind."""
    level_ids = [lv.id for lv in floorplan.levels]
    # A truth without levels is on the one level of the plan.
    index = np.array([level_ids.index(lv) if lv else 0 for lv in level], np.int32)
    zones = ZoneIndex.from_floorplan(floorplan)
    room = room_of(zones, x, y, index)
    if not len(room):
        return "-"
    counts = np.bincount(room + 1)
    if counts.argmax() == 0:
        return "-"
    zone = zones.zone(int(counts.argmax()) - 1)
    return f"{zone.id} ({zone.kind.value})"


def readers_per_second(batch: ReadingBatch, code: int) -> float:
    """Median number of distinct readers that heard the tag in a second."""
    mine = batch.tag == code
    second = np.floor(batch.t[mine]).astype(np.int64)
    pairs = np.unique(np.column_stack((second, batch.reader[mine])), axis=0)
    return float(np.median(np.unique(pairs[:, 0], return_counts=True)[1]))


def main() -> int:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("floorplan", "readings", "truth", "calibration"):
        p.add_argument(f"--{name}", type=Path, required=True)
    args = p.parse_args()
    files = load_survey(args.floorplan, args.readings, args.truth, "gain_offset_trace")
    cal = read_calibration(args.calibration, files.floorplan)
    config = cal.locator_config(LocatorConfig())
    if config.gain is None:
        print("the calibration has the gain offset off: nothing to trace", file=sys.stderr)
        return 2
    survey = Survey(files.floorplan, files.readings.batch, files.truth, cal.readers, config)
    with_estimate = evaluate(survey)["engine"]
    off = replace(config, gain=None, uncertainty_per_gain_db=0.0)
    without = evaluate(replace(survey, config=off))["engine"]
    trace = estimates_per_second(survey)
    truth = files.truth
    print(
        "| tag | fixes | median m, estimate | median m, off | estimate p10 / p50 / p90 dB "
        "| applied | room (truth) | readers/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for code in np.unique(with_estimate.tag).tolist():
        mine = with_estimate.tag == code
        est = trace.get(code, np.zeros(1))
        q10, q50, q90 = np.percentile(est, [10, 50, 90])
        applied = float(np.mean(np.abs(est) > config.gain.dead_band_db))
        rows = np.flatnonzero(truth.tag == code)
        room = main_room(
            files.floorplan, truth.x[rows], truth.y[rows], tuple(truth.level[i] for i in rows)
        )
        print(
            f"| {truth.tag_ids[code]} | {int(mine.sum())} "
            f"| {np.median(with_estimate.error[mine]):.2f} "
            f"| {np.median(without.error[without.tag == code]):.2f} "
            f"| {q10:+.1f} / {q50:+.1f} / {q90:+.1f} | {applied:.0%} | {room} "
            f"| {readers_per_second(files.readings.batch, code):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
