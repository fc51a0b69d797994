"""`sts locate`: readings.csv in, positions.csv out (one fix per tag per update interval)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from engine.batches import PositionBatch
from engine.locate import (
    REJECT_TEXT,
    RSSI_MAX,
    RSSI_MIN,
    Locator,
    LocatorConfig,
    Reject,
    Rejected,
)
from engine.windowing import WindowSpec
from geometry.model import ReaderCalibration
from sts.csv_chunks import ProblemTally, RowProblem, summarise_problems
from sts.option_checks import in_range
from sts.output_files import replace_on_success
from sts.positions_csv import POSITIONS_HEADER, format_position_rows
from sts.readings_csv import ReadingsChunk, iter_readings
from sts.tag_table import sorted_rank


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


def rejection_problems(
    chunk: ReadingsChunk, rejected: Rejected, limit: int | None = None
) -> list[RowProblem]:
    """The locator's rejections (the first `limit`) as problems naming their line."""
    out: list[RowProblem] = []
    batch = chunk.batch
    pairs = zip(rejected.index[:limit].tolist(), rejected.reason[:limit].tolist(), strict=True)
    for i, why in pairs:
        reason = Reject(why)
        detail = REJECT_TEXT[reason]
        if reason is Reject.RSSI_RANGE:
            detail = f"rssi {float(batch.rssi[i]):g} outside {RSSI_MIN:.0f}..{RSSI_MAX:.0f} dBm"
        elif reason is Reject.BAD_TIME:
            detail = f"t {float(batch.t[i])!r}: {detail}"
        elif reason is Reject.LATE:
            detail = f"t {float(batch.t[i]):.3f}: {detail}"
        out.append(RowProblem(int(chunk.line[i]), detail))
    return out


def _by_time_then_tag(positions: PositionBatch, tag_ids: tuple[str, ...]) -> PositionBatch:
    """Rows ordered by time, then tag id: the file does not depend on the tag codes."""
    if len(positions) < 2:
        return positions
    return positions.take(np.lexsort((sorted_rank(tag_ids)[positions.tag], positions.t)))


def run(args: argparse.Namespace) -> int:
    """Locate every tag of a readings file, writing positions as the readings stream in."""
    from sts.calibration_toml import read_calibration
    from sts.floorplan_io import load_floorplan

    in_range(args.interval, "--interval", 0.05, 60.0)
    window = args.window if args.window is not None else 2.0 * args.interval
    in_range(window, "--window", 0.05, 600.0)
    floorplan = load_floorplan(args.floorplan).floorplan
    calibration: dict[str, ReaderCalibration] = {}
    config = LocatorConfig(
        window=WindowSpec(interval=args.interval, window=max(window, args.interval))
    )
    if args.calibration is not None:
        cal_file = read_calibration(args.calibration, floorplan)
        calibration = cal_file.readers
        config = cal_file.locator_config(config)
    chunks = iter_readings(args.readings, [r.id for r in floorplan.readers])
    locator = Locator(floorplan, calibration, config)
    levels = [lv.id for lv in floorplan.levels]
    tally = ProblemTally()
    tag_ids: tuple[str, ...] = ()
    used = written = 0
    inputs = (args.readings, args.calibration, args.floorplan)
    with replace_on_success(args.out, inputs=inputs) as out:
        out.write((",".join(POSITIONS_HEADER) + "\n").encode())
        for chunk in chunks:
            positions, rejected = locator.process_with_report(chunk.batch)
            shown = rejection_problems(chunk, rejected, tally.limit)
            tally.add([*chunk.problems, *shown], len(chunk.problems) + len(rejected))
            used += len(chunk.batch) - len(rejected)
            tag_ids = chunk.tag_ids
            positions = _by_time_then_tag(positions, tag_ids)
            out.write(format_position_rows(positions, tag_ids, levels).encode())
            written += len(positions)
        positions = _by_time_then_tag(locator.flush(), tag_ids)
        out.write(format_position_rows(positions, tag_ids, levels).encode())
        written += len(positions)
    if tally.total:
        text = summarise_problems(args.readings, tally.shown, tally.limit, tally.total)
        print(f"sts locate: {text}", file=sys.stderr)
    print(
        f"sts locate: {used} readings of {len(tag_ids)} tag(s) -> "
        f"{written} positions in {args.out}",
        file=sys.stderr,
    )
    return 0 if used > 0 else 1
