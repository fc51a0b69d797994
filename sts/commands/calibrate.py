"""`sts calibrate`: fit the path-loss model of every reader from a survey (readings + truth).

The calibration file (TOML) is what `sts locate --calibration` reads:

    [calibration]
    format = "sts-calibration"
    version = 1
    tag_height_m = 1.2          # height of the surveyed tag above the floor
    uncertainty_scale = 0.35    # reported radius = scale x filter radius (68% on the survey)

    [calibration.global]        # the fit over every reader (used where one had few samples)
    rssi_1m = -62.0
    exponent = 1.4
    sigma_db = 6.0

    [readers."b827eb4521b4"]    # one table per reader id of the floorplan
    rssi_1m = -61.2
    exponent = 1.4
    sigma_db = 5.8
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.batches import ReadingBatch
from engine.locate import RSSI_MAX, RSSI_MIN, LocatorConfig, locate_all
from geometry.calibration import (
    Calibration,
    calibration_from_dict,
    calibration_to_dict,
    fit_path_loss,
)
from geometry.errors import ConfigError, InputError
from geometry.model import Floorplan, ReaderCalibration
from sts.output_files import write_replacing
from sts.readings_csv import Truth, read_readings, read_truth, summarise_problems

DEFAULT_TAG_HEIGHT = 1.2
#: A reading is used when the truth has a position within this many seconds of it.
MAX_TRUTH_GAP_S = 2.0


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
    p.set_defaults(run=run)


def truth_at(
    truth: Truth, tag: npt.NDArray[np.int32], t: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Truth x, y of each (tag, t), linearly interpolated; ok False beyond the survey."""
    x = np.full(len(t), np.nan)
    y = np.full(len(t), np.nan)
    ok = np.zeros(len(t), bool)
    for code in np.unique(tag).tolist():
        rows = np.flatnonzero(truth.tag == code)
        if len(rows) == 0:
            continue
        order = rows[np.argsort(truth.t[rows], kind="stable")]
        tt = truth.t[order]
        mine = np.flatnonzero(tag == code)
        q = t[mine]
        x[mine] = np.interp(q, tt, truth.x[order])
        y[mine] = np.interp(q, tt, truth.y[order])
        # Distance in time to the nearest truth sample on either side.
        j = (
            np.clip(np.searchsorted(tt, q), 1, len(tt) - 1)
            if len(tt) > 1
            else np.zeros(len(q), np.int64)
        )
        gap = np.minimum(np.abs(q - tt[j]), np.abs(q - tt[np.maximum(j - 1, 0)]))
        ok[mine] = gap <= MAX_TRUTH_GAP_S
    return x, y, ok


