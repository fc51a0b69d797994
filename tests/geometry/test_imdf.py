"""IMDF import: category mapping, levels, openings, origin and projection, broken archives."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geometry.errors import Problem
from geometry.imdf import OPENING_KINDS, STRUCTURAL_CATEGORIES, UNIT_KINDS, parse_imdf
from geometry.model import GeoPoint, OpeningKind, ZoneKind
from geometry.validation import validate

MINI = Path(__file__).resolve().parents[1] / "data" / "imdf" / "mini-school"
DISPLAY_POINT = GeoPoint(13.40495, 52.52001)


@pytest.fixture(scope="module")
def mini_files() -> dict[str, Any]:
    """The mini-school archive, parsed, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(MINI.glob("*.*json"))}


def files(mini_files: dict[str, Any]) -> dict[str, Any]:
    """A private deep copy to break."""
    return copy.deepcopy(mini_files)


def feature(fs: dict[str, Any], name: str, index: int = 0) -> dict[str, Any]:
    """One feature of one file."""
    return fs[name]["features"][index]


def ids_of(problems: list[Problem], severity: str) -> list[str]:
    """The feature ids of the problems of one severity."""
    return [p.feature_id for p in problems if p.severity == severity]


def test_mini_school_imports_cleanly_and_validates(mini_files: dict[str, Any]) -> None:
    fp, problems = parse_imdf(mini_files, "mini")
    assert problems == []
    assert validate(fp) == []
    assert fp.site.name == "Mini School"
    assert fp.site.id == feature(mini_files, "venue.geojson")["id"]
    assert fp.site.origin == DISPLAY_POINT


def test_levels_keep_their_ids_ordinals_and_names(mini_files: dict[str, Any]) -> None:
    fp, _ = parse_imdf(mini_files, "mini")
    raw = mini_files["level.geojson"]["features"]
    assert [lv.id for lv in fp.levels] == [f["id"] for f in raw]
    assert [(lv.ordinal, lv.name) for lv in fp.levels] == [(0, "Ground floor"), (1, "1")]


def test_units_become_zones_with_mapped_kinds(mini_files: dict[str, Any]) -> None:
    fp, _ = parse_imdf(mini_files, "mini")
    units = {f["id"]: f["properties"] for f in mini_files["unit.geojson"]["features"]}
    zones = {z.id: z for z in fp.zones}
    # Every unit but the structural column is a zone with its UUID as id.
    columns = [u for u, p in units.items() if p["category"] == "column"]
    assert len(columns) == 1 and columns[0] not in zones
    assert set(units) - set(columns) <= set(zones)
    kinds = Counter(zones[u].kind for u in units if u in zones)
    assert kinds == {
        ZoneKind.CORRIDOR: 2,
        ZoneKind.CLASSROOM: 5,
        ZoneKind.RESTROOM: 2,
        ZoneKind.STAIRS: 2,
        ZoneKind.ELEVATOR: 2,
        ZoneKind.STORAGE: 1,
        ZoneKind.LAB: 1,
        ZoneKind.LIBRARY: 1,
        ZoneKind.OFFICE: 1,
        ZoneKind.CAFETERIA: 1,
        ZoneKind.RESTRICTED: 1,  # serverroom
        ZoneKind.GYM: 1,  # fitnessroom
        ZoneKind.STAFF_ONLY: 1,  # nonpublic with an employeesonly restriction
    }
    for u, props in units.items():
        if u in zones:
            assert zones[u].properties["imdf_category"] == props["category"]
            assert zones[u].level == props["level_id"]
    by_name = {z.name: z for z in fp.zones}
    assert by_name["Head teacher"].kind is ZoneKind.OFFICE  # unnamed unit, named by occupant
    assert by_name["Staff room"].properties["imdf_restriction"] == "employeesonly"


def test_venue_and_footprint_zones(mini_files: dict[str, Any]) -> None:
    fp, _ = parse_imdf(mini_files, "mini")
    venue_id = feature(mini_files, "venue.geojson")["id"]
    safe = [z for z in fp.zones if z.kind is ZoneKind.SAFE_AREA]
    assert [z.id for z in safe] == [f"{venue_id}@{lv.id}" for lv in fp.levels]
    assert {z.level for z in safe} == {lv.id for lv in fp.levels}
    (building,) = [z for z in fp.zones if z.kind is ZoneKind.BUILDING]
    assert building.level == fp.levels[0].id  # the ground level
    assert building.polygon.area == pytest.approx(800.0, rel=1e-4)


