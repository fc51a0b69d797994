"""`sts floorplan validate` and `sts floorplan render`, in process and once as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from geometry.model import ZoneKind
from sts.cli import main
from sts.floorplan_io import load_floorplan
from sts.render import KIND_COLOURS, OPENING_COLOURS

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
STS = ROOT / ".venv" / "bin" / "sts"

SQUARE = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]
BOWTIE = [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]


def _plan(features: list[dict[str, object]], origin: bool = True) -> dict[str, object]:
    site: dict[str, object] = {"id": "t", "name": "Test site"}
    if origin:
        site["origin"] = [-1.9, 52.4]
    return {
        "type": "FeatureCollection",
        "sts": {
            "format": "sts-floorplan",
            "version": 1,
            "crs": "local",
            "site": site,
            "levels": [{"id": "L0", "ordinal": 0, "name": "Ground"}],
        },
        "features": features,
    }


def _zone(
    zid: str, coords: list[list[list[float]]], level: str = "L0", kind: str = "room"
) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": zid,
        "geometry": {"type": "Polygon", "coordinates": coords},
        "properties": {"feature_type": "zone", "level": level, "kind": kind, "name": zid},
    }


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "floorplan.geojson"
    doc = _plan([_zone("good", SQUARE), _zone("bowtie", BOWTIE), _zone("lost", SQUARE, level="L9")])
    path.write_text(json.dumps(doc))
    return path


def test_validate_summary(capsys: pytest.CaptureFixture[str]) -> None:
    fp = load_floorplan(NORTHFIELD).floorplan
    assert main(["floorplan", "validate", str(NORTHFIELD)]) == 0
    out = capsys.readouterr().out
    assert "levels: 2" in out
    assert f"zones: {len(fp.zones)} (" in out
    assert f"readers: {len(fp.readers)}" in out
    assert f"doors: {len(fp.openings)} (" in out
    assert "restricted 2" in out
    assert "warnings: 0" in out


def test_validate_json_lists_everything(capsys: pytest.CaptureFixture[str]) -> None:
    fp = load_floorplan(NORTHFIELD).floorplan
    assert main(["floorplan", "validate", str(NORTHFIELD / "floorplan.geojson"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert [lv["id"] for lv in doc["levels"]] == ["L0", "L1"]
    assert [z["id"] for z in doc["zones"]] == [z.id for z in fp.zones]
    assert [r["id"] for r in doc["readers"]] == [r.id for r in fp.readers]
    assert [d["id"] for d in doc["doors"]] == [o.id for o in fp.openings]
    assert doc["warnings"] == []
    boiler = next(z for z in doc["zones"] if z["id"] == "L0-boiler-room")
    assert boiler["kind"] == "restricted" and boiler["level"] == "L0"
    assert boiler["bounds"] == pytest.approx(list(fp.zone("L0-boiler-room").polygon.bounds))
    reader = doc["readers"][0]
    assert set(reader) == {"id", "level", "x", "y", "z"}
    door = next(d for d in doc["doors"] if d["kind"] == "emergency_exit")
    assert set(door) >= {"id", "kind", "level", "zones"} and len(door["zones"]) >= 1
    assert doc["site"]["origin"] == pytest.approx([fp.site.origin.lon, fp.site.origin.lat])  # type: ignore[union-attr]


def test_validate_broken_plan_lists_problems_and_exits_2(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["floorplan", "validate", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "bowtie" in err and "lost" in err
    assert "Traceback" not in err


def test_validate_broken_plan_json(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "validate", str(broken), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    ids = {p["feature_id"] for p in doc["problems"] if p["severity"] == "error"}
    assert {"bowtie", "lost"} <= ids
    assert all(p["message"] for p in doc["problems"])


def test_validate_missing_file_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["floorplan", "validate", str(tmp_path / "nope.geojson"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "nope.geojson" in json.dumps(doc)


def test_render_png(tmp_path: Path) -> None:
    out = tmp_path / "plan.png"
    assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000


def _svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_render_svg_has_the_zone_labels(tmp_path: Path) -> None:
    out = tmp_path / "plan.svg"
    assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(out)]) == 0
    texts = " ".join(_svg_texts(out)).replace("\n", " ")
    for name in ("Classroom 1", "Boiler room", "Library", "Sports hall", "Muster point A"):
        words = name.split()
        assert all(w in texts for w in words), name
    assert "Ground floor (L0)" in texts and "First floor (L1)" in texts


def test_render_one_level_only(tmp_path: Path) -> None:
    out = tmp_path / "l1.svg"
    assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(out), "--level", "L1"]) == 0
    texts = " ".join(_svg_texts(out))
    assert "Library" in texts and "First floor (L1)" in texts
    assert "Sports hall" not in texts and "Ground floor" not in texts


def test_render_is_deterministic(tmp_path: Path) -> None:
    for ext in ("svg", "png"):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(a)]) == 0
        assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(b)]) == 0
        assert a.read_bytes() == b.read_bytes(), ext


@pytest.mark.parametrize("name", ["plan.jpg", "plan", "plan.pdf"])
def test_render_refuses_other_extensions(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert ".png" in err and ".svg" in err
    assert not out.exists()


def test_render_unknown_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.png"
    assert main(["floorplan", "render", str(NORTHFIELD), "-o", str(out), "--level", "L7"]) == 2
    assert "L7" in capsys.readouterr().err and not out.exists()


def test_every_kind_has_its_own_colour() -> None:
    assert set(KIND_COLOURS) == set(ZoneKind)
    assert len(set(KIND_COLOURS.values())) == len(ZoneKind)
    assert len(set(OPENING_COLOURS.values())) == len(OPENING_COLOURS)


def test_process_exits_2_without_traceback(broken: Path, tmp_path: Path) -> None:
    sts = [str(STS)] if STS.exists() else [sys.executable, "-m", "sts"]
    bad = subprocess.run(
        [*sts, "floorplan", "validate", str(broken)], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "bowtie" in bad.stderr
    ext = subprocess.run(
        [*sts, "floorplan", "render", str(NORTHFIELD), "-o", str(tmp_path / "x.gif")],
        capture_output=True,
        text=True,
    )
    assert ext.returncode == 2 and "Traceback" not in ext.stderr