def survey_distances(
    floorplan: Floorplan, batch: ReadingBatch, truth: Truth, tag_height: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """3-D distance reader-tag of every reading, and which readings have a truth."""
    x, y, ok = truth_at(truth, batch.tag, batch.t)
    xyz = np.array([[r.x, r.y, r.z] for r in floorplan.readers], np.float64)
    r = xyz[batch.reader]
    d = np.sqrt((x - r[:, 0]) ** 2 + (y - r[:, 1]) ** 2 + (tag_height - r[:, 2]) ** 2)
    ok &= np.isfinite(batch.t) & (batch.rssi >= RSSI_MIN) & (batch.rssi <= RSSI_MAX)
    return d, ok


def calibrate(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
) -> tuple[ReaderCalibration, dict[str, ReaderCalibration]]:
    """The global fit and one fit per reader id, from a parsed survey."""
    cal = fit_survey(floorplan, batch, truth, tag_height, min_samples)
    return cal.global_, {r.id: cal.reader(i) for i, r in enumerate(floorplan.readers)}


def fit_survey(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
) -> Calibration:
    """The robust path-loss fits (geometry.calibration) of a parsed survey."""
    d, ok = survey_distances(floorplan, batch, truth, tag_height)
    if ok.sum() < 3:
        raise InputError(
            "calibration needs readings with a known position; fewer than 3 readings fall "
            f"within {MAX_TRUTH_GAP_S} s of a truth row of their tag: check the tag ids and times"
        )
    return fit_path_loss(
        d[ok],
        batch.rssi[ok].astype(np.float64),
        batch.reader[ok],
        len(floorplan.readers),
        min_samples=min_samples,
    )


def fit_uncertainty_scale(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
) -> float:
    """The factor that makes the reported radius hold about 68% of the survey's fixes.

    Each surveyed tag is located on its own (survey walks may have been recorded at
    different times) with the fitted calibration; the factor is the 68th percentile of
    error / filter radius. 1.0 when the survey gives too few fixes to say.
    """
    ratios = []
    config = LocatorConfig(tag_height=tag_height)
    for code in np.unique(batch.tag).tolist():
        mine = batch.take(np.flatnonzero(batch.tag == code))
        mine = mine.take(np.argsort(mine.t, kind="stable"))
        positions, _ = locate_all(floorplan, mine, calibration, config)
        if len(positions) == 0:
            continue
        x, y, ok = truth_at(truth, positions.tag, positions.t)
        err = np.hypot(positions.x - x, positions.y - y)[ok]
        ratios.append(err / np.maximum(positions.uncertainty[ok], 1e-6))
    r = np.concatenate(ratios) if ratios else np.empty(0)
    if len(r) < 20:
        return 1.0
    return float(np.clip(np.percentile(r, 68.0), 0.05, 20.0))


def format_calibration(
    cal: Calibration, reader_ids: Sequence[str], tag_height: float, uncertainty_scale: float
) -> str:
    """The calibration TOML text (deterministic: readers in floorplan order)."""
    data = calibration_to_dict(cal, reader_ids)
    lines = [
        "# Path-loss calibration written by `sts calibrate`:",
        "# rssi(d) = rssi_1m - 10 * exponent * log10(d / 1 m), noise sigma_db.",
        "[calibration]",
        'format = "sts-calibration"',
        "version = 1",
        f"tag_height_m = {tag_height:.3f}",
        f"uncertainty_scale = {uncertainty_scale:.4f}",
        "",
        "[calibration.global]",
        *_table_lines(data["global"]),
    ]
    for rid, table in data["readers"].items():
        lines += ["", f"[readers.{json.dumps(rid)}]", *_table_lines(table)]
    return "\n".join(lines) + "\n"


def _table_lines(table: Mapping[str, float | int]) -> list[str]:
    """key = value lines of one flat table."""
    return [f"{k} = {v!r}" for k, v in table.items()]


@dataclass(frozen=True, slots=True)
class CalibrationFile:
    """What a calibration file holds: per-reader fits, tag height, uncertainty scale."""

    readers: dict[str, ReaderCalibration]
    tag_height: float
    uncertainty_scale: float


def read_calibration(path: Path, floorplan: Floorplan) -> CalibrationFile:
    """Per-reader calibration (by id), tag height and uncertainty scale from a TOML file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); write it with `sts calibrate`") from exc
    head = data.get("calibration")
    if not isinstance(head, dict) or head.get("format") != "sts-calibration":
        raise ConfigError(
            f'{path}: missing [calibration] with format = "sts-calibration"; '
            "write it with `sts calibrate`"
        )
    tag_height = _number(path, "calibration.tag_height_m", head.get("tag_height_m", 1.2))
    scale = _number(path, "calibration.uncertainty_scale", head.get("uncertainty_scale", 1.0))
    if not (0 < tag_height < 10 and 0 < scale <= 100):
        raise ConfigError(
            f"{path}: calibration.tag_height_m must be in (0, 10) m and uncertainty_scale in "
            "(0, 100]; re-run `sts calibrate`"
        )
    ids = [r.id for r in floorplan.readers]
    cal = calibration_from_dict(
        {"global": head.get("global"), "readers": data.get("readers", {})},
        ids,
        source=str(path),
    )
    out = {rid: cal.reader(i) for i, rid in enumerate(ids)}
    return CalibrationFile(out, tag_height, scale)


def _number(path: Path, key: str, value: object) -> float:
    """A finite number from the TOML, or a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: {key} must be a finite number, got {value!r}")
    return float(value)


def run(args: argparse.Namespace) -> int:
    """Fit and write the calibration."""
    from sts.floorplan_io import load_floorplan

    floorplan = load_floorplan(args.floorplan).floorplan
    if not floorplan.readers:
        raise InputError(f"{args.floorplan}: the floorplan has no readers to calibrate")
    readings = read_readings(args.readings, [r.id for r in floorplan.readers])
    truth = read_truth(args.truth, readings.tag_ids)
    for path, problems in ((args.readings, readings.problems), (args.truth, truth.problems)):
        if problems:
            print(f"sts calibrate: {summarise_problems(path, problems)}", file=sys.stderr)
    cal = fit_survey(floorplan, readings.batch, truth, args.tag_height, args.min_samples)
    ids = [r.id for r in floorplan.readers]
    per = {rid: cal.reader(i) for i, rid in enumerate(ids)}
    scale = fit_uncertainty_scale(floorplan, readings.batch, truth, per, args.tag_height)
    text = format_calibration(cal, ids, args.tag_height, scale)
    write_replacing(args.out, text, inputs=(args.floorplan, args.readings, args.truth))
    glob = cal.global_
    print(
        f"sts calibrate: global rssi_1m {glob.rssi_1m:.1f} dBm, exponent {glob.exponent:.2f}, "
        f"sigma {glob.sigma_db:.1f} dB; {len(per)} readers; reported radius x{scale:.2f} "
        f"-> {args.out}",
        file=sys.stderr,
    )
    return 0
