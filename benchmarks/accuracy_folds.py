"""Held-out positioning accuracy on the real data sets, through the `sts accuracy` code.

- tetam-ble: leave one track out: calibrate (`sts calibrate` code) on five tracks,
  measure on the sixth; pooled over the six held-out tracks.
- kolakowski-flat: calibrate on calib1-4, measure on robot_test.

    .venv/bin/python benchmarks/accuracy_folds.py [--device-offset DB] [--no-gain-offset]
        [--no-body] [--no-walls] [--no-radio-map] [--force-radio-map]
        [--window-statistic fit|quantile|mean]

Each fold calibrates as `sts calibrate` does: path loss, the wearer's body loss
(`--no-body`: without), the per-tag gain offset's reference (`--no-gain-offset`:
without the estimate, as before it was the default) and the radius scale fitted for the
locator that will run; the survey's radio map is fitted and kept where it helps held-out
survey walks (`--no-radio-map`: never fitted; `--force-radio-map`: always kept, to
measure what it would do where the calibration drops it); the window statistic is
chosen on held-out survey walks (`--window-statistic quantile|mean`: that one).
--device-offset adds DB to every held-out reading: a device the calibration never saw
that reads that much hotter (or, negative, weaker) than the surveyed one.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.batches import ReadingBatch  # noqa: E402
from engine.gain_offset import GainSpec  # noqa: E402
from sts.accuracy import Fixes, Survey, evaluate, score  # noqa: E402
from sts.floorplan_io import load_floorplan  # noqa: E402
from sts.readings_csv import Truth, read_readings, read_truth  # noqa: E402
from sts.survey_fit import RadioMapMode, WindowMode, fit_site  # noqa: E402
from sts.tetam_mbd import TRACKS, mbd_to_csv  # noqa: E402

DATA = ROOT / "tests" / "data"
KOLAKOWSKI_CALIB = ("calib1", "calib2", "calib3", "calib4")


def load_part(folder: Path, readings: Path, truth: Path, tag_offset: int, reader_ids: list[str]):
    """A readings/truth pair with tag codes shifted by `tag_offset` (parts stay distinct)."""
    rd = read_readings(readings, reader_ids)
    tr = read_truth(truth, rd.tag_ids)
    b = rd.batch
    batch = ReadingBatch(b.t, b.tag + tag_offset, b.reader, b.rssi)
    shifted = Truth(tr.t, tr.tag + tag_offset, tr.x, tr.y, tr.level, tr.tag_ids, ())
    return batch, shifted


def join(parts):
    """Several (batch, truth) parts as one survey."""
    batch = ReadingBatch.from_arrays(
        *(np.concatenate([getattr(b, f) for b, _ in parts]) for f in ("t", "tag", "reader", "rssi"))
    )
    truth = Truth(
        *(np.concatenate([getattr(t, f) for _, t in parts]) for f in ("t", "tag", "x", "y")),
        tuple(v for _, t in parts for v in t.level),
        (),
        (),
    )
    return batch, truth


DEVICE_OFFSET_DB = 0.0
GAIN: GainSpec | None = GainSpec()  # --no-gain-offset: without the per-tag gain offset
BODY = True  # --no-body: without the body-loss fit (body_db 0)
WALLS = True  # --no-walls: without the wall-loss fit (wall_db 0)
# --no-radio-map: "off"; --force-radio-map: "force" (kept whatever it does)
RADIO_MAP: RadioMapMode = "fit"
WINDOW: WindowMode = "fit"  # --window-statistic


def fold(floorplan, train, test, tag_height: float) -> dict[str, Fixes]:
    """Calibrate on `train`, measure on `test` (both (batch, truth)), the test readings
    shifted by DEVICE_OFFSET_DB."""
    batch, truth = test
    shifted = ReadingBatch(
        batch.t, batch.tag, batch.reader, batch.rssi + np.float32(DEVICE_OFFSET_DB)
    )
    test = (shifted, truth)
    fit = fit_site(
        floorplan,
        *train,
        tag_height,
        gain=GAIN,
        body=BODY,
        walls=WALLS,
        radio_map=RADIO_MAP,
        window=WINDOW,
    )
    per, config = fit.readers, fit.locating
    wall_db, radio_map = config.wall_db, config.radio_map
    kept = "kept" if radio_map is not None else "none"
    statistic = config.window.statistic.name.lower()
    print(
        f"({floorplan.site.id}: wall_db {wall_db:.2f}, radio map {kept}, window {statistic})",
        file=sys.stderr,
    )
    return evaluate(Survey(floorplan, *test, per, config))


def pooled(results: list[dict[str, Fixes]]) -> dict[str, Fixes]:
    """Every method's fixes of several folds together."""
    out = {}
    for name in results[0]:
        parts = [r[name] for r in results]
        out[name] = Fixes(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Fixes.__slots__)
        )
    return out


