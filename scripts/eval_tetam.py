"""Positioning accuracy on the real tetam-ble tracks, leave-one-track-out.

For each of the six tracks: calibrate (`sts calibrate` code path) on the five others,
locate the held-out one (`sts locate` code path, from the CSV files this script writes),
and compare each 1 s fix with the true position interpolated to the fix time. Reports
median and p90 error per track and pooled, next to two plain baselines computed under the
same protocol (weighted centroid of the 4 strongest, plain Gauss-Newton; 1 s windows of
mean RSSI, one global path-loss model), and an ablation of each stage.

    .venv/bin/python scripts/eval_tetam.py                 # tables to stdout
    .venv/bin/python scripts/eval_tetam.py --csv-dir out/  # also keep the CSV files

Hyper-parameters of the default configuration were chosen by this same leave-one-track-
out cross-validation (pooled over the held-out tracks), never on one test track alone.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.batches import ReadingBatch  # noqa: E402
from engine.locate import LocatorConfig, locate_all  # noqa: E402
from engine.tracking import Gate  # noqa: E402
from engine.windowing import Statistic, WindowSpec  # noqa: E402
from geometry.model import Floorplan, ReaderCalibration  # noqa: E402
from sts.readings_csv import read_readings, read_truth  # noqa: E402
from sts.survey_fit import calibrate, fit_uncertainty_scale  # noqa: E402

DATA = ROOT / "tests" / "data" / "tetam-ble"
FLOORPLAN = ROOT / "floorplans" / "tetam"
TRACKS = (
    "rectangular_without_rotation",
    "straight_01",
    "straight_02",
    "straight_03",
    "straight_04",
    "straight_05",
)


@dataclass(frozen=True, slots=True)
class Track:
    """One .mbd track as columns."""

    name: str
    t: np.ndarray
    sensor: tuple[str, ...]
    rssi: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray


def load_track(name: str, data: Path = DATA) -> Track:
    """Read `<name>_all_sensors.mbd`: t, sensor MAC, beacon MAC, rssi, x, y, z, 9 numbers."""
    with open(data / f"{name}_all_sensors.mbd", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    return Track(
        name,
        np.array([float(r[0]) for r in rows]),
        tuple(r[1] for r in rows),
        np.array([float(r[3]) for r in rows]),
        np.array([float(r[4]) for r in rows]),
        np.array([float(r[5]) for r in rows]),
        np.array([float(r[6]) for r in rows]),
    )


def write_csvs(track: Track, folder: Path, tag: str) -> tuple[Path, Path]:
    """readings.csv and truth.csv of one track (rows in file order, as recorded)."""
    folder.mkdir(parents=True, exist_ok=True)
    readings = folder / f"{track.name}.readings.csv"
    truth = folder / f"{track.name}.truth.csv"
    r_lines = ["t,tag,reader,rssi"] + [
        f"{t:.6f},{tag},{s},{v:g}"
        for t, s, v in zip(track.t.tolist(), track.sensor, track.rssi.tolist(), strict=True)
    ]
    t_lines = ["t,tag,x,y"] + [
        f"{t:.6f},{tag},{x:.4f},{y:.4f}"
        for t, x, y in zip(track.t.tolist(), track.x.tolist(), track.y.tolist(), strict=True)
    ]
    readings.write_text("\n".join(r_lines) + "\n")
    truth.write_text("\n".join(t_lines) + "\n")
    return readings, truth


def truth_xy(track: Track, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True position at times t (linear interpolation over the time-sorted track)."""
    o = np.argsort(track.t, kind="stable")
    return np.interp(t, track.t[o], track.x[o]), np.interp(t, track.t[o], track.y[o])


def load_floorplan_any(path: Path) -> Floorplan:
    """The floorplan through the application loader."""
    from sts.floorplan_io import load_floorplan

    return load_floorplan(path).floorplan


@dataclass
class Fold:
    """Everything a held-out track needs, computed once."""

    track: Track
    batch: ReadingBatch
    calibration: dict[str, ReaderCalibration]
    global_cal: ReaderCalibration
    tag_height: float
    uncertainty_scale: float


