"""load_floorplan / write_floorplan: files, folders, IMDF folders and zips, errors."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from geometry.errors import FloorplanError, InputError
from geometry.model import ZoneKind
from sts.floorplan_io import floorplan_json, load_floorplan, write_floorplan

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "imdf" / "mini-school"


def small_plan() -> dict:
    """A valid two-room plan with a reader."""

    def room(fid: str, x0: float, x1: float) -> dict:
        ring = [[x0, 0.0], [x1, 0.0], [x1, 5.0], [x0, 5.0], [x0, 0.0]]
        return {
            "type": "Feature",
            "id": fid,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"feature_type": "zone", "level": "L0", "kind": "classroom"},
        }

    return {
        "type": "FeatureCollection",
        "sts": {
            "format": "sts-floorplan",
            "version": 1,
            "crs": "local",
            "site": {"id": "t", "name": "Test"},
            "levels": [{"id": "L0", "ordinal": 0, "name": "Ground"}],
        },
        "features": [
            room("a", 0.0, 5.0),
            room("b", 5.0, 10.0),
            {
                "type": "Feature",
                "id": "r",
                "geometry": {"type": "Point", "coordinates": [5.0, 2.5]},
                "properties": {"feature_type": "reader", "level": "L0"},
            },
        ],
    }


def write_json(path: Path, doc: object) -> Path:
    """Write a JSON document."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_file_and_folder_load_the_same_plan(tmp_path: Path) -> None:
    f = write_json(tmp_path / "floorplan.geojson", small_plan())
    by_file = load_floorplan(f)
    by_folder = load_floorplan(tmp_path)
    assert by_file.floorplan == by_folder.floorplan
    assert by_file.warnings == () and by_file.source == str(f)
    assert [z.id for z in by_file.floorplan.zones] == ["a", "b"]


def test_sample_plans_load_without_errors() -> None:
    for name in ("northfield", "tetam"):
        loaded = load_floorplan(ROOT / "floorplans" / name)
        assert loaded.floorplan.zones and loaded.floorplan.readers
        assert all(w.severity == "warning" for w in loaded.warnings)


def test_imdf_folder_and_zip_load_the_same_plan(tmp_path: Path) -> None:
    folder = load_floorplan(MINI)
    flat = tmp_path / "flat.zip"
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(flat, "w") as zf, zipfile.ZipFile(nested, "w") as zn:
        for p in sorted(MINI.glob("*.*json")):
            zf.write(p, p.name)
            zn.write(p, f"mini-school/{p.name}")
        zn.writestr("__MACOSX/mini-school/._unit.geojson", b"\x00\x05\x16\x07")
    assert load_floorplan(flat).floorplan == folder.floorplan
    assert load_floorplan(nested).floorplan == folder.floorplan
    assert folder.source == str(MINI)
    kinds = {z.kind for z in folder.floorplan.zones}
    assert {ZoneKind.CLASSROOM, ZoneKind.LAB, ZoneKind.SAFE_AREA} <= kinds


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "floorplan.geojson"
    f.write_text('{\n  "type": "FeatureCollection",\n  "features": [,]\n}\n')
    with pytest.raises(InputError) as e:
        load_floorplan(f)
    assert str(f) in str(e.value) and "line 3, column 16" in str(e.value)
    imdf = tmp_path / "imdf"
    shutil.copytree(MINI, imdf)
    (imdf / "unit.geojson").write_text('{"type": "FeatureCollection", "features": [}')
    with pytest.raises(InputError, match=r"unit\.geojson: invalid JSON at line 1, column 44"):
        load_floorplan(imdf)


def test_errors_raise_floorplan_error_with_every_problem(tmp_path: Path) -> None:
    doc = small_plan()
    doc["features"][1]["properties"]["kind"] = "dungeon"  # parse error
    doc["features"][2]["geometry"]["coordinates"] = [500.0, 2.5]  # reader outside
    doc["features"].append(json.loads(json.dumps(doc["features"][0])))  # duplicate id "a"
    f = write_json(tmp_path / "floorplan.geojson", doc)
    with pytest.raises(FloorplanError) as e:
        load_floorplan(f)
    ids = [p.feature_id for p in e.value.problems if p.severity == "error"]
    assert ids == ["b", "a", "r"]
    assert e.value.source == str(f)
    assert e.value.exit_code == 2
    assert "3 error(s)" in str(e.value)


def test_warnings_come_back_and_the_repair_is_applied(tmp_path: Path) -> None:
    doc = small_plan()
    # An unclosed ring (closed on load) and a zero-width spike (repaired by make_valid).
    doc["features"][0]["geometry"]["coordinates"] = [
        [[0.0, 0.0], [5.0, 0.0], [5.0, 5.0], [2.0, 5.0], [2.0, 5.3], [2.0, 5.0], [0.0, 5.0]]
    ]
    loaded = load_floorplan(write_json(tmp_path / "floorplan.geojson", doc))
    assert [(w.severity, w.feature_id) for w in loaded.warnings] == [
        ("warning", "a"),
        ("warning", "a"),
    ]
    a = loaded.floorplan.zone("a").polygon
    assert a.is_valid and a.area == pytest.approx(25.0)


def test_write_round_trips_byte_for_byte(tmp_path: Path) -> None:
    loaded = load_floorplan(MINI)
    out = write_floorplan(loaded.floorplan, tmp_path)
    assert out == tmp_path / "floorplan.geojson"
    again = load_floorplan(out)
    assert again.warnings == ()
    assert floorplan_json(again.floorplan) == out.read_text(encoding="utf-8")
    assert len(again.floorplan.zones) == len(loaded.floorplan.zones)
    assert again.floorplan.site.origin == loaded.floorplan.site.origin
    # Same input, same bytes.
    second = write_floorplan(loaded.floorplan, tmp_path / "second.geojson")
    assert second.read_bytes() == out.read_bytes()


def test_paths_that_are_not_floorplans(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_floorplan(tmp_path / "missing.geojson")
    with pytest.raises(InputError, match="neither"):
        load_floorplan(tmp_path)
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        load_floorplan(bad_zip)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.json", "{}")
    with pytest.raises(InputError, match="not an IMDF"):
        load_floorplan(other_zip)
    array = write_json(tmp_path / "array.geojson", [1, 2])
    with pytest.raises(InputError, match="not an object"):
        load_floorplan(array)
