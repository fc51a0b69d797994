"""Uncertainty coverage per badge gain on a simulated turning-room run.

`benchmarks/turning_tracks.py OUT --gains 0,8,-8,16` gives walker i a badge of gain
gains[i % 4]; this locates the run as `sts accuracy` does with a calibration and prints,
per gain, the share of fixes within 1x the radius, the median error and median radius:
whether an under-covered run is under-covered because of its off-survey badges or for
all of them.

    .venv/bin/python benchmarks/coverage_by_gain.py OUT/t2 tcal.toml --gains 0,8,-8,16
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.turning_tracks import badge_gain  # noqa: E402
from sts.accuracy import Survey, evaluate  # noqa: E402
from sts.calibration_toml import read_calibration  # noqa: E402
from sts.survey_files import load_survey  # noqa: E402


def main() -> int:
    """Print coverage, error and radius per badge gain."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="folder from turning_tracks.py")
    parser.add_argument("calibration", type=Path, help="from sts calibrate on the survey run")
    parser.add_argument("--gains", default="0,8,-8,16", help="as given to turning_tracks.py")
    args = parser.parse_args()
    gains = tuple(float(g) for g in args.gains.split(","))
    files = load_survey(
        ROOT / "floorplans/tetam",
        args.run / "readings.csv",
        args.run / "truth.csv",
        "coverage_by_gain",
    )
    cal = read_calibration(args.calibration, files.floorplan)
    survey = Survey(files.floorplan, files.readings.batch, files.truth)
    survey = replace(survey, calibration=cal.readers, config=cal.locator_config(survey.config))
    fixes = evaluate(survey)["engine"]
    walker = np.array([int(files.readings.tag_ids[t].split("-")[1]) for t in fixes.tag])
    gain = np.array([badge_gain(i, gains) for i in walker])
    covered = fixes.error <= fixes.radius
    print(
        f"all: {covered.mean():.0%} of {len(covered)} fixes, median {np.median(fixes.error):.2f} m"
    )
    for g in gains:
        mine = gain == g
        error, radius = np.median(fixes.error[mine]), np.median(fixes.radius[mine])
        print(
            f"{g:+.0f} dB: {covered[mine].mean():.0%} within 1x, median error {error:.2f} m, "
            f"median radius {radius:.2f} m"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
