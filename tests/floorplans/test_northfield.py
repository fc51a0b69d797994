"""Northfield School, the sample campus: what the issue asks of it, checked on the file."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from geometry.model import ROOM_LIKE_KINDS, Floorplan, OpeningKind, ZoneKind
from sts.floorplan_io import LoadedFloorplan, load_floorplan

HERE = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"


@pytest.fixture(scope="module")
def loaded() -> LoadedFloorplan:
    return load_floorplan(HERE / "floorplan.geojson")


@pytest.fixture(scope="module")
def fp(loaded: LoadedFloorplan) -> Floorplan:
    return loaded.floorplan


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("northfield_generate", HERE / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_loads_without_errors_or_warnings(loaded: LoadedFloorplan) -> None:
    assert loaded.warnings == () or list(loaded.warnings) == []
    assert loaded.floorplan.site.id == "northfield"


def test_the_file_is_what_the_generator_writes() -> None:
    gen = _generator()
    assert gen.geojson_text(gen.build()) == (HERE / "floorplan.geojson").read_text()


def test_two_levels_and_at_least_60_zones(fp: Floorplan) -> None:
    assert [(lv.id, lv.ordinal) for lv in fp.levels] == [("L0", 0), ("L1", 1)]
    assert len(fp.zones) >= 60
    assert len({z.id for z in fp.zones}) == len(fp.zones)
    assert {z.level for z in fp.zones} == {"L0", "L1"}


def test_site_origin_is_a_plausible_place(fp: Floorplan) -> None:
    origin = fp.site.origin
    assert origin is not None
    # The English Midlands, where the (fictional) school is placed.
    assert -3.0 < origin.lon < -1.0 and 52.0 < origin.lat < 53.0


def test_every_required_kind_is_present(fp: Floorplan) -> None:
    kinds = {z.kind for z in fp.zones}
    required = {
        ZoneKind.CLASSROOM,
        ZoneKind.LAB,
        ZoneKind.CORRIDOR,
        ZoneKind.STAIRS,
        ZoneKind.GYM,
        ZoneKind.CAFETERIA,
        ZoneKind.LIBRARY,
        ZoneKind.RESTROOM,
        ZoneKind.OFFICE,
        ZoneKind.RESTRICTED,
        ZoneKind.STAFF_ONLY,
        ZoneKind.PLAYGROUND,
        ZoneKind.PARKING,
        ZoneKind.SAFE_AREA,
        ZoneKind.MUSTER_POINT,
    }
    assert required <= kinds
    restricted = {z.name for z in fp.zones if z.kind is ZoneKind.RESTRICTED}
    assert {"Boiler room", "Roof access"} <= restricted
    assert sum(z.kind is ZoneKind.MUSTER_POINT for z in fp.zones) >= 2
    assert {o.kind for o in fp.openings} == set(OpeningKind)


def test_stairs_on_both_levels_in_the_same_place(fp: Floorplan) -> None:
    stairs = {
        lv.id: [z for z in fp.zones_on(lv.id) if z.kind is ZoneKind.STAIRS] for lv in fp.levels
    }
    assert len(stairs["L0"]) >= 2
    assert len(stairs["L0"]) == len(stairs["L1"])
    for s0 in stairs["L0"]:
        assert any(s0.polygon.symmetric_difference(s1.polygon).area < 1e-6 for s1 in stairs["L1"])


def test_safe_area_covers_buildings_and_playground_not_the_parking(fp: Floorplan) -> None:
    safe = shapely.union_all(
        [z.polygon for z in fp.zones if z.kind is ZoneKind.SAFE_AREA and z.level == "L0"]
    )
    for z in fp.zones_on("L0"):
        if z.kind in (ZoneKind.BUILDING, ZoneKind.PLAYGROUND, ZoneKind.MUSTER_POINT):
            assert safe.contains(z.polygon), z.id
        if z.kind is ZoneKind.PARKING:
            assert safe.intersection(z.polygon).area == 0, z.id
    # Upstairs is on campus too: every first-floor zone is inside a first-floor safe area.
    safe1 = shapely.union_all(
        [z.polygon for z in fp.zones if z.kind is ZoneKind.SAFE_AREA and z.level == "L1"]
    )
    assert all(safe1.contains(z.polygon) for z in fp.zones_on("L1"))


def test_muster_points_are_on_the_sports_field_or_playground(fp: Floorplan) -> None:
    grounds = [z.polygon for z in fp.zones if z.kind in (ZoneKind.OUTDOOR, ZoneKind.PLAYGROUND)]
    for m in (z for z in fp.zones if z.kind is ZoneKind.MUSTER_POINT):
        assert any(g.contains(m.polygon) for g in grounds), m.id


def test_rooms_on_a_level_never_partly_overlap(fp: Floorplan) -> None:
    for lv in fp.levels:
        rooms = [z for z in fp.zones_on(lv.id) if z.kind in ROOM_LIKE_KINDS]
        for i, a in enumerate(rooms):
            for b in rooms[i + 1 :]:
                shared = a.polygon.intersection(b.polygon).area
                nested = a.polygon.within(b.polygon) or b.polygon.within(a.polygon)
                assert shared < 1e-9 or nested, (a.id, b.id)


def _readers_in(fp: Floorplan, zone_id: str) -> list[tuple[float, float]]:
    z = fp.zone(zone_id)
    return [(r.x, r.y) for r in fp.readers_on(z.level) if z.polygon.intersects(Point(r.x, r.y))]


def test_every_room_has_a_reader(fp: Floorplan) -> None:
    kinds = ROOM_LIKE_KINDS | {
        ZoneKind.STAIRS,
        ZoneKind.STAFF_ONLY,
        ZoneKind.RESTRICTED,
        ZoneKind.MUSTER_POINT,
    }
    for z in fp.zones:
        if z.kind in kinds:
            assert _readers_in(fp, z.id), z.id


def test_corridor_readers_at_most_10_m_apart(fp: Floorplan) -> None:
    # Readers at most 10 m apart on a corridor's centre line leave no spot of it farther
    # than 5 m along it (plus half the width across) from a reader.
    for z in (z for z in fp.zones if z.kind is ZoneKind.CORRIDOR):
        readers = np.array(_readers_in(fp, z.id))
        assert len(readers), z.id
        minx, miny, maxx, maxy = z.polygon.bounds
        gx, gy = np.meshgrid(np.arange(minx, maxx + 0.01, 0.5), np.arange(miny, maxy + 0.01, 0.5))
        gx, gy = gx.ravel(), gy.ravel()
        inside = shapely.intersects_xy(z.polygon, gx, gy)
        px, py = gx[inside], gy[inside]
        d = np.hypot(px[:, None] - readers[None, :, 0], py[:, None] - readers[None, :, 1]).min(
            axis=1
        )
        width = 2 * z.polygon.area / z.polygon.length  # about the corridor width
        assert d.max() <= math.hypot(5.0, width / 2) + 0.5, z.id


def test_readers_stand_inside_zones_of_their_level(fp: Floorplan) -> None:
    for r in fp.readers:
        assert any(z.polygon.intersects(Point(r.x, r.y)) for z in fp.zones_on(r.level)), r.id
        assert 0 < r.z < 6


def test_doors_sit_on_the_walls_of_the_zones_they_join(fp: Floorplan) -> None:
    for o in fp.openings:
        assert 0.8 <= o.segment.length <= 6.0, o.id
        for zid in o.zones:
            z = fp.zone(zid)
            assert z.level == o.level, o.id
            assert z.polygon.boundary.distance(o.segment) < 1e-6, (o.id, zid)
    # Every classroom, lab and room has a way in.
    joined = {zid for o in fp.openings for zid in o.zones}
    assert all(z.id in joined for z in fp.zones if z.kind in ROOM_LIKE_KINDS)