def make_folds(floorplan: Floorplan, folder: Path) -> list[Fold]:
    """Write the CSVs, calibrate on all-but-one track for each held-out track."""
    tracks = {n: load_track(n) for n in TRACKS}
    paths = {n: write_csvs(tracks[n], folder, f"beacon-{n}") for n in TRACKS}
    ids = [r.id for r in floorplan.readers]
    parsed = {n: read_readings(paths[n][0], ids) for n in TRACKS}
    folds = []
    for held in TRACKS:
        train = [n for n in TRACKS if n != held]
        # One survey of the five training tracks: their tags are distinct per track.
        batches, truths = [], []
        tag_names: list[str] = []
        for n in train:
            rd = parsed[n]
            offset = len(tag_names)
            tag_names += list(rd.tag_ids)
            b = rd.batch
            batches.append(ReadingBatch(b.t, b.tag + offset, b.reader, b.rssi))
            truths.append(read_truth(paths[n][1], rd.tag_ids))
        batch = ReadingBatch.from_arrays(
            np.concatenate([b.t for b in batches]),
            np.concatenate([b.tag for b in batches]),
            np.concatenate([b.reader for b in batches]),
            np.concatenate([b.rssi for b in batches]),
        )
        offsets = np.cumsum([0] + [len(tr.tag_ids) for tr in truths[:-1]])
        from sts.readings_csv import Truth

        truth = Truth(
            np.concatenate([tr.t for tr in truths]),
            np.concatenate([tr.tag + off for tr, off in zip(truths, offsets, strict=True)]),
            np.concatenate([tr.x for tr in truths]),
            np.concatenate([tr.y for tr in truths]),
            tuple(lv for tr in truths for lv in tr.level),
            tuple(tag_names),
            (),
        )
        # The tag's carry height is part of the survey: the mean true z of the training set.
        tag_height = float(np.mean(np.concatenate([tracks[n].z for n in train])))
        glob, per = calibrate(floorplan, batch, truth, tag_height)
        scale = fit_uncertainty_scale(floorplan, batch, truth, per, tag_height)
        folds.append(Fold(tracks[held], parsed[held].batch, per, glob, tag_height, scale))
    return folds


