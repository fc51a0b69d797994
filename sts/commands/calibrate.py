"""`sts calibrate`: fit the path-loss model of every reader from a survey (readings + truth).

The file it writes is described in sts/calibration_toml.py and docs/positioning.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from sts.calibration_toml import format_calibration
from sts.output_files import write_replacing
from sts.survey_files import load_survey
from sts.survey_fit import DEFAULT_TAG_HEIGHT, fit_body_db, fit_survey, fit_uncertainty_scale


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `calibrate` sub-command."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit per-reader path-loss parameters from readings with known positions",
        description=(
            "Fit rssi = rssi_1m - 10 n log10(d) per reader (and globally) from a survey: "
            "readings.csv (t,tag,reader,rssi) and truth.csv (t,tag,x,y[,level]); the truth "
            "is interpolated to each reading's time. Writes a TOML file for `sts locate`."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--readings", required=True, type=Path, help="readings.csv")
    p.add_argument("--truth", required=True, type=Path, help="truth.csv")
    p.add_argument("--out", required=True, type=Path, help="calibration TOML to write")
    p.add_argument(
        "--tag-height",
        type=float,
        default=DEFAULT_TAG_HEIGHT,
        help=f"height of the tag above the floor, m (default {DEFAULT_TAG_HEIGHT})",
    )
    p.add_argument(
        "--min-samples", type=int, default=30, help="readings a reader needs for its own fit"
    )
    p.add_argument(
        "--gain-offset",
        action="store_true",
        help="estimate each tag's gain offset online wherever this calibration is used "
        "(badges unlike the surveyed one); the reported radius is fitted for it",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fit and write the calibration."""
    survey = load_survey(args.floorplan, args.readings, args.truth, "calibrate")
    floorplan, readings, truth = survey.floorplan, survey.readings, survey.truth
    cal = fit_survey(floorplan, readings.batch, truth, args.tag_height, args.min_samples)
    ids = [r.id for r in floorplan.readers]
    per = {rid: cal.reader(i) for i, rid in enumerate(ids)}
    body = fit_body_db(floorplan, readings.batch, truth, per, args.tag_height)
    config = LocatorConfig(gain=GainSpec() if args.gain_offset else None, body_db=body)
    scale = fit_uncertainty_scale(floorplan, readings.batch, truth, per, args.tag_height, config)
    text = format_calibration(cal, ids, args.tag_height, scale, config)
    write_replacing(args.out, text, inputs=(args.floorplan, args.readings, args.truth))
    glob = cal.global_
    print(
        f"sts calibrate: global rssi_1m {glob.rssi_1m:.1f} dBm, exponent {glob.exponent:.2f}, "
        f"sigma {glob.sigma_db:.1f} dB, body {body:.1f} dB; {len(per)} readers; "
        f"reported radius x{scale:.2f} "
        f"-> {args.out}",
        file=sys.stderr,
    )
    return 0