def test_projection_puts_the_display_point_at_the_origin(mini_files: dict[str, Any]) -> None:
    fp, _ = parse_imdf(mini_files, "mini")
    # The generator drew the block 40 x 20 m with the display point at its centre.
    (building,) = [z for z in fp.zones if z.kind is ZoneKind.BUILDING]
    assert building.polygon.bounds == pytest.approx((-20.0, -10.0, 20.0, 10.0), abs=2e-3)
    corridor = next(z for z in fp.zones if z.name == "Ground corridor")
    assert corridor.polygon.area == pytest.approx(160.0, rel=1e-4)


def test_openings_become_doors_and_exits(mini_files: dict[str, Any]) -> None:
    fp, _ = parse_imdf(mini_files, "mini")
    kinds = Counter(o.kind for o in fp.openings)
    assert kinds == {OpeningKind.DOOR: 18, OpeningKind.EXIT: 1, OpeningKind.EMERGENCY_EXIT: 1}
    corridors = {z.id for z in fp.zones if z.kind is ZoneKind.CORRIDOR}
    for o in fp.openings:
        if o.kind is OpeningKind.DOOR:
            # A room door joins exactly its room and the corridor.
            assert len(o.zones) == 2 and len(set(o.zones) & corridors) == 1
        else:
            assert len(o.zones) == 1 and o.zones[0] in corridors
    assert {o.name for o in fp.openings if o.kind is not OpeningKind.DOOR} == {
        "Main entrance",
        "Fire exit",
    }


def test_venue_without_display_point_uses_the_centroid_with_a_warning(
    mini_files: dict[str, Any],
) -> None:
    fs = files(mini_files)
    del feature(fs, "venue.geojson")["properties"]["display_point"]
    fp, problems = parse_imdf(fs, "mini")
    assert ids_of(problems, "warning") == [feature(fs, "venue.geojson")["id"]]
    assert "centroid" in problems[0].message
    assert fp.site.origin is not None
    # The venue rectangle (-40..40 x -30..30 m around the display point) is centred on it.
    assert fp.site.origin.lon == pytest.approx(DISPLAY_POINT.lon, abs=1e-6)
    assert fp.site.origin.lat == pytest.approx(DISPLAY_POINT.lat, abs=1e-6)
    assert validate(fp) == []


def test_an_explicit_origin_wins(mini_files: dict[str, Any]) -> None:
    shifted = GeoPoint(DISPLAY_POINT.lon, DISPLAY_POINT.lat - 0.0001)  # ~11 m south
    fp, problems = parse_imdf(mini_files, "mini", origin=shifted)
    assert problems == [] and fp.site.origin == shifted
    (building,) = [z for z in fp.zones if z.kind is ZoneKind.BUILDING]
    assert building.polygon.bounds[1] == pytest.approx(-10.0 + 11.13, abs=0.05)


def test_category_mapping_and_restrictions(mini_files: dict[str, Any]) -> None:
    fs = files(mini_files)
    units = fs["unit.geojson"]["features"]
    units[1]["properties"]["category"] = "broomcupboard"
    units[2]["properties"]["restriction"] = "restricted"
    fp, problems = parse_imdf(fs, "mini")
    assert ids_of(problems, "warning") == [units[1]["id"]]
    assert fp.zone(units[1]["id"]).kind is ZoneKind.ROOM
    assert fp.zone(units[2]["id"]).kind is ZoneKind.RESTRICTED
    assert all(UNIT_KINDS[c] is ZoneKind.RESTROOM for c in UNIT_KINDS if c.startswith("restroom"))
    assert UNIT_KINDS["laboratory"] is ZoneKind.LAB and UNIT_KINDS["walkway"] is ZoneKind.CORRIDOR
    assert OPENING_KINDS["emergencyexit"] is OpeningKind.EMERGENCY_EXIT


#: Every unit category of OGC 20-094 "Categories" (IMDF 1.0.0).
SPEC_UNIT_CATEGORIES = [
    "auditorium",
    "brick",
    "classroom",
    "column",
    "concrete",
    "conferenceroom",
    "drywall",
    "elevator",
    "escalator",
    "fieldofplay",
    "firstaid",
    "fitnessroom",
    "foodservice",
    "footbridge",
    "glass",
    "huddleroom",
    "kitchen",
    "laboratory",
    "library",
    "lobby",
    "lounge",
    "mailroom",
    "mothersroom",
    "movietheater",
    "movingwalkway",
    "nonpublic",
    "office",
    "opentobelow",
    "parking",
    "phoneroom",
    "platform",
    "privatelounge",
    "ramp",
    "recreation",
    "restroom",
    "restroom.family",
    "restroom.female",
    "restroom.female.wheelchair",
    "restroom.male",
    "restroom.male.wheelchair",
    "restroom.transgender",
    "restroom.transgender.wheelchair",
    "restroom.unisex",
    "restroom.unisex.wheelchair",
    "restroom.wheelchair",
    "road",
    "room",
    "serverroom",
    "shower",
    "smokingarea",
    "stairs",
    "steps",
    "storage",
    "structure",
    "terrace",
    "theater",
    "unenclosedarea",
    "unspecified",
    "vegetation",
    "waitingroom",
    "walkway",
    "walkway.island",
    "wood",
]


