"""`sts calibrate`: fit the path-loss model of every reader from a survey (readings + truth).

The file it writes is described in sts/calibration_toml.py and docs/positioning.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from sts.calibration_toml import format_calibration, window_statistic_name
from sts.output_files import write_replacing
from sts.radio_map_file import radio_map_bytes, sidecar_path
from sts.survey_files import load_survey
from sts.survey_fit import DEFAULT_TAG_HEIGHT, WINDOW_CANDIDATES, fit_site


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
        "--no-gain-offset",
        dest="gain_offset",
        action="store_false",
        help="do not estimate each tag's gain offset online where this calibration is used "
        "(by default it is: badges unlike the surveyed one are held to the survey's accuracy)",
    )
    p.add_argument(
        "--no-radio-map",
        dest="radio_map",
        action="store_false",
        help="do not fit the survey's radio map (by default it is fitted, and kept where it "
        "locates survey walks it was not fitted on better; written beside --out as "
        "NAME.radiomap.npz)",
    )
    p.add_argument(
        "--window-statistic",
        choices=("fit", *WINDOW_CANDIDATES),
        default="fit",
        help="what each reader's readings in a window become: chosen on survey walks the "
        "fits were not made on (fit, the default), their upper quartile or their mean",
    )
    # Accepted for scripts written when the estimate was an option; it is the default now.
    p.add_argument("--gain-offset", dest="gain_offset", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fit and write the calibration."""
    survey = load_survey(args.floorplan, args.readings, args.truth, "calibrate")
    floorplan, readings, truth = survey.floorplan, survey.readings, survey.truth
    fit = fit_site(
        floorplan,
        readings.batch,
        truth,
        args.tag_height,
        args.min_samples,
        GainSpec() if args.gain_offset else None,
        radio_map="fit" if args.radio_map else "off",
        window=args.window_statistic,
    )
    cal, per, config = fit.calibration, fit.readers, fit.locating
    radio_map = config.radio_map
    ids = [r.id for r in floorplan.readers]
    inputs = (args.floorplan, args.readings, args.truth)
    sidecar = sidecar_path(args.out)
    if radio_map is not None:
        write_replacing(sidecar, radio_map_bytes(radio_map, floorplan), inputs=inputs)
    name = sidecar.name if radio_map is not None else None
    text = format_calibration(cal, ids, args.tag_height, config.uncertainty_scale, config, name)
    write_replacing(args.out, text, inputs=inputs)
    glob = cal.global_
    print(
        f"sts calibrate: global rssi_1m {glob.rssi_1m:.1f} dBm, exponent {glob.exponent:.2f}, "
        f"sigma {glob.sigma_db:.1f} dB, body {config.body_db:.1f} dB, "
        f"walls {config.wall_db:.1f} dB each; {len(per)} readers; "
        f"window {window_statistic_name(config.window)}, "
        f"reported radius x{config.uncertainty_scale:.2f}{_widening_note(config)}"
        f"{_gain_note(config)}, {_map_note(args.radio_map, sidecar, radio_map is not None)} "
        f"-> {args.out}",
        file=sys.stderr,
    )
    return 0


def _widening_note(config: LocatorConfig) -> str:
    """The radius's widening beyond the gain estimate's band ('' when none fitted)."""
    if config.uncertainty_per_gain_db == 0:
        return ""
    return f" (+{config.uncertainty_per_gain_db:.2f} per dB of gain estimate beyond its band)"


def _gain_note(config: LocatorConfig) -> str:
    """The gain offset estimate's reference for the summary line ('' when off)."""
    if config.gain is None:
        return ", gain offset off"
    return f", gain offset reference {config.gain.reference_db:+.1f} dB"


def _map_note(fitted: bool, sidecar: Path, kept: bool) -> str:
    """What became of the radio map, for the summary line."""
    if not fitted:
        return "radio map off"
    if not kept:
        return "radio map dropped (it did not locate held-out survey walks better)"
    return f"radio map -> {sidecar}"
