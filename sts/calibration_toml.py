"""The calibration file (TOML): written by `sts calibrate`, read by `sts locate --calibration`.


[calibration]
format = "sts-calibration"
version = 1
tag_height_m = 1.2          # height of the surveyed tag above the floor
uncertainty_scale = 0.35    # reported radius = scale x filter radius (68% on the survey)
body_db = 3.7               # optional: loss toward readers behind a walking wearer
wall_db = 1.6               # optional: loss per wall between badge and reader
gain_offset = true          # estimate each tag's gain offset online (written by default)
gain_reference_db = 2.1     # the surveyed badges' own mean fix residual
uncertainty_per_gain_db = 0.6  # optional: radius widening per dB of gain estimate beyond its band
radio_map = "cal.radiomap.npz"  # optional: the survey's radio map (sts/radio_map_file.py),
                                # relative to this file
window_statistic = "mean"   # optional: each reader's readings in a window become their
                            # mean ("quantile", the default: their upper quartile)

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

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from engine.gain_offset import GainSpec
from engine.locate import LocatorConfig
from engine.radio_map import RadioMap
from engine.uncertainty import MAX_PER_GAIN_DB
from engine.windowing import WindowSpec
from geometry.calibration import (
    Calibration,
    calibration_from_dict,
    calibration_to_dict,
)
from geometry.errors import ConfigError
from geometry.model import Floorplan, ReaderCalibration
from sts.radio_map_file import read_radio_map
from sts.survey_fit import WINDOW_CANDIDATES
from sts.toml_checks import read_toml


def format_calibration(
    cal: Calibration,
    reader_ids: Sequence[str],
    tag_height: float,
    uncertainty_scale: float,
    locating: LocatorConfig | None = None,
    radio_map_file: str | None = None,
) -> str:
    """The calibration TOML text (deterministic: readers in floorplan order). From
    `locating`, the body and wall losses (when the survey found them) and whether the
    gain offset is estimated (the radius was fitted for it); `radio_map_file`: the
    radio map's sidecar, relative to the TOML (None: no map)."""
    body_db = locating.body_db if locating is not None else 0.0
    widening = locating.uncertainty_per_gain_db if locating is not None else 0.0
    wall_db = locating.wall_db if locating is not None else 0.0
    gain = locating.gain if locating is not None else None
    window = locating.window if locating is not None else WindowSpec()
    data = calibration_to_dict(cal, reader_ids)
    lines = [
        "# Path-loss calibration written by `sts calibrate`:",
        "# rssi(d) = rssi_1m - 10 * exponent * log10(d / 1 m), noise sigma_db.",
        "[calibration]",
        'format = "sts-calibration"',
        "version = 1",
        f"tag_height_m = {tag_height:.3f}",
        f"uncertainty_scale = {uncertainty_scale:.4f}",
        *([f"body_db = {body_db:.2f}"] if body_db > 0 else []),
        *([f"wall_db = {wall_db:.2f}"] if wall_db > 0 else []),
        *(["gain_offset = true", f"gain_reference_db = {gain.reference_db:.2f}"] if gain else []),
        *([f"uncertainty_per_gain_db = {widening:.4f}"] if gain and widening > 0 else []),
        *([f"radio_map = {json.dumps(radio_map_file)}"] if radio_map_file else []),
        *(
            [f'window_statistic = "{window_statistic_name(window)}"']
            if window != WindowSpec()
            else []
        ),
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
    """What a calibration file holds: per-reader fits, tag height, the radius model,
    the wearer's body loss, the loss per wall, the gain offset estimate, the radio map."""

    readers: dict[str, ReaderCalibration]
    tag_height: float
    uncertainty_scale: float
    body_db: float = 0.0
    gain_offset: bool = False
    gain_reference_db: float = 0.0
    uncertainty_per_gain_db: float = 0.0
    wall_db: float = 0.0
    radio_map: RadioMap | None = None
    window: WindowSpec | None = None  # the statistic the survey chose (None: not said)

    def locator_config(self, base: LocatorConfig) -> LocatorConfig:
        """`base` with what the survey measured (and the gain offset on, from the
        survey's reference, if it was fitted with it)."""
        gain = base.gain
        if self.gain_offset:
            gain = replace(gain or GainSpec(), reference_db=self.gain_reference_db)
        return replace(
            base,
            tag_height=self.tag_height,
            uncertainty_scale=self.uncertainty_scale,
            uncertainty_per_gain_db=self.uncertainty_per_gain_db,
            body_db=self.body_db,
            wall_db=self.wall_db,
            radio_map=self.radio_map,
            gain=gain,
            window=_with_statistic(base.window, self.window),
        )


def read_calibration(path: Path, floorplan: Floorplan) -> CalibrationFile:
    """Per-reader calibration (by id), tag height and uncertainty scale from a TOML file."""
    data = read_toml(path, "calibration file")
    head = data.get("calibration")
    if not isinstance(head, dict) or head.get("format") != "sts-calibration":
        raise ConfigError(
            f'{path}: missing [calibration] with format = "sts-calibration"; '
            "write it with `sts calibrate`"
        )
    tag_height = _number(path, "calibration.tag_height_m", head.get("tag_height_m", 1.2))
    scale = _number(path, "calibration.uncertainty_scale", head.get("uncertainty_scale", 1.0))
    body = _number(path, "calibration.body_db", head.get("body_db", 0.0))
    gain = head.get("gain_offset", False)
    if not isinstance(gain, bool):
        raise ConfigError(f"{path}: calibration.gain_offset must be true or false, got {gain!r}")
    reference = _number(path, "calibration.gain_reference_db", head.get("gain_reference_db", 0.0))
    wall = _number(path, "calibration.wall_db", head.get("wall_db", 0.0))
    if not 0 <= wall <= 30:
        raise ConfigError(
            f"{path}: calibration.wall_db must be in [0, 30] dB (the loss per wall between "
            f"badge and reader), got {wall}; re-run `sts calibrate` or remove the key"
        )
    if not (0 < tag_height < 10 and 0 < scale <= 100 and 0 <= body <= 30 and abs(reference) <= 20):
        raise ConfigError(
            f"{path}: calibration.tag_height_m must be in (0, 10) m, uncertainty_scale in "
            "(0, 100], body_db in [0, 30] dB and gain_reference_db in [-20, 20] dB; "
            "re-run `sts calibrate`"
        )
    widening = _widening(path, head, gain)
    ids = [r.id for r in floorplan.readers]
    cal = calibration_from_dict(
        {"global": head.get("global"), "readers": data.get("readers", {})},
        ids,
        source=str(path),
    )
    out = {rid: cal.reader(i) for i, rid in enumerate(ids)}
    return CalibrationFile(
        out,
        tag_height,
        scale,
        body,
        gain,
        reference,
        uncertainty_per_gain_db=widening,
        wall_db=wall,
        radio_map=_radio_map(path, head, floorplan),
        window=_window(path, head),
    )


def _with_statistic(window: WindowSpec, chosen: WindowSpec | None) -> WindowSpec:
    """`window` (its interval and length as the command set them) with the statistic of
    `chosen` (None: as it is)."""
    if chosen is None:
        return window
    return replace(window, statistic=chosen.statistic, quantile=chosen.quantile)


def window_statistic_name(window: WindowSpec) -> str:
    """The name of `window` among the candidates `sts calibrate` chooses from."""
    for name, candidate in WINDOW_CANDIDATES.items():
        if candidate == window:
            return name
    raise ValueError(f"not a window sts calibrate writes: {window}")


def _window(path: Path, head: Mapping[str, object]) -> WindowSpec | None:
    """The window calibration.window_statistic names (None when absent: a file from
    before the survey chose it, or one where it chose the default)."""
    if "window_statistic" not in head:
        return None
    name = head["window_statistic"]
    if not isinstance(name, str) or name not in WINDOW_CANDIDATES:
        choices = ", ".join(f'"{n}"' for n in WINDOW_CANDIDATES)
        raise ConfigError(
            f"{path}: calibration.window_statistic must be one of {choices}, got {name!r}; "
            "re-run `sts calibrate` or remove the key"
        )
    return WINDOW_CANDIDATES[name]


def _radio_map(path: Path, head: Mapping[str, object], floorplan: Floorplan) -> RadioMap | None:
    """The radio map calibration.radio_map names, relative to the file (None: no key)."""
    name = head.get("radio_map")
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{path}: calibration.radio_map must name the radio map file (a string), got "
            f"{name!r}; re-run `sts calibrate` or remove the key"
        )
    return read_radio_map(path.parent / name, floorplan, f"calibration.radio_map in {path}")


def _widening(path: Path, head: Mapping[str, object], gain: bool) -> float:
    """calibration.uncertainty_per_gain_db (0 when absent: a file from before it)."""
    key = "calibration.uncertainty_per_gain_db"
    value = _number(path, key, head.get("uncertainty_per_gain_db", 0.0))
    if not 0 <= value <= MAX_PER_GAIN_DB:
        raise ConfigError(
            f"{path}: {key} must be in [0, {MAX_PER_GAIN_DB:g}], got {value}; "
            "re-run `sts calibrate`"
        )
    if value > 0 and not gain:
        raise ConfigError(
            f"{path}: {key} widens the radius where the gain offset estimate is beyond its "
            "band, and gain_offset is not true; set gain_offset = true or remove the key"
        )
    return value


def _number(path: Path, key: str, value: object) -> float:
    """A finite number from the TOML, or a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: {key} must be a finite number, got {value!r}")
    return float(value)
