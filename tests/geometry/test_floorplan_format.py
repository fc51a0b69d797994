"""The project floorplan format: parsing, problems reported at once, projection, round trip."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geometry.floorplan_format import dump_floorplan, parse_floorplan
from geometry.frame import LocalFrame
from geometry.model import GeoPoint, OpeningKind, ZoneKind


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    """Closed rectangle Polygon coordinates."""
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def zone(fid: str, coords: Any, kind: str = "room", level: str = "L0", **extra: Any) -> dict:
    """A zone feature."""
    props = {"feature_type": "zone", "level": level, "kind": kind, "name": fid, **extra}
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Polygon", "coordinates": coords},
        "properties": props,
    }


def document(features: list[dict], crs: str = "local", origin: Any = None) -> dict:
    """A floorplan document with one level."""
    site: dict[str, Any] = {"id": "s", "name": "Site"}
    if origin is not None:
        site["origin"] = origin
    return {
        "type": "FeatureCollection",
        "sts": {
            "format": "sts-floorplan",
            "version": 1,
            "crs": crs,
            "site": site,
            "levels": [{"id": "L0", "ordinal": 0, "name": "Ground"}],
        },
        "features": features,
    }


def full_document() -> dict:
    """A small plan with every feature type."""
    return document(
        [
            zone("hall", square(0, 0, 20, 10), "corridor"),
            zone("lab", square(0, 10, 10, 20), "lab", capacity=24, staff_only=False),
            {
                "type": "Feature",
                "id": "r1",
                "geometry": {"type": "Point", "coordinates": [5.0, 5.0]},
                "properties": {"feature_type": "reader", "level": "L0", "z": 3.0, "rssi_1m": -61},
            },
            {
                "type": "Feature",
                "id": "d1",
                "geometry": {"type": "LineString", "coordinates": [[4.0, 10.0], [5.0, 10.0]]},
                "properties": {
                    "feature_type": "opening",
                    "level": "L0",
                    "kind": "emergency_exit",
                    "zones": ["hall", "lab"],
                    "name": "Fire door",
                },
            },
        ],
        origin=[-1.5, 52.4],
    )


def errors(problems: list) -> list:
    """The error-severity problems."""
    return [p for p in problems if p.severity == "error"]


def test_parses_every_feature_type_with_properties_and_defaults() -> None:
    fp, problems = parse_floorplan(full_document(), "t")
    assert problems == []
    assert fp.site.origin == GeoPoint(-1.5, 52.4)
    assert [lv.id for lv in fp.levels] == ["L0"]
    lab = fp.zone("lab")
    assert lab.kind is ZoneKind.LAB
    assert dict(lab.properties) == {"capacity": 24, "staff_only": False}
    assert lab.polygon.area == pytest.approx(100.0)
    (r,) = fp.readers
    assert (r.x, r.y, r.z) == (5.0, 5.0, 3.0)
    assert r.calibration.rssi_1m == -61.0
    assert r.calibration.exponent == 2.0  # default
    (d,) = fp.openings
    assert d.kind is OpeningKind.EMERGENCY_EXIT
    assert d.zones == ("hall", "lab")
    assert d.name == "Fire door"


def test_round_trip_is_exact_and_json_serialisable() -> None:
    fp, _ = parse_floorplan(full_document(), "t")
    dumped = dump_floorplan(fp)
    fp2, problems = parse_floorplan(json.loads(json.dumps(dumped)), "t2")
    assert problems == []
    assert fp2 == fp
    assert dump_floorplan(fp2) == dumped


def test_holes_and_multipolygons_round_trip() -> None:
    outer = square(0, 0, 10, 10)[0]
    hole = [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]]
    doc = document(
        [
            zone("ring", [outer, hole], "corridor"),
            {
                "type": "Feature",
                "id": "two",
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [square(20, 0, 22, 2), square(30, 0, 33, 3)],
                },
                "properties": {"feature_type": "zone", "level": "L0", "kind": "restroom"},
            },
        ]
    )
    fp, problems = parse_floorplan(doc, "t")
    assert problems == []
    assert fp.zone("ring").polygon.area == pytest.approx(96.0)
    assert fp.zone("two").polygon.area == pytest.approx(13.0)
    assert fp.zone("two").name == "two"  # the id when there is no name
    fp2, _ = parse_floorplan(dump_floorplan(fp), "t")
    assert fp2 == fp


@given(
    st.lists(
        st.tuples(
            st.floats(-500, 500, allow_nan=False),
            st.floats(-500, 500, allow_nan=False),
            st.floats(0.5, 50),
            st.floats(0.5, 50),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_round_trip_property(rects: list[tuple[float, float, float, float]]) -> None:
    feats = [zone(f"z{i}", square(x, y, x + w, y + h)) for i, (x, y, w, h) in enumerate(rects)]
    fp, problems = parse_floorplan(document(feats), "t")
    assert problems == []
    fp2, problems2 = parse_floorplan(dump_floorplan(fp), "t")
    assert problems2 == []
    for a, b in zip(fp.zones, fp2.zones, strict=True):
        # Dump rounds to 0.1 mm.
        assert np.allclose(
            np.asarray(a.polygon.exterior.coords), np.asarray(b.polygon.exterior.coords), atol=1e-4
        )
    assert dump_floorplan(fp2) == dump_floorplan(fp)


def test_wgs84_plans_are_projected_into_the_local_frame() -> None:
    origin = GeoPoint(-1.98402, 52.41017)
    frame = LocalFrame(origin)
    lon, lat = frame.to_wgs84(np.array([0.0, 30.0, 30.0, 0.0, 0.0]), np.array([0, 0, 20, 20, 0.0]))
    coords = [[[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]]
    reader = {
        "type": "Feature",
        "id": "r",
        "geometry": {"type": "Point", "coordinates": [float(lon[2]), float(lat[2])]},
        "properties": {"feature_type": "reader", "level": "L0"},
    }
    doc = document([zone("yard", coords, "outdoor"), reader], "wgs84", [origin.lon, origin.lat])
    fp, problems = parse_floorplan(doc, "t")
    assert problems == []
    yard = fp.zone("yard").polygon
    assert yard.area == pytest.approx(600.0, rel=1e-6)
    assert yard.bounds == pytest.approx((0.0, 0.0, 30.0, 20.0), abs=1e-6)
    assert (fp.readers[0].x, fp.readers[0].y) == pytest.approx((30.0, 20.0), abs=1e-6)
    # The dump is in local metres, and reads back to the same plan.
    dumped = dump_floorplan(fp)
    assert dumped["sts"]["crs"] == "local"
    assert parse_floorplan(dumped, "t")[0].zone("yard").polygon.area == pytest.approx(600.0)


def test_wgs84_without_origin_and_out_of_range_lon_lat_are_errors() -> None:
    doc = document([zone("a", square(0, 0, 1, 1))], "wgs84")
    _, problems = parse_floorplan(doc, "t")
    assert [p.feature_id for p in errors(problems)] == ["sts.site.origin"]
    doc = document([zone("far", square(0, 0, 200, 1))], "wgs84", [0.0, 0.0])
    _, problems = parse_floorplan(doc, "t")
    assert [p.feature_id for p in errors(problems)] == ["far"]
    assert "lon/lat" in problems[0].message


def test_unclosed_ring_is_closed_with_a_warning() -> None:
    ring = [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]
    fp, problems = parse_floorplan(document([zone("open", [ring])]), "t")
    assert [(p.severity, p.feature_id) for p in problems] == [("warning", "open")]
    assert "not closed" in problems[0].message
    assert fp.zone("open").polygon.area == pytest.approx(12.0)


def test_every_bad_feature_is_reported_at_once() -> None:
    nan_ring = [[0.0, 0.0], [1.0, 0.0], [float("nan"), 1.0], [0.0, 0.0]]
    feats = [
        zone("ok", square(0, 0, 5, 5)),
        zone("badkind", square(0, 0, 1, 1), "dungeon"),
        zone("nan", [nan_ring]),
        zone("line", [[[0, 0], [1, 1], [0, 0], [1, 1]]]),
        zone("words", [[["a", "b"], [1, 1], [2, 0], ["a", "b"]]]),
        {"type": "Feature", "geometry": None, "properties": {"feature_type": "zone"}},
        {"type": "Feature", "id": "what", "geometry": None, "properties": {"feature_type": "x"}},
        {
            "type": "Feature",
            "id": "rdr",
            "geometry": {"type": "Point", "coordinates": [1.0, 1.0]},
            "properties": {"feature_type": "reader", "level": "L0", "z": "high"},
        },
        {
            "type": "Feature",
            "id": "door",
            "geometry": {"type": "LineString", "coordinates": [[1.0, 1.0], [1.0, 1.0]]},
            "properties": {"feature_type": "opening", "level": "L0", "kind": "door"},
        },
        {
            "type": "Feature",
            "id": "gate",
            "geometry": {"type": "LineString", "coordinates": [[1.0, 1.0], [2.0, 1.0]]},
            "properties": {"feature_type": "opening", "level": "L0", "kind": "portal"},
        },
        {
            "type": "Feature",
            "id": "pt",
            "geometry": {"type": "Point", "coordinates": [1.0, 1.0]},
            "properties": {"feature_type": "zone", "level": "L0", "kind": "room"},
        },
    ]
    fp, problems = parse_floorplan(document(feats), "t")
    ids = [p.feature_id for p in errors(problems)]
    expected = ["badkind", "nan", "line", "words", "features[5]", "what", "rdr", "door", "gate"]
    assert ids == [*expected, "pt"]
    assert all(p.fix for p in problems)
    assert [z.id for z in fp.zones] == ["ok"]
    assert [r.id for r in fp.readers] == ["rdr"]  # kept with the default z
    assert "dungeon" in problems[0].message and "classroom" in problems[0].fix


def test_header_problems() -> None:
    _, problems = parse_floorplan({"type": "Feature"}, "plan.geojson")
    assert [p.feature_id for p in problems] == ["plan.geojson"]
    doc = document([])
    del doc["sts"]
    _, problems = parse_floorplan(doc, "t")
    assert {p.feature_id for p in errors(problems)} == {"sts", "sts.levels"}
    doc = document([])
    doc["sts"].update(version=2, crs="utm", levels=[{"ordinal": "x"}])
    doc["sts"]["site"]["origin"] = [500.0, 1.0]
    _, problems = parse_floorplan(doc, "t")
    assert {p.feature_id for p in errors(problems)} == {
        "sts.version",
        "sts.crs",
        "sts.levels[0]",
        "sts.site.origin",
    }


def test_parse_does_not_mutate_its_input() -> None:
    doc = full_document()
    before = copy.deepcopy(doc)
    fp, _ = parse_floorplan(doc, "t")
    assert doc == before
    assert not math.isnan(fp.zones[0].polygon.area)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["zone", "reader", "opening", "L0", "room", "Polygon", "Point"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "id",
                    "geometry",
                    "coordinates",
                    "properties",
                    "feature_type",
                    "kind",
                    "level",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(st.lists(JSON, max_size=6), JSON)
def test_parse_never_raises_on_junk(features: list[Any], header: Any) -> None:
    doc = document([])
    doc["features"] = features
    doc["sts"]["site"] = header
    fp, problems = parse_floorplan(doc, "junk")
    assert all(p.severity in ("error", "warning") and p.feature_id for p in problems)
    assert len(fp.zones) + len(fp.readers) + len(fp.openings) <= len(features)
