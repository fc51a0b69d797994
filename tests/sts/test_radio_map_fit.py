"""`sts calibrate`'s radio map: fitted from a survey with a biased reader and kept, stored
beside the calibration file and read back checked; a calibration without one locates
exactly as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.locate import LocatorConfig, locate_all
from geometry.errors import ConfigError
from sts.calibration_toml import format_calibration, read_calibration
from sts.floorplan_io import write_floorplan
from sts.radio_map_file import radio_map_bytes, read_radio_map, sidecar_path
from sts.survey_fit import fit_radio_map, fit_survey
from tests.engine.test_locate import same
from tests.engine.test_radio_map import BIAS_DB, FAR, HEIGHT, IN_CORNER, at, hall, survey
from tests.sts.test_cmd_accuracy import sts


@pytest.fixture(scope="module")
def fitted():
    """The hall, its survey, the path-loss fits by reader id and the fitted map."""
    fp = hall()
    batch, truth = survey(fp)
    cal = fit_survey(fp, batch, truth, HEIGHT)
    per = {r.id: cal.reader(i) for i, r in enumerate(fp.readers)}
    return fp, (batch, truth), cal, per, fit_radio_map(fp, batch, truth, per, HEIGHT)


def test_the_map_learns_the_bias_in_its_corner_and_is_kept(fitted) -> None:
    _, _, _, _, radio_map = fitted
    # Kept: held-out walks locate better with it (a walk's own map would prove nothing).
    assert radio_map is not None
    assert 0.7 * BIAS_DB < at(radio_map, IN_CORNER, 0) < 1.1 * BIAS_DB
    assert abs(at(radio_map, FAR, 0)) < 1.5
    assert abs(at(radio_map, IN_CORNER, 1)) < 1.5


def test_the_sidecar_round_trips_and_the_calibration_names_it(tmp_path: Path, fitted) -> None:
    fp, (batch, _), cal, _, radio_map = fitted
    path = tmp_path / "cal.toml"
    sidecar = sidecar_path(path)
    assert sidecar.name == "cal.radiomap.npz"
    sidecar.write_bytes(radio_map_bytes(radio_map, fp))
    ids = [r.id for r in fp.readers]
    path.write_text(format_calibration(cal, ids, HEIGHT, 0.5, None, sidecar.name))
    assert 'radio_map = "cal.radiomap.npz"' in path.read_text()
    read = read_calibration(path, fp)
    assert read.radio_map is not None
    np.testing.assert_array_equal(read.radio_map.tiles, radio_map.tiles)
    np.testing.assert_array_equal(read.radio_map.index, radio_map.index)
    mapped = LocatorConfig(tag_height=HEIGHT, uncertainty_scale=0.5, radio_map=radio_map)
    same(
        locate_all(fp, batch, read.readers, read.locator_config(LocatorConfig()))[0],
        locate_all(fp, batch, read.readers, mapped)[0],
    )


def test_a_calibration_without_a_map_locates_exactly_as_before(tmp_path: Path, fitted) -> None:
    fp, (batch, _), cal, per, _ = fitted
    path = tmp_path / "cal.toml"
    path.write_text(format_calibration(cal, [r.id for r in fp.readers], HEIGHT, 0.5))
    assert "radio_map" not in path.read_text()
    read = read_calibration(path, fp)
    assert read.radio_map is None
    before = LocatorConfig(tag_height=HEIGHT, uncertainty_scale=0.5)
    same(
        locate_all(fp, batch, per, read.locator_config(LocatorConfig()))[0],
        locate_all(fp, batch, per, before)[0],
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip archive", "cannot read the radio map"),
        (None, "other readers or levels"),
        ("missing", "cannot read the radio map"),
    ],
)
def test_a_bad_sidecar_is_a_config_error_naming_the_file_and_the_fix(
    tmp_path: Path, fitted, content, message: str
) -> None:
    fp, _, _, _, radio_map = fitted
    path = tmp_path / "cal.radiomap.npz"
    if content is None:  # fitted for another plan: a reader renamed
        other = hall()
        moved = replace(other.readers[0], id="moved")
        other = replace(other, readers=(moved, *other.readers[1:]))
        path.write_bytes(radio_map_bytes(radio_map, other))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as err:
        read_radio_map(path, fp, "calibration.radio_map")
    assert str(path) in str(err.value) and "sts calibrate" in str(err.value)


def test_a_map_with_values_beyond_the_bound_is_refused(tmp_path: Path, fitted) -> None:
    fp, _, _, _, radio_map = fitted
    path = tmp_path / "cal.radiomap.npz"
    data = dict(np.load(_write(path, radio_map_bytes(radio_map, fp))))
    data["tiles"] = data["tiles"].copy()
    data["tiles"][0] = np.inf
    np.savez(path, **data)
    with pytest.raises(ConfigError, match="finite"):
        read_radio_map(path, fp, "calibration.radio_map")


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def write_survey(folder: Path) -> tuple[Path, Path, Path]:
    """The hall and its survey as floorplan.geojson, readings.csv and truth.csv."""
    fp = hall()
    batch, truth = survey(fp)
    plan = write_floorplan(fp, folder / "floorplan.geojson")
    ids = [r.id for r in fp.readers]
    readings = folder / "readings.csv"
    rows = zip(
        batch.t.tolist(),
        batch.tag.tolist(),
        batch.reader.tolist(),
        batch.rssi.tolist(),
        strict=True,
    )
    readings.write_text(
        "t,tag,reader,rssi\n" + "".join(f"{t:.3f},w{g},{ids[r]},{v:.1f}\n" for t, g, r, v in rows)
    )
    truth_csv = folder / "truth.csv"
    points = zip(
        truth.t.tolist(), truth.tag.tolist(), truth.x.tolist(), truth.y.tolist(), strict=True
    )
    truth_csv.write_text(
        "t,tag,x,y\n" + "".join(f"{t:.3f},w{g},{x},{y}\n" for t, g, x, y in points)
    )
    return plan, readings, truth_csv


def test_sts_calibrate_writes_the_map_beside_the_calibration_and_can_leave_it_out(
    tmp_path: Path,
) -> None:
    plan, readings, truth = write_survey(tmp_path)
    cal = tmp_path / "cal.toml"
    args = ("--floorplan", plan, "--readings", readings, "--truth", truth, "--out", cal)
    proc = sts("calibrate", *args, "--tag-height", str(HEIGHT))
    assert proc.returncode == 0, proc.stderr
    assert "radio map ->" in proc.stderr
    assert 'radio_map = "cal.radiomap.npz"' in cal.read_text()
    assert read_calibration(cal, hall()).radio_map is not None
    report = tmp_path / "report"
    proc = sts("accuracy", *args[:6], "--calibration", cal, "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert "radio map" in (report / "accuracy.md").read_text()
    # A corrupted sidecar: exit 2, the file and the fix named, no traceback.
    sidecar_path(cal).write_bytes(b"garbage")
    proc = sts("accuracy", *args[:6], "--calibration", cal, "--report", report)
    assert proc.returncode == 2
    assert "cal.radiomap.npz" in proc.stderr and "Traceback" not in proc.stderr
    other = tmp_path / "plain.toml"
    proc = sts("calibrate", *args[:6], "--out", other, "--no-radio-map")
    assert proc.returncode == 0, proc.stderr
    assert "radio map off" in proc.stderr and "radio_map" not in other.read_text()
    assert not sidecar_path(other).exists()
