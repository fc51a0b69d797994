"""`sts locate`: readings.csv in, positions.csv out (one fix per tag per update interval)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.locate import (
    REJECT_TEXT,
    RSSI_MAX,
    RSSI_MIN,
    LocatorConfig,
    Reject,
    Rejected,
    locate_all,
)
from engine.windowing import WindowSpec
from geometry.errors import InputError
from geometry.model import ReaderCalibration
from sts.readings_csv import (
    Readings,
    RowProblem,
    format_positions,
    read_readings,
    summarise_problems,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `locate` sub-command."""
    p = subparsers.add_parser(
        "locate",
        help="turn RSSI readings (CSV) into tracked positions (CSV)",
        description=(
            "Read readings.csv (header t,tag,reader,rssi), window, trilaterate and track "
            "each tag, write positions.csv (header t,tag,level,x,y,uncertainty_m), one row "
            "per tag per update interval. Bad rows are rejected with their line number; "
            "the rest is still processed. See docs/positioning.md."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--readings", required=True, type=Path, help="readings.csv")
    p.add_argument("--calibration", type=Path, help="cal.toml from `sts calibrate`")
    p.add_argument("--interval", type=float, default=1.0, help="update interval, s (default 1)")
    p.add_argument(
        "--window", type=float, default=None, help="window length, s (default 2x the interval)"
    )
    p.add_argument("--out", required=True, type=Path, help="positions.csv to write")
    p.set_defaults(run=run)


def rejection_problems(readings: Readings, rejected: Rejected) -> list[RowProblem]:
    """The locator's rejections as problems with the line of the file they came from."""
    out: list[RowProblem] = []
    batch = readings.batch
    for i, why in zip(rejected.index.tolist(), rejected.reason.tolist(), strict=True):
        reason = Reject(why)
        detail = REJECT_TEXT[reason]
        if reason is Reject.RSSI_RANGE:
            detail = f"rssi {float(batch.rssi[i]):g} outside {RSSI_MIN:.0f}..{RSSI_MAX:.0f} dBm"
        elif reason is Reject.BAD_TIME:
            detail = f"t {float(batch.t[i])!r}: {detail}"
        elif reason is Reject.LATE:
            detail = f"t {float(batch.t[i]):.3f}: {detail}"
        out.append(RowProblem(int(readings.line[i]), detail))
    return out


def run(args: argparse.Namespace) -> int:
    """Locate every tag of a readings file."""
    from sts.calibration_toml import read_calibration
    from sts.floorplan_io import load_floorplan

    if not (args.interval > 0 and np.isfinite(args.interval)):
        raise InputError(f"--interval must be a positive number of seconds, got {args.interval}")
    window = args.window if args.window is not None else 2.0 * args.interval
    floorplan = load_floorplan(args.floorplan).floorplan
    calibration: dict[str, ReaderCalibration] = {}
    config = LocatorConfig(
        window=WindowSpec(interval=args.interval, window=max(window, args.interval))
    )
    if args.calibration is not None:
        cal_file = read_calibration(args.calibration, floorplan)
        calibration = cal_file.readers
        config = replace(
            config, tag_height=cal_file.tag_height, uncertainty_scale=cal_file.uncertainty_scale
        )
    readings = read_readings(args.readings, [r.id for r in floorplan.readers])
    positions, rejected = locate_all(floorplan, readings.batch, calibration, config)
    problems = sorted(
        [*readings.problems, *rejection_problems(readings, rejected)], key=lambda p: p.line
    )
    text = format_positions(positions, readings.tag_ids, [lv.id for lv in floorplan.levels])
    args.out.write_text(text)
    if problems:
        print(f"sts locate: {summarise_problems(args.readings, problems)}", file=sys.stderr)
    used = len(readings.batch) - len(rejected)
    print(
        f"sts locate: {used} readings of {len(readings.tag_ids)} tag(s) -> "
        f"{len(positions)} positions in {args.out}",
        file=sys.stderr,
    )
    return 0 if used > 0 else 1