def test_every_spec_unit_category_is_mapped_or_skipped() -> None:
    assert len(SPEC_UNIT_CATEGORIES) == 63
    unmapped = [c for c in SPEC_UNIT_CATEGORIES if c not in UNIT_KINDS]
    assert set(unmapped) == STRUCTURAL_CATEGORIES
    assert not set(UNIT_KINDS) & STRUCTURAL_CATEGORIES


def test_broken_archives_report_every_problem(mini_files: dict[str, Any]) -> None:
    fs = files(mini_files)
    units = fs["unit.geojson"]["features"]
    units[0]["geometry"] = None
    units[1]["properties"]["level_id"] = "no-such-level"
    ring = units[3]["geometry"]["coordinates"][0]
    ring[1] = [ring[1][0], float("nan")]
    fs["opening.geojson"]["features"][0]["geometry"] = {"type": "Point", "coordinates": [0, 0]}
    fs["anchor.geojson"]["features"][0]["properties"]["unit_id"] = "ghost"
    fs["level.geojson"]["features"][1]["properties"]["ordinal"] = "first"
    fp, problems = parse_imdf(fs, "mini")
    errors = ids_of(problems, "error")
    assert errors == [
        fs["level.geojson"]["features"][1]["id"],
        units[0]["id"],
        units[3]["id"],
        fs["opening.geojson"]["features"][0]["id"],
    ]
    assert ids_of(problems, "warning") == [fs["anchor.geojson"]["features"][0]["id"]]
    # The unknown level is the validator's to report, with the unit's id.
    assert ids_of(validate(fp), "error")[:1] == [units[1]["id"]]


def test_venue_count_and_missing_levels(mini_files: dict[str, Any]) -> None:
    fs = files(mini_files)
    fs["venue.geojson"]["features"].append(copy.deepcopy(feature(fs, "venue.geojson")))
    fs["venue.geojson"]["features"][1]["id"] = "second-venue"
    _, problems = parse_imdf(fs, "mini")
    assert ids_of(problems, "error") == ["mini:venue.geojson"]
    fs = files(mini_files)
    del fs["venue.geojson"]
    fs["level.geojson"]["features"] = []
    _, problems = parse_imdf(fs, "mini")
    assert set(ids_of(problems, "error")) >= {"mini:venue.geojson", "level.geojson"}
    fs = files(mini_files)
    fs["unit.geojson"] = {"type": "FeatureCollection", "features": [{"type": "Feature"}]}
    _, problems = parse_imdf(fs, "mini")
    assert ids_of(problems, "error") == ["mini:unit.geojson:features[0]"]


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.sampled_from(["en", "x"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["en", "type"]), c),
    max_leaves=10,
)
KEYS = ["category", "name", "alt_name", "short_name", "ordinal", "level_id", "restriction"]
KEYS += ["display_point", "building_ids", "unit_id", "anchor_id"]
FILES = ["unit.geojson", "level.geojson", "opening.geojson", "venue.geojson"]
FILES += ["anchor.geojson", "footprint.geojson", "occupant.geojson"]


@settings(max_examples=150)
@given(
    st.sampled_from(FILES),
    st.dictionaries(st.sampled_from(KEYS), JUNK, max_size=6),
    st.sampled_from([None, "square", "junk"]),
    JUNK,
)
def test_parse_imdf_never_raises_on_junk(name: str, props: Any, geom: Any, junk: Any) -> None:
    fs = {p.name: json.loads(p.read_text()) for p in sorted(MINI.glob("*.*json"))}
    geometry = {
        None: None,
        "square": {"type": "Polygon", "coordinates": [[[0, 0], [1e-4, 0], [0, 1e-4], [0, 0]]]},
        "junk": {"type": "Polygon", "coordinates": junk},
    }[geom]
    fs[name] = {
        "type": "FeatureCollection",
        "features": [
            junk,
            {"id": "j", "type": "Feature", "geometry": geometry, "properties": props},
        ],
    }
    fp, problems = parse_imdf(fs, "mini")
    assert all(p.feature_id and p.severity in ("error", "warning") for p in problems)
    validate(fp)  # and the validator takes whatever the parser made
