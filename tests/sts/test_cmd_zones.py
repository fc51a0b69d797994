"""`sts zones`: bulk lookup against shapely, WGS84 input, and bad input named by line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from geometry.frame import LocalFrame
from geometry.model import Floorplan
from sts.cli import main
from sts.floorplan_io import load_floorplan
from sts.points_csv import read_points

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
STS = ROOT / ".venv" / "bin" / "sts"


@pytest.fixture(scope="module")
def fp() -> Floorplan:
    return load_floorplan(NORTHFIELD).floorplan


def _points(n: int, seed: int = 7) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    levels = rng.choice(["L0", "L1"], n).tolist()
    x = np.round(rng.uniform(-5, 225, n), 2)
    y = np.round(rng.uniform(-5, 125, n), 2)
    # Exact corners and walls too: shared edges count for both zones.
    levels += ["L0", "L0", "L1", "L0"]
    x = np.append(x, [16.0, 25.0, 10.0, 43.0])
    y = np.append(y, [82.0, 75.0, 70.0, 70.0])
    return levels, x, y


def _expected(fp: Floorplan, level: str, x: float, y: float) -> str:
    ids = sorted(z.id for z in fp.zones_on(level) if shapely.intersects_xy(z.polygon, x, y))
    return ";".join(ids)


def _run(args: list[str]) -> int:
    return main(["zones", str(NORTHFIELD), *args])


def test_local_points_agree_with_shapely(fp: Floorplan, tmp_path: Path) -> None:
    levels, x, y = _points(1500)
    src = tmp_path / "points.csv"
    src.write_text(
        "level,x,y\n" + "".join(f"{lv},{a},{b}\n" for lv, a, b in zip(levels, x, y, strict=True))
    )
    out = tmp_path / "zones.csv"
    assert _run(["--in", str(src), "--out", str(out)]) == 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["level", "x", "y", "zones"]
    assert len(rows) == len(levels) + 1
    hit = 0
    for (lv, a, b), row in zip(zip(levels, x, y, strict=True), rows[1:], strict=True):
        assert row[:3] == [lv, str(a), str(b)]
        assert row[3] == _expected(fp, lv, float(a), float(b)), row
        hit += bool(row[3])
    assert hit > 300  # most of the campus is zoned: the comparison is not vacuous
    assert rows[-4][3] == "L0-classroom-1;L0-corridor-a;L0-safe-area;L0-stairs-west;L0-wing-a"


def test_wgs84_points_give_the_same_zones(fp: Floorplan, tmp_path: Path) -> None:
    levels, x, y = _points(300, seed=3)
    assert fp.site.origin is not None
    lon_a, lat_a = LocalFrame(fp.site.origin).to_wgs84(x, y)
    x, y, lon, lat = x.tolist(), y.tolist(), lon_a.tolist(), lat_a.tolist()
    local, wgs = tmp_path / "local.csv", tmp_path / "wgs.csv"
    local.write_text(
        "level,x,y\n"
        + "".join(f"{lv},{a!r},{b!r}\n" for lv, a, b in zip(levels, x, y, strict=True))
    )
    wgs.write_text(
        "level,lon,lat\n"
        + "".join(f"{lv},{a!r},{b!r}\n" for lv, a, b in zip(levels, lon, lat, strict=True))
    )
    assert _run(["--in", str(local), "--out", str(tmp_path / "a.csv")]) == 0
    assert _run(["--in", str(wgs), "--out", str(tmp_path / "b.csv")]) == 0
    za = [r[-1] for r in csv.reader((tmp_path / "a.csv").read_text().splitlines()[1:])]
    zb = [r[-1] for r in csv.reader((tmp_path / "b.csv").read_text().splitlines()[1:])]
    # Points exactly on a wall may fall either side after the round trip to degrees.
    on_wall = [
        any(abs(z.polygon.boundary.distance(shapely.Point(a, b))) < 1e-6 for z in fp.zones_on(lv))
        for lv, a, b in zip(levels, x, y, strict=True)
    ]
    assert [p for p, w in zip(za, on_wall, strict=True) if not w] == [
        p for p, w in zip(zb, on_wall, strict=True) if not w
    ]
    assert (tmp_path / "b.csv").read_text().splitlines()[0] == "level,lon,lat,zones"


def test_other_columns_quotes_spaces_and_blank_lines_pass_through(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text('id,level,x,y\n"a,1",L0,20,75\n\nb, L1 , 20 , 75\nc,L0,300,300\n')
    out = tmp_path / "o.csv"
    assert _run(["--in", str(src), "--out", str(out)]) == 0
    assert out.read_text().splitlines() == [
        "id,level,x,y,zones",
        '"a,1",L0,20,75,L0-classroom-1;L0-safe-area;L0-wing-a',
        "b, L1 , 20 , 75,L1-biology-lab;L1-safe-area;L1-wing-a",
        "c,L0,300,300,",
    ]


def test_header_only_gives_header_only(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("level,x,y\n")
    assert _run(["--in", str(src), "--out", str(tmp_path / "o.csv")]) == 0
    assert (tmp_path / "o.csv").read_text() == "level,x,y,zones\n"


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("lvl,x,y\nL0,1,2\n", ["line 1", "level,x,y"]),
        ("level,x,y,lon,lat\nL0,1,2,3,4\n", ["line 1", "not both"]),
        ("level,x,y\nL0,1,2\nL9,1,2\n", ["line 3", "'level'", "L9", "L0, L1"]),
        ("level,x,y\nL0,1,2\nL0,abc,2\nL0,1,inf\n", ["line 3", "'x'", "abc", "line 4", "'y'"]),
        ("level,x,y\nL0,1,2\nL0,1\n", ["line 3", "2 fields, expected 3"]),
        # The field total is right, the rows are not: found per line all the same.
        ("level,x,y\nL0,1\nL0,1,2,3\n", ["line 2", "line 3", "4 fields"]),
        ("level,lon,lat\nL0,-1.9,152.4\n", ["line 2", "lat in [-90, 90]"]),
        ("", ["empty", "level,x,y"]),
    ],
)
def test_bad_input_names_line_and_column_and_writes_nothing(
    tmp_path: Path, body: str, needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "p.csv", tmp_path / "o.csv"
    src.write_text(body)
    assert _run(["--in", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err
    assert not out.exists()


def test_many_bad_rows_are_counted(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("level,x,y\n" + "L0,x,1\n" * 25)
    with pytest.raises(Exception, match=r"25 bad value\(s\)[\s\S]*and 15 more"):
        read_points(src, ["L0"])


def test_lon_lat_needs_a_site_origin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "floorplan.geojson"
    plan.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "sts": {
                    "format": "sts-floorplan",
                    "version": 1,
                    "crs": "local",
                    "site": {"id": "t", "name": "No origin"},
                    "levels": [{"id": "L0", "ordinal": 0, "name": "Ground"}],
                },
                "features": [
                    {
                        "type": "Feature",
                        "id": "room",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [9, 0], [9, 9], [0, 9], [0, 0]]],
                        },
                        "properties": {
                            "feature_type": "zone",
                            "level": "L0",
                            "kind": "room",
                            "name": "Room",
                        },
                    }
                ],
            }
        )
    )
    src = tmp_path / "p.csv"
    src.write_text("level,lon,lat\nL0,-1.9,52.4\n")
    assert main(["zones", str(plan), "--in", str(src), "--out", str(tmp_path / "o.csv")]) == 2
    assert "site origin" in capsys.readouterr().err
    src.write_text("level,x,y\nL0,1,1\n")
    assert main(["zones", str(plan), "--in", str(src), "--out", str(tmp_path / "o.csv")]) == 0
    assert (tmp_path / "o.csv").read_text().splitlines()[1] == "L0,1,1,room"


def test_process_exits_2_without_traceback(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("level,x,y\nL0,1,2\nL0,one,2\n")
    sts = [str(STS)] if STS.exists() else [sys.executable, "-m", "sts"]
    res = subprocess.run(
        [*sts, "zones", str(NORTHFIELD), "--in", str(src), "--out", str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "line 3" in res.stderr and "'x'" in res.stderr
