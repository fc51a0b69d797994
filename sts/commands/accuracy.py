"""`sts accuracy`: how well a site locates, from a survey (readings + truth).

What an installer runs after a survey walk: the engine's fixes against the truth,
beside a weighted centroid and plain least squares on the same fixes, written to a
report folder (accuracy.md, accuracy.json, error_map.png). See docs/positioning.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from geometry.errors import InputError
from sts.accuracy import Survey, evaluate, score
from sts.accuracy_report import error_map, markdown, summary_json
from sts.survey_files import load_survey


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `accuracy` sub-command."""
    p = subparsers.add_parser(
        "accuracy",
        help="measure positioning accuracy on a survey (readings with known positions)",
        description=(
            "Locate readings.csv (t,tag,reader,rssi) as `sts locate` does and compare each "
            "fix with truth.csv (t,tag,x,y[,level]) interpolated to its time: median, p90, "
            "share of fixes within 1x and 2x the reported radius, room and floor accuracy, "
            "beside a weighted centroid of the 4 strongest readers and plain least squares "
            "on the same fixes. Evaluate on a survey the calibration was not fitted on."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--readings", required=True, type=Path, help="readings.csv")
    p.add_argument("--truth", required=True, type=Path, help="truth.csv")
    p.add_argument("--calibration", type=Path, help="cal.toml from `sts calibrate`")
    p.add_argument("--report", required=True, type=Path, help="folder to write the report to")
    p.add_argument(
        "--gain-offset",
        action="store_true",
        help="estimate each tag's gain offset online (for badges unlike the surveyed one)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Measure and write the report."""
    from sts.calibration_toml import read_calibration

    files = load_survey(args.floorplan, args.readings, args.truth, "accuracy")
    floorplan = files.floorplan
    survey = Survey(floorplan, files.readings.batch, files.truth)
    notes = [f"readings: {args.readings}", f"truth: {args.truth}"]
    if args.gain_offset:
        survey = replace(survey, config=LocatorConfig(gain=GainSpec()))
        notes.append("per-tag gain offset estimated online")
    if args.calibration is not None:
        cal = read_calibration(args.calibration, floorplan)
        survey = replace(survey, calibration=cal.readers, config=cal.locator_config(survey.config))
        notes.append(f"calibration: {args.calibration}")
        if cal.body_db > 0:
            notes.append(f"wearer's body loss {cal.body_db:.1f} dB (from the survey)")
        if cal.wall_db > 0:
            notes.append(f"loss per wall between rooms {cal.wall_db:.1f} dB (from the survey)")
        if cal.radio_map is not None:
            notes.append("readings corrected by the survey's radio map")
        if cal.gain_offset and not args.gain_offset:
            notes.append("per-tag gain offset estimated online (as calibrated)")
        if cal.uncertainty_per_gain_db > 0:
            notes.append(
                f"radius widened by {cal.uncertainty_per_gain_db:.2f} per dB the gain offset "
                "estimate is beyond its band (from the survey)"
            )
    else:
        notes.append("calibration: none (default path-loss model)")
    fixes = evaluate(survey)
    if len(fixes["engine"].t) == 0:
        raise InputError(
            f"{args.truth}: no fix has a truth sample within 1 s; check that the tag ids and "
            f"times of {args.readings} and {args.truth} match"
        )
    scores = {name: score(floorplan, f) for name, f in fixes.items()}
    title = floorplan.site.name or floorplan.site.id
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / "accuracy.md").write_text(markdown(title, scores, notes))
    (args.report / "accuracy.json").write_text(summary_json(title, scores, notes))
    error_map(args.report / "error_map.png", floorplan, fixes["engine"], f"{title}: engine error")
    eng = scores["engine"]
    base = scores["weighted centroid (4 strongest)"]
    cover = f"{eng.coverage_1x:.0%}" if eng.coverage_1x is not None else "-"
    print(
        f"sts accuracy: {eng.fixes} fixes, median {eng.median_m:.2f} m, p90 {eng.p90_m:.2f} m, "
        f"within radius {cover} (centroid {base.median_m:.2f} / {base.p90_m:.2f} m) "
        f"-> {args.report}",
        file=sys.stderr,
    )
    return 0