def run_config(
    floorplan: Floorplan,
    folds: list[Fold],
    config: LocatorConfig,
    per_reader: bool = True,
    coverage: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Held-out errors (m) per track for one configuration (and, if asked, the share of
    fixes whose true position lies within the reported uncertainty radius)."""
    out = {}
    for f in folds:
        cal = f.calibration if per_reader else {k: f.global_cal for k in f.calibration}
        cfg = replace(config, tag_height=f.tag_height, uncertainty_scale=f.uncertainty_scale)
        pos, _ = locate_all(floorplan, f.batch, cal, cfg)
        tx, ty = truth_xy(f.track, pos.t)
        out[f.track.name] = np.hypot(pos.x - tx, pos.y - ty)
        if coverage is not None:
            coverage[f.track.name] = float(np.mean(out[f.track.name] <= pos.uncertainty))
    return out


def centroid_baseline(floorplan: Floorplan, folds: list[Fold]) -> dict[str, np.ndarray]:
    """Weighted centroid of the 4 strongest readers, 1 s windows of mean RSSI."""
    from engine.windowing import window_readings

    xyz = np.array([[r.x, r.y] for r in floorplan.readers])
    spec = WindowSpec(interval=1.0, window=1.0, top_k=4, statistic=Statistic.MEAN)
    out = {}
    for f in folds:
        k0 = int(np.ceil(f.batch.t.min()))
        k1 = int(np.floor(f.batch.t.max()))
        w = window_readings(f.batch, len(floorplan.readers), spec, k0, k1)
        valid = np.arange(4)[None, :] < w.count[:, None]
        weight = np.where(valid, 10 ** (np.nan_to_num(w.rssi, nan=-200.0) / 10.0), 0.0)
        a = xyz[np.maximum(w.reader, 0)]
        x = (weight * a[:, :, 0]).sum(1) / weight.sum(1)
        y = (weight * a[:, :, 1]).sum(1) / weight.sum(1)
        tx, ty = truth_xy(f.track, w.t)
        out[f.track.name] = np.hypot(x - tx, y - ty)
    return out


def summary(errors: dict[str, np.ndarray]) -> tuple[float, float, int]:
    """Pooled median, p90 and number of fixes."""
    e = np.concatenate(list(errors.values()))
    return float(np.median(e)), float(np.percentile(e, 90)), len(e)


def default_config() -> LocatorConfig:
    """The configuration `sts locate` uses (see engine/locate.py)."""
    return LocatorConfig()


def ablations() -> list[tuple[str, LocatorConfig, bool]]:
    """(name, configuration, per-reader calibration) for each stage switched off or changed."""
    base = default_config()
    w = base.window
    t = base.tracker
    return [
        ("default (all stages)", base, True),
        ("global calibration only (no per-reader fit)", base, False),
        ("no tracking (raw trilateration fixes)", replace(base, tracking=False), True),
        ("tracking, speed gate off", replace(base, tracker=replace(t, gate=Gate.OFF)), True),
        (
            "tracking, gate rejects (not inflate)",
            replace(base, tracker=replace(t, gate=Gate.REJECT)),
            True,
        ),
        (
            "tracking, no walkable constraint",
            replace(base, tracker=replace(t, constrain=False)),
            True,
        ),
        ("tracker prediction as solver x0", replace(base, seed_from_track=True), True),
        ("window 1 s", replace(base, window=replace(w, window=1.0)), True),
        ("window 3 s", replace(base, window=replace(w, window=3.0)), True),
        ("window 4 s", replace(base, window=replace(w, window=4.0)), True),
        ("statistic mean", replace(base, window=replace(w, statistic=Statistic.MEAN)), True),
        ("statistic median", replace(base, window=replace(w, statistic=Statistic.MEDIAN)), True),
        ("statistic max", replace(base, window=replace(w, statistic=Statistic.MAX)), True),
        (
            "statistic 75th percentile",
            replace(base, window=replace(w, statistic=Statistic.QUANTILE)),
            True,
        ),
        ("top-4 readers", replace(base, window=replace(w, top_k=4)), True),
        ("top-6 readers", replace(base, window=replace(w, top_k=6)), True),
        ("top-12 readers", replace(base, window=replace(w, top_k=12)), True),
    ]


def table(rows: list[tuple[str, dict[str, np.ndarray]]]) -> str:
    """A markdown table: pooled median/p90 and the median of each held-out track."""
    short = [
        n.replace("rectangular_without_rotation", "rect").replace("straight_", "s") for n in TRACKS
    ]
    head = "| configuration | median m | p90 m | fixes | " + " | ".join(short) + " |"
    sep = "|---|---|---|---|" + "---|" * len(TRACKS)
    lines = [head, sep]
    for name, errors in rows:
        med, p90, n = summary(errors)
        per = " | ".join(f"{np.median(errors[t]):.2f}" for t in TRACKS)
        lines.append(f"| {name} | {med:.2f} | {p90:.2f} | {n} | {per} |")
    return "\n".join(lines)


def per_track_table(errors: dict[str, np.ndarray], coverage: dict[str, float]) -> str:
    """Median, p90 and radius coverage per held-out track for one configuration."""
    lines = [
        "| held-out track | fixes | median m | p90 m | within reported radius |",
        "|---|---|---|---|---|",
    ]
    for t in TRACKS:
        e = errors[t]
        lines.append(
            f"| {t} | {len(e)} | {np.median(e):.2f} | {np.percentile(e, 90):.2f} "
            f"| {coverage[t]:.0%} |"
        )
    med, p90, n = summary(errors)
    pooled = sum(coverage[t] * len(errors[t]) for t in TRACKS) / n
    lines.append(f"| **all (pooled)** | {n} | **{med:.2f}** | **{p90:.2f}** | {pooled:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv-dir", type=Path, help="keep the converted CSV files here")
    ap.add_argument("--quick", action="store_true", help="default configuration only")
    args = ap.parse_args(argv)
    floorplan = load_floorplan_any(FLOORPLAN)
    with tempfile.TemporaryDirectory() as tmp:
        folds = make_folds(floorplan, args.csv_dir or Path(tmp))
    coverage: dict[str, float] = {}
    best = run_config(floorplan, folds, default_config(), coverage=coverage)
    print("## Held-out error per track (default configuration)\n")
    print(per_track_table(best, coverage))
    base_gn = replace(
        default_config(),
        tracking=False,
        window=WindowSpec(interval=1.0, window=1.0, top_k=12, statistic=Statistic.MEAN),
    )
    rows = [
        ("baseline: weighted centroid, 4 strongest", centroid_baseline(floorplan, folds)),
        (
            "baseline: plain Gauss-Newton, 1 s mean, global model",
            run_config(floorplan, folds, base_gn, False),
        ),
    ]
    if not args.quick:
        rows += [(name, run_config(floorplan, folds, cfg, per)) for name, cfg, per in ablations()]
    print("\n## Baselines and ablation (held-out, leave-one-track-out)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
