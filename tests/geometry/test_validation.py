"""Validation: every rule, errors vs warnings, the fallbacks, everything reported at once."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from geometry.errors import Problem
from geometry.model import (
    Floorplan,
    Level,
    Opening,
    OpeningKind,
    Reader,
    ReaderCalibration,
    Site,
    Zone,
    ZoneKind,
)
from geometry.validation import Tolerances, check, validate

LEVELS = (Level("L0", 0, "Ground"), Level("L1", 1, "First"))


def z(
    zid: str, poly: Polygon | MultiPolygon, kind: ZoneKind = ZoneKind.ROOM, level: str = "L0"
) -> Zone:
    """A zone."""
    return Zone(zid, zid, level, kind, poly)


def plan(
    zones: list[Zone], readers: tuple[Reader, ...] = (), openings: tuple[Opening, ...] = ()
) -> Floorplan:
    """A plan on the two standard levels."""
    return Floorplan(Site("s", "S"), LEVELS, tuple(zones), readers, openings)


def base_zones() -> list[Zone]:
    """A corridor with two rooms on each side, a building around them, a safe area."""
    return [
        z("safe", box(-50, -50, 100, 100), ZoneKind.SAFE_AREA),
        z("wing", box(0, 0, 40, 20), ZoneKind.BUILDING),
        z("hall", box(0, 8, 40, 12), ZoneKind.CORRIDOR),
        z("c1", box(0, 0, 20, 8), ZoneKind.CLASSROOM),
        z("c2", box(20, 0, 40, 8), ZoneKind.CLASSROOM),
        z("lab", box(0, 12, 40, 20), ZoneKind.LAB),
        z("stair", box(1, 13, 4, 16), ZoneKind.STAIRS),  # nested in the lab: fine
        z("cupboard", box(30, 14, 32, 16), ZoneKind.STORAGE),  # a room in a room: fine
        z("hall1", box(0, 8, 40, 12), ZoneKind.CORRIDOR, "L1"),
    ]


def by(problems: list[Problem], severity: str) -> list[str]:
    """The feature ids of the problems of one severity, in order."""
    return [p.feature_id for p in problems if p.severity == severity]


def test_a_sound_plan_has_no_problems() -> None:
    readers = (Reader("r1", "L0", 10, 10), Reader("r2", "L1", 39, 11))
    doors = (Opening("d1", "L0", OpeningKind.DOOR, LineString([(9, 8), (10, 8)]), ("c1", "hall")),)
    fp = plan(base_zones(), readers, doors)
    assert validate(fp) == []
    repaired, problems = check(fp)
    assert problems == [] and repaired == fp


def test_self_intersecting_ring_is_an_error() -> None:
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    problems = validate(plan([*base_zones(), z("bow", bowtie, level="L1")]))
    assert by(problems, "error") == ["bow"]
    assert "Self-intersection" in problems[0].message and problems[0].fix


def test_tiny_spike_is_repaired_with_a_warning() -> None:
    # A zero-width spike (digitised out and back) makes the ring invalid; the repair
    # removes it without changing the area.
    spiky = Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (5, 10.4), (5, 10), (0, 10), (0, 0)])
    fp = plan([z("spiky", spiky, ZoneKind.GYM, "L1")])
    repaired, problems = check(fp)
    assert by(problems, "warning") == ["spiky"] and by(problems, "error") == []
    fixed = repaired.zone("spiky").polygon
    assert fixed.is_valid and fixed.area == pytest.approx(100.0)
    assert not spiky.is_valid  # the input was left alone


def test_a_repair_that_changes_the_area_much_is_an_error() -> None:
    # A hole outside its shell: make_valid would change the zone a lot.
    bad = Polygon(box(0, 0, 10, 10).exterior.coords, [box(20, 20, 25, 25).exterior.coords])
    problems = validate(plan([z("bad", bad, level="L1")]))
    assert by(problems, "error") == ["bad"]


def test_degenerate_rings_are_errors() -> None:
    flat = Polygon([(0, 0), (5, 0), (10, 0), (0, 0)])
    two = Polygon([(0, 0), (1, 1), (0, 0), (1, 1)])
    problems = validate(plan([z("flat", flat), z("two", two)]))
    assert by(problems, "error") == ["flat", "two"]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_coordinates_are_errors() -> None:
    nan = Polygon([(0, 0), (1, 0), (math.nan, 1), (0, 0)])
    reader = Reader("r", "L0", math.inf, 0.0)
    door = Opening("d", "L0", OpeningKind.DOOR, LineString([(0, 0), (math.nan, 1)]))
    problems = validate(plan([*base_zones(), z("nan", nan)], (reader,), (door,)))
    assert by(problems, "error") == ["nan", "r", "d"]


def test_unknown_level_references_are_errors() -> None:
    reader = Reader("r", "L7", 1.0, 1.0)
    door = Opening("d", "L9", OpeningKind.DOOR, LineString([(0, 0), (1, 0)]))
    problems = validate(
        plan([*base_zones(), z("attic", box(0, 0, 1, 1), level="L5")], (reader,), (door,))
    )
    assert by(problems, "error") == ["attic", "r", "d"]
    assert "L0, L1" in problems[0].fix


def test_duplicate_ids_across_all_features_are_errors() -> None:
    zones = [*base_zones(), z("c1", box(50, 50, 60, 60), level="L1"), z("L0", box(70, 70, 71, 71))]
    readers = (Reader("hall", "L0", 1, 9),)
    problems = validate(plan(zones, readers))
    errs = [p for p in problems if p.severity == "error"]
    assert [p.feature_id for p in errs] == ["L0", "hall", "c1"]
    assert "level" in errs[0].message and "reader" in errs[1].message


def test_readers_outside_the_site_are_errors_near_the_wall_is_fine() -> None:
    zones = [z("room", box(0, 0, 10, 10), level="L0"), z("room1", box(0, 0, 10, 10), level="L1")]
    readers = (
        Reader("wall", "L0", 10.5, 5.0),  # on the outside wall: within 2 m
        Reader("lost", "L0", 30.0, 5.0),  # 20 m out
        Reader("stray", "L1", -2.5, 5.0),  # 2.5 m out
    )
    problems = validate(plan(zones, readers))
    assert by(problems, "error") == ["lost", "stray"]
    assert by(validate(plan(zones, readers), Tolerances(reader_outside_m=3.0)), "error") == ["lost"]


def test_reader_on_a_level_without_zones_and_bad_calibration() -> None:
    zones = [z("room", box(0, 0, 10, 10))]
    readers = (
        Reader("up", "L1", 1.0, 1.0),
        Reader("neg", "L0", 1.0, 1.0, calibration=ReaderCalibration(exponent=-2.0)),
    )
    problems = validate(plan(zones, readers))
    assert by(problems, "error") == ["up", "neg"]


def test_partly_overlapping_rooms_are_errors() -> None:
    zones = [*base_zones(), z("annex", box(35, 4, 45, 10), ZoneKind.OFFICE)]
    problems = validate(plan(zones))
    errs = [p for p in problems if p.severity == "error"]
    assert {p.feature_id for p in errs} <= {"annex", "hall", "c2"}
    pairs = {frozenset((p.feature_id, p.message.split()[2])) for p in errs}
    assert pairs == {frozenset(("hall", "annex")), frozenset(("c2", "annex"))}


def test_overlaps_of_non_rooms_and_across_levels_are_fine() -> None:
    zones = [
        z("yard", box(0, 0, 10, 10), ZoneKind.OUTDOOR),
        z("car", box(5, 5, 15, 15), ZoneKind.PARKING),
        z("a", box(0, 0, 10, 10), ZoneKind.CLASSROOM, "L0"),
        z("b", box(5, 5, 15, 15), ZoneKind.CLASSROOM, "L1"),
    ]
    assert validate(plan(zones)) == []


def test_sliver_overlap_is_a_warning() -> None:
    zones = [
        z("west", box(0, 0, 10, 8), ZoneKind.CLASSROOM),
        z("east", box(9.9, 0, 20, 8), ZoneKind.CLASSROOM),  # 10 cm into west
    ]
    problems = validate(plan(zones))
    assert [(p.severity, p.feature_id) for p in problems] == [("warning", "west")]
    assert "sliver" in problems[0].message and "east" in problems[0].message
    # Wider than the sliver tolerance: an error.
    zones[1] = z("east", box(9.5, 0, 20, 8), ZoneKind.CLASSROOM)
    assert by(validate(plan(zones)), "error") == ["west"]


def test_coordinate_noise_is_not_reported() -> None:
    zones = [
        z("west", box(0, 0, 10, 8), ZoneKind.CLASSROOM),
        z("east", box(9.999, 0, 20, 8), ZoneKind.CLASSROOM),  # 1 mm: lon/lat rounding
        z("nook", box(2, 2, 10.001, 4), ZoneKind.STORAGE),  # nested, 1 mm proud of west
    ]
    assert validate(plan(zones)) == []


def test_nested_room_poking_out_by_a_sliver_is_a_warning() -> None:
    zones = [
        z("lab", box(0, 0, 10, 8), ZoneKind.LAB),
        z("prep", box(6, 0, 10.1, 3), ZoneKind.STORAGE),  # 10 cm out through the wall
    ]
    problems = validate(plan(zones))
    assert [(p.severity, p.feature_id) for p in problems] == [("warning", "prep")]
    assert "nested in lab" in problems[0].message


def test_absurd_extents_are_errors() -> None:
    far = [*base_zones(), z("utm", box(500000, 5800000, 500010, 5800010), level="L1")]
    problems = validate(plan(far))
    assert by(problems, "error") == ["utm"]
    wide = [
        z("a", box(0, 0, 10, 10)),
        z("b", box(4000, 0, 4010, 10)),
        z("c", box(-4000, 0, -3990, 10)),
    ]
    assert by(validate(plan(wide)), "error") == ["s"]
    degrees = [z("deg", box(-1.98, 52.41, -1.9799, 52.4101))]
    errs = [p for p in validate(plan(degrees)) if p.severity == "error"]
    assert [p.feature_id for p in errs] == ["s"] and "degrees" in errs[0].message


def test_tiny_zone_is_a_warning_and_too_many_vertices_an_error() -> None:
    tiny = z("tiny", box(5, 5, 5.2, 5.2), ZoneKind.STORAGE)
    circle = z("circle", box(0, 0, 1, 1).buffer(100, quad_segs=6000), ZoneKind.OUTDOOR, "L1")
    problems = validate(plan([*base_zones(), tiny, circle]))
    assert by(problems, "warning") == ["tiny"]
    assert by(problems, "error") == ["circle"]
    assert "vertices" in problems[-1].message


def test_opening_references_are_checked() -> None:
    doors = (
        Opening("ghost", "L0", OpeningKind.DOOR, LineString([(9, 8), (10, 8)]), ("c1", "nope")),
        Opening("up", "L0", OpeningKind.DOOR, LineString([(9, 8), (10, 8)]), ("hall1",)),
        Opening("far", "L0", OpeningKind.EXIT, LineString([(9, 30), (10, 30)]), ("c1",)),
    )
    problems = validate(plan(base_zones(), openings=doors))
    assert by(problems, "error") == ["ghost", "up"]
    assert by(problems, "warning") == ["far"]


def test_every_problem_is_reported_at_once() -> None:
    zones = [
        *base_zones(),
        z("bow", Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)]), level="L1"),
        z("attic", box(0, 0, 1, 1), level="L5"),
        z("annex", box(35, 4, 45, 10), ZoneKind.OFFICE, "L0"),
        z("tiny", box(5, 5, 5.2, 5.2), ZoneKind.STORAGE),
    ]
    readers = (Reader("lost", "L0", 300.0, 5.0), Reader("c1", "L0", 5.0, 5.0))
    problems = validate(plan(zones, readers))
    ids = {p.feature_id for p in problems}
    assert {"bow", "attic", "tiny", "lost", "c1"} <= ids
    assert any("annex" in p.message for p in problems if p.severity == "error")
    assert all(p.fix for p in problems)


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.floats(2.0, 12.0),
    st.floats(2.0, 12.0),
    st.sampled_from([0.0, 0.0001, 0.001]),
)
def test_a_grid_of_rooms_sharing_walls_is_valid(
    nx: int, ny: int, w: float, h: float, jitter: float
) -> None:
    # Neighbours share walls exactly or overlap by less than the coordinate noise floor.
    zones = [
        z(
            f"r{i}-{j}",
            box(i * w - jitter, j * h - jitter, (i + 1) * w, (j + 1) * h),
            ZoneKind.CLASSROOM,
        )
        for i in range(nx)
        for j in range(ny)
    ]
    readers = tuple(Reader(f"x{i}", "L0", (i + 0.5) * w, 0.5 * h) for i in range(nx))
    assert validate(plan(zones, readers)) == []