def table(title: str, floorplan, fixes: dict[str, Fixes]) -> str:
    """One markdown table of the methods' scores."""
    lines = [
        f"### {title}",
        "",
        "| method | fixes | median m | p90 m | 1x radius | 2x radius | room |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in fixes.items():
        s = score(floorplan, f)
        c1 = f"{s.coverage_1x:.1%}" if s.coverage_1x is not None else "-"
        c2 = f"{s.coverage_2x:.0%}" if s.coverage_2x is not None else "-"
        room = f"{s.room_accuracy:.0%}" if s.room_accuracy is not None else "-"
        lines.append(
            f"| {name} | {s.fixes} | {s.median_m:.2f} | {s.p90_m:.2f} | {c1} | {c2} | {room} |"
        )
    return "\n".join(lines) + "\n"


def tetam(tmp: Path) -> str:
    """Leave-one-track-out on tetam-ble."""
    floorplan = load_floorplan(ROOT / "floorplans" / "tetam").floorplan
    ids = [r.id for r in floorplan.readers]
    parts, heights = {}, {}
    for i, name in enumerate(TRACKS):
        r, t = tmp / f"{name}.readings.csv", tmp / f"{name}.truth.csv"
        heights[name] = mbd_to_csv(
            DATA / "tetam-ble" / f"{name}_all_sensors.mbd", r, t, f"beacon-{i}"
        )
        parts[name] = load_part(tmp, r, t, i, ids)
    results = []
    per_track = []
    for held in TRACKS:
        train = [n for n in TRACKS if n != held]
        height = float(np.mean([heights[n] for n in train]))
        res = fold(floorplan, join([parts[n] for n in train]), parts[held], height)
        results.append(res)
        s = score(floorplan, res["engine"])
        per_track.append(
            f"| {held} | {s.fixes} | {s.median_m:.2f} | {s.p90_m:.2f} | {s.coverage_1x:.0%} |"
        )
    head = "| held-out track | fixes | median m | p90 m | 1x radius |\n|---|---|---|---|---|\n"
    return (
        table("tetam-ble, leave one track out (pooled)", floorplan, pooled(results))
        + "\n"
        + head
        + "\n".join(per_track)
        + "\n"
    )


def kolakowski() -> str:
    """calib1-4 -> robot_test on kolakowski-flat."""
    floorplan = load_floorplan(ROOT / "floorplans" / "kolakowski").floorplan
    ids = [r.id for r in floorplan.readers]
    folder = DATA / "kolakowski-flat"
    train = join(
        [
            load_part(folder, folder / f"{n}_readings.csv", folder / f"{n}_truth.csv", i, ids)
            for i, n in enumerate(KOLAKOWSKI_CALIB)
        ]
    )
    test = load_part(
        folder, folder / "robot_test_readings.csv", folder / "robot_test_truth.csv", 0, ids
    )
    return table(
        "kolakowski-flat, calib1-4 -> robot_test", floorplan, fold(floorplan, train, test, 1.3)
    )


def main() -> int:
    """Print both tables."""
    global DEVICE_OFFSET_DB, GAIN, BODY, WALLS, RADIO_MAP, WINDOW
    if "--window-statistic" in sys.argv:
        WINDOW = sys.argv[sys.argv.index("--window-statistic") + 1]  # type: ignore[assignment]
    if "--no-radio-map" in sys.argv:
        RADIO_MAP = "off"
    if "--force-radio-map" in sys.argv:
        RADIO_MAP = "force"
    if "--no-walls" in sys.argv:
        WALLS = False
    if "--no-body" in sys.argv:
        BODY = False
    if "--no-gain-offset" in sys.argv:
        GAIN = None
    if "--device-offset" in sys.argv:
        DEVICE_OFFSET_DB = float(sys.argv[sys.argv.index("--device-offset") + 1])
    print(kolakowski())
    with tempfile.TemporaryDirectory() as tmp:
        print(tetam(Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
