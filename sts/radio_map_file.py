"""The radio map's sidecar file: `sts calibrate --out cal.toml` writes `cal.radiomap.npz`
beside the calibration, which names it (`radio_map = "cal.radiomap.npz"`).

A numpy archive (read without pickle) of the map's grid (engine/radio_map.py) and what
it was fitted against: the floorplan's reader and level ids in order, so a map is never
applied to readers it did not measure.

    tiles       float32 (cells,), dB above the model, every tile row by row
    index       int64 (levels, readers, 5): per tile its offset, first row and column,
                rows and columns (engine/radio_map.py)
    origin      float64 (2,), the grid's south-west corner, m
    cell        float64 (), the cell side, m
    reader_ids  str (readers,)
    level_ids   str (levels,) (empty for a plan without levels)
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from engine.radio_map import RadioMap
from geometry.errors import ConfigError, StsError
from geometry.model import Floorplan

KEYS = ("tiles", "index", "origin", "cell", "reader_ids", "level_ids")


def sidecar_path(calibration: Path) -> Path:
    """Where the radio map of the calibration file `calibration` goes: cal.radiomap.npz
    beside cal.toml."""
    return calibration.with_suffix(".radiomap.npz")


def radio_map_bytes(radio_map: RadioMap, floorplan: Floorplan) -> bytes:
    """The sidecar's content for a map fitted on `floorplan` (deterministic)."""
    out = io.BytesIO()
    np.savez_compressed(
        out,
        tiles=radio_map.tiles.astype(np.float32),
        index=radio_map.index.astype(np.int64),
        origin=np.array([radio_map.x0, radio_map.y0], np.float64),
        cell=np.array(radio_map.cell_m, np.float64),
        reader_ids=np.array([r.id for r in floorplan.readers], dtype=np.str_),
        level_ids=np.array([lv.id for lv in floorplan.levels], dtype=np.str_),
    )
    return out.getvalue()


def read_radio_map(path: Path, floorplan: Floorplan, named_by: str) -> RadioMap:
    """The map in `path` checked against `floorplan`; ConfigError naming `path`, the
    calibration key that names it (`named_by`) and the fix."""
    fix = f"re-run `sts calibrate` against this floorplan, or remove {named_by}"
    unreadable = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as exc:
        raise ConfigError(f"{path}: cannot read the radio map ({exc}); {fix}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ConfigError(f"{path}: not a radio map (a numpy .npz archive); {fix}")
    with archive:
        try:
            data = {k: archive[k] for k in KEYS if k in archive.files}
        except unreadable as exc:
            raise ConfigError(f"{path}: cannot read the radio map ({exc}); {fix}") from None
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ConfigError(f"{path}: not a radio map (misses {', '.join(missing)}); {fix}")
    reader_ids = [r.id for r in floorplan.readers]
    level_ids = [lv.id for lv in floorplan.levels]
    if data["reader_ids"].tolist() != reader_ids or data["level_ids"].tolist() != level_ids:
        raise ConfigError(
            f"{path}: radio map fitted for other readers or levels than the floorplan's; {fix}"
        )
    tiles, index, origin, cell = data["tiles"], data["index"], data["origin"], data["cell"]
    shape = (max(1, len(level_ids)), len(reader_ids), 5)
    if tiles.dtype != np.float32 or index.dtype != np.int64 or index.shape != shape:
        raise ConfigError(
            f"{path}: radio map tiles must be float32 and its index int64 of shape {shape}, "
            f"got {tiles.dtype} and {index.dtype} {index.shape}; {fix}"
        )
    if origin.shape != (2,) or cell.shape != () or not np.issubdtype(origin.dtype, np.floating):
        raise ConfigError(f"{path}: radio map origin must be 2 numbers and cell one; {fix}")
    try:
        return RadioMap(tiles, index, float(origin[0]), float(origin[1]), float(cell))
    except StsError as exc:
        raise ConfigError(f"{path}: {exc}; {fix}") from None
