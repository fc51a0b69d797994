"""The zone index agrees with shapely: membership (closed zones), boundary distance, changes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from geometry.errors import ConfigError, InputError, StsError
from geometry.model import Floorplan, Level, Site, Zone, ZoneKind
from geometry.zone_index import UnknownIdError, ZoneHits, ZoneIndex, ZoneIndexSettings

LEVELS = ("L0", "L1")


def indexed(zones: list[Zone], cell: float | None = None) -> ZoneIndex:
    """An index of the zones on LEVELS, with cells of `cell` metres (None: automatic)."""
    return ZoneIndex(LEVELS, zones, settings=ZoneIndexSettings(cell_size_m=cell))


def zone(zid: str, poly: Polygon | MultiPolygon, level: str = "L0") -> Zone:
    """A room zone."""
    return Zone(zid, zid, level, ZoneKind.ROOM, poly)


def reference(zones: list[Zone], levels: tuple[str, ...], lv, x, y) -> list[dict[str, float]]:
    """Per point, {zone id: distance to its boundary} for the zones containing it (shapely)."""
    out: list[dict[str, float]] = [{} for _ in range(len(x))]
    pts = shapely.points(x, y)
    for z in zones:
        inside = shapely.intersects_xy(z.polygon, x, y) & (lv == levels.index(z.level))
        dist = shapely.distance(z.polygon.boundary, pts)
        for i in np.flatnonzero(inside):
            out[i][z.id] = float(dist[i])
    return out


def ours(index: ZoneIndex, hits: ZoneHits) -> list[dict[str, float]]:
    """Per point, {zone id: distance} from the index's answer."""
    out: list[dict[str, float]] = []
    for i in range(len(hits)):
        a, b = hits.offsets[i], hits.offsets[i + 1]
        out.append(
            {
                index.zone_id(int(z)): float(d)
                for z, d in zip(hits.zone[a:b], hits.distance[a:b], strict=True)
            }
        )
    return out


def assert_agrees(index: ZoneIndex, zones: list[Zone], lv, x, y) -> None:
    """The index and shapely agree on every point: same zones, distances within 1e-6 m."""
    lv = np.asarray(lv, np.int32)
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    hits = index.query(lv, x, y)
    assert len(hits) == len(x)
    assert np.all(np.diff(hits.offsets) >= 0)
    # within a point, zone numbers ascend
    for i in range(len(hits)):
        assert np.all(np.diff(hits.zone[hits.offsets[i] : hits.offsets[i + 1]]) > 0)
    got = ours(index, hits)
    want = reference(zones, index.level_ids, lv, x, y)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.keys() == w.keys(), (i, x[i], y[i], lv[i], g, w)
        for k in w:
            assert g[k] == pytest.approx(w[k], abs=1e-6), (i, x[i], y[i], k)
    assert_membership_agrees(index, hits, lv, x, y)


def assert_membership_agrees(index: ZoneIndex, hits: ZoneHits, lv, x, y) -> None:
    """The membership-only path (serial and parallel) gives the distance path's zones."""
    for parallel in (False, True):
        members = index.query(lv, x, y, parallel=parallel, distances=False)
        assert len(members.distance) == 0
        np.testing.assert_array_equal(members.offsets, hits.offsets)
        np.testing.assert_array_equal(members.zone, hits.zone)


# ---- strategies -------------------------------------------------------------------------


@st.composite
def rectilinear(draw: st.DrawFn, span: int = 24) -> Polygon | MultiPolygon:
    """A union of boxes on a 0.5 m grid: holes, several parts and axis-aligned edges."""
    n = draw(st.integers(1, 5))
    boxes = []
    for _ in range(n):
        x0 = draw(st.integers(0, span - 2))
        y0 = draw(st.integers(0, span - 2))
        w = draw(st.integers(1, span - x0))
        h = draw(st.integers(1, span - y0))
        boxes.append(box(x0 / 2, y0 / 2, (x0 + w) / 2, (y0 + h) / 2))
    geom = shapely.union_all(boxes)
    if draw(st.booleans()):
        # cut a hole out of the middle of the union when it fits
        hx = draw(st.integers(1, span - 3))
        hy = draw(st.integers(1, span - 3))
        geom = geom.difference(box(hx / 2, hy / 2, (hx + 1) / 2, (hy + 1) / 2))
    geom = shapely.normalize(geom)
    if isinstance(geom, Polygon | MultiPolygon) and not geom.is_empty:
        return geom
    return box(0, 0, 1, 1)


@st.composite
def star(draw: st.DrawFn) -> Polygon:
    """A star-shaped polygon with slanted edges on a 0.25 m grid, maybe with a hole."""
    cx = draw(st.integers(20, 28)) / 2
    cy = draw(st.integers(20, 28)) / 2
    k = draw(st.integers(3, 9))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi), min_size=k, max_size=k)))
    radii = draw(st.lists(st.integers(8, 40), min_size=k, max_size=k))
    pts = [
        (round((cx + r / 4 * math.cos(a)) * 4) / 4, round((cy + r / 4 * math.sin(a)) * 4) / 4)
        for a, r in zip(angles, radii, strict=True)
    ]
    poly = Polygon(pts)
    if not poly.is_valid or poly.area < 1.0:
        poly = Polygon([(cx - 2, cy - 2), (cx + 3, cy - 1.5), (cx + 1, cy + 2.75)])
    if draw(st.booleans()):
        hole = box(cx - 0.75, cy - 0.5, cx + 0.25, cy + 0.5)
        if poly.buffer(-0.25).contains(hole):
            poly = Polygon(poly.exterior.coords, [hole.exterior.coords])
    return poly


def probe_points(draw: st.DrawFn, zones: list[Zone], n_random: int) -> tuple:
    """Points on a 0.25 m grid plus every vertex and every edge midpoint of the zones."""
    xs: list[float] = []
    ys: list[float] = []
    for z in zones:
        coords = shapely.get_coordinates(z.polygon.boundary)
        xs += list(coords[:, 0])
        ys += list(coords[:, 1])
        xs += list((coords[:-1, 0] + coords[1:, 0]) / 2)
        ys += list((coords[:-1, 1] + coords[1:, 1]) / 2)
    gx = draw(st.lists(st.integers(-8, 112), min_size=n_random, max_size=n_random))
    gy = draw(st.lists(st.integers(-8, 112), min_size=n_random, max_size=n_random))
    xs += [v / 4 for v in gx]
    ys += [v / 4 for v in gy]
    lv = draw(st.lists(st.integers(0, 1), min_size=len(xs), max_size=len(xs)))
    return np.array(lv, np.int32), np.array(xs), np.array(ys)


cell_sizes = st.sampled_from([None, 0.3, 0.5, 1.0, 2.7, 40.0])


# ---- agreement with shapely ---------------------------------------------------------------


@settings(max_examples=40)
@given(
    geoms=st.lists(rectilinear(), min_size=1, max_size=5),
    cell=cell_sizes,
    data=st.data(),
)
def test_rectilinear_zones_with_holes_agree_with_shapely(geoms, cell, data) -> None:
    """Unions of boxes (holes, MultiPolygons, shared edges, nesting), points on edges too."""
    zones = [zone(f"z{i}", g, LEVELS[i % 2]) for i, g in enumerate(geoms)]
    index = indexed(zones, cell)
    lv, x, y = probe_points(data.draw, zones, 60)
    assert_agrees(index, zones, lv, x, y)


@settings(max_examples=40)
@given(geoms=st.lists(star(), min_size=1, max_size=4), cell=cell_sizes, data=st.data())
def test_slanted_polygons_with_holes_agree_with_shapely(geoms, cell, data) -> None:
    """Star polygons (slanted edges, vertices on a grid, a hole) overlapping each other."""
    zones = [zone(f"s{i}", g, LEVELS[i % 2]) for i, g in enumerate(geoms)]
    index = indexed(zones, cell)
    lv, x, y = probe_points(data.draw, zones, 60)
    assert_agrees(index, zones, lv, x, y)


@settings(max_examples=25)
@given(geoms=st.lists(star(), min_size=1, max_size=3), data=st.data())
def test_signed_distance_agrees_with_shapely(geoms, data) -> None:
    """Signed distance: + inside, - outside, 0 on the boundary, |d| = shapely's distance."""
    zones = [zone(f"s{i}", g) for i, g in enumerate(geoms)]
    index = ZoneIndex(LEVELS, zones)
    _, x, y = probe_points(data.draw, zones, 40)
    for z in zones:
        number = np.full(len(x), index.zone_number(z.id), np.int32)
        got = index.signed_distance(number, x, y)
        dist = shapely.distance(z.polygon.boundary, shapely.points(x, y))
        inside = shapely.intersects_xy(z.polygon, x, y)
        want = np.where(inside, dist, -dist)
        np.testing.assert_allclose(got, want, atol=1e-9)
        assert np.all((got >= 0) == inside)


def test_shared_edge_and_vertex_points_are_in_both_rooms() -> None:
    """Two rooms sharing a wall: a point on the wall or its ends is in both, distance 0."""
    zones = [zone("a", box(0, 0, 4, 3)), zone("b", box(4, 0, 9, 3)), zone("c", box(4, 3, 9, 6))]
    index = ZoneIndex(LEVELS, zones)
    x = np.array([4.0, 4.0, 4.0, 2.0, 6.5, 4.0 - 1e-9])
    y = np.array([1.5, 0.0, 3.0, 3.0, 3.0, 1.5])
    hits = index.query_level("L0", x, y)
    assert hits.ids_of(0, index) == ["a", "b"]
    assert hits.ids_of(1, index) == ["a", "b"]
    assert hits.ids_of(2, index) == ["a", "b", "c"]
    assert hits.ids_of(3, index) == ["a"]
    assert hits.ids_of(4, index) == ["b", "c"]
    assert hits.ids_of(5, index) == ["a"]
    assert np.all(hits.distance[: hits.offsets[5]] == 0.0)
    assert hits.distance[-1] == pytest.approx(1e-9, rel=1e-6)


def test_nested_zones_report_every_level_of_nesting_with_their_own_distance() -> None:
    """A stair inside a lab inside a wing inside the campus: four hits, four distances."""
    zones = [
        zone("campus", box(-50, -50, 150, 100)),
        zone("wing", box(0, 0, 60, 20)),
        zone("lab", box(10, 0, 20, 8)),
        zone("stair", box(12, 2, 15, 6)),
    ]
    index = ZoneIndex(LEVELS, zones)
    hits = index.query_level("L0", [13.0], [3.0])
    assert hits.ids_of(0, index) == ["campus", "lab", "stair", "wing"]
    got = dict(zip((index.zone_id(int(z)) for z in hits.zone), hits.distance, strict=True))
    assert got == {"campus": 53.0, "wing": 3.0, "lab": 3.0, "stair": 1.0}


def test_point_in_a_hole_is_outside_and_measures_to_the_hole() -> None:
    """A courtyard: the hole is not in the zone; inside, the hole's ring is a boundary."""
    ring = box(0, 0, 30, 30).exterior.coords
    hole = box(10, 10, 20, 20).exterior.coords
    index = ZoneIndex(LEVELS, [zone("court", Polygon(ring, [hole]))])
    hits = index.query_level("L0", [15.0, 9.0, 10.0], [15.0, 15.0, 12.0])
    assert hits.counts().tolist() == [0, 1, 1]
    assert hits.distance.tolist() == [1.0, 0.0]


def test_multipolygon_parts_are_one_zone() -> None:
    """A library in two parts: both parts hit the same zone; the gap does not."""
    lib = MultiPolygon([box(0, 0, 5, 5), box(8, 0, 12, 4)])
    index = ZoneIndex(LEVELS, [zone("lib", lib, "L1")])
    hits = index.query_level("L1", [2.5, 6.5, 10.0], [2.5, 2.0, 1.0])
    assert hits.counts().tolist() == [1, 0, 1]
    assert hits.distance.tolist() == [2.5, 1.0]


def test_levels_are_separate_and_unknown_codes_and_nan_have_no_hits() -> None:
    """Same footprint on two levels; code -1, codes past the end and NaN give no hits."""
    index = ZoneIndex(LEVELS, [zone("g", box(0, 0, 10, 10)), zone("f", box(0, 0, 10, 10), "L1")])
    hits = index.query([0, 1, -1, 2, 0, 0], [5, 5, 5, 5, math.nan, 50], [5, 5, 5, 5, 5, 5])
    assert [hits.ids_of(i, index) for i in range(6)] == [["g"], ["f"], [], [], [], []]


def test_parallel_and_serial_kernels_agree() -> None:
    """The threaded kernel (many chunks, joined) gives the serial kernel's arrays, also
    for points off the grid or on unknown levels, with and without distances."""
    zones = [zone(f"r{i}", box(i * 3, 0, i * 3 + 3, 5)) for i in range(10)]
    zones.append(zone("all", Polygon([(-1, -1), (40, -2), (20, 9)])))
    index = indexed(zones)
    rng = np.random.default_rng(3)
    n = 30_000
    x, y = rng.uniform(-5, 45, n), rng.uniform(-5, 12, n)
    lv = rng.integers(-1, 3, n).astype(np.int32)
    for distances in (True, False):
        a = index.query(lv, x, y, parallel=False, distances=distances)
        b = index.query(lv, x, y, parallel=True, distances=distances)
        for field in ("offsets", "zone", "distance"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert_agrees(index, zones, lv[:3000], x[:3000], y[:3000])


def test_the_parallel_threshold_is_a_setting_and_answers_do_not_depend_on_it() -> None:
    """`parallel_from_points` picks the kernel per batch size; the answer is the same."""
    zones = [zone("a", box(0, 0, 4, 3)), zone("b", box(2, 1, 9, 6))]
    x = np.linspace(-1, 10, 500)
    y = np.linspace(-1, 7, 500)
    lv = np.zeros(500, np.int32)
    always = ZoneIndex(LEVELS, zones, settings=ZoneIndexSettings(parallel_from_points=1))
    never = ZoneIndex(LEVELS, zones, settings=ZoneIndexSettings(parallel_from_points=10**9))
    assert ours(always, always.query(lv, x, y)) == ours(never, never.query(lv, x, y))
    for bad in ({"parallel_from_points": 0}, {"cell_size_m": -1.0}, {"cell_size_m": math.inf}):
        with pytest.raises(ConfigError):
            ZoneIndexSettings(**bad)  # type: ignore[arg-type]


def test_empty_index_and_empty_batch() -> None:
    """No zones (or no levels): no hits; no points: an empty answer with one offset."""
    index = ZoneIndex(LEVELS)
    assert index.query_level("L0", [1.0], [2.0]).counts().tolist() == [0]
    index.add(zone("a", box(0, 0, 1, 1)))
    empty = index.query(np.empty(0, np.int32), np.empty(0), np.empty(0))
    assert empty.offsets.tolist() == [0] and len(empty.zone) == 0
    assert ZoneIndex([]).query([0, -1], [1.0, 2.0], [1.0, 2.0]).counts().tolist() == [0, 0]


# ---- runtime changes --------------------------------------------------------------------


@settings(max_examples=25)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "update", "remove"]), st.integers(0, 5), rectilinear()),
        min_size=1,
        max_size=12,
    ),
    data=st.data(),
)
def test_changes_at_runtime_match_a_fresh_index(ops, data) -> None:
    """After any add/update/remove sequence (queries in between), answers equal a rebuild's."""
    index = ZoneIndex(LEVELS)
    live: dict[str, Zone] = {}
    for step, (op, k, geom) in enumerate(ops):
        zid = f"z{k}"
        z = zone(zid, geom, LEVELS[step % 2])
        if op == "add" and zid not in live:
            index.add(z)
            live[zid] = z
        elif op == "update" and zid in live:
            index.update(z)
            live[zid] = z
        elif op == "remove" and zid in live:
            index.remove(zid)
            del live[zid]
        index.query_level("L0", [1.0], [1.0])  # compile between changes
    zones = list(live.values())
    lv, x, y = probe_points(data.draw, zones, 40)
    assert_agrees(index, zones, lv, x, y)
    fresh = ZoneIndex(LEVELS, zones)
    a, b = index.query(lv, x, y), fresh.query(lv, x, y)
    assert ours(index, a) == ours(fresh, b)
    assert sorted(index.zone_number(z.id) for z in zones) == sorted(
        index.zone_number(z.id) for z in index.zones
    )


def test_numbers_are_dense_stable_and_reused_after_remove() -> None:
    """Numbers count from 0 in add order, survive updates, and the lowest free is reused."""
    index = ZoneIndex(LEVELS, [zone(c, box(i, 0, i + 1, 1)) for i, c in enumerate("abc")])
    assert [index.zone_number(c) for c in "abc"] == [0, 1, 2]
    index.update(zone("b", box(5, 5, 6, 6), "L1"))
    assert index.zone_number("b") == 1 and index.zone("b").level == "L1"
    index.remove("a")
    assert "a" not in index and len(index) == 2
    assert index.add(zone("d", box(0, 0, 1, 1))) == 0
    assert index.add(zone("e", box(0, 0, 1, 1))) == 3
    assert index.zone_id(3) == "e" and index.zone(0).id == "d"
    assert index.query_level("L1", [5.5], [5.5]).ids_of(0, index) == ["b"]
    assert index.query_level("L0", [1.5], [0.5]).ids_of(0, index) == []


def test_unknown_ids_raise_a_keyerror_like_sts_error() -> None:
    """Unknown levels, ids and numbers raise UnknownIdError: a StsError and a KeyError."""
    index = ZoneIndex(LEVELS, [zone("a", box(0, 0, 1, 1))])
    for call in (
        lambda: index.level_code("roof"),
        lambda: index.zone_number("nope"),
        lambda: index.zone_id(7),
        lambda: index.remove("nope"),
        lambda: index.update(zone("nope", box(0, 0, 1, 1))),
        lambda: index.query_level("roof", [0.0], [0.0]),
        lambda: index.add(zone("b", box(0, 0, 1, 1), "roof")),
        lambda: index.signed_distance([5], [0.0], [0.0]),
    ):
        with pytest.raises(UnknownIdError) as err:
            call()
        assert isinstance(err.value, KeyError) and isinstance(err.value, StsError)
    index.remove("a")
    with pytest.raises(UnknownIdError, match="number 0"):
        index.signed_distance([0], [0.0], [0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # shapely warns on the NaN ring
def test_bad_input_is_rejected_with_the_zone_named() -> None:
    """Duplicate ids, empty or non-finite geometry, and mismatched arrays are InputErrors."""
    index = ZoneIndex(LEVELS, [zone("a", box(0, 0, 1, 1))])
    with pytest.raises(InputError, match="'a' is already"):
        index.add(zone("a", box(0, 0, 1, 1)))
    with pytest.raises(InputError, match=r"'e'.*non-empty"):
        index.add(zone("e", Polygon()))
    with pytest.raises(InputError, match=r"'n'.*NaN"):
        index.add(zone("n", Polygon([(0, 0), (1, math.nan), (1, 1)])))
    with pytest.raises(InputError, match="one length"):
        index.query([0, 0], [1.0], [1.0])
    with pytest.raises(InputError, match="twice"):
        ZoneIndex(["L0", "L0"])
    with pytest.raises(InputError, match="cell_size"):
        indexed([zone("big", box(0, 0, 1000, 1000))], 0.01).query_level("L0", [1.0], [1.0])
    assert len(index) == 1


def test_from_floorplan_codes_levels_and_numbers_zones_in_file_order() -> None:
    """Level codes follow the floorplan's levels; zone numbers its zone order."""
    plan = Floorplan(
        site=Site("s", "School"),
        levels=(Level("up", 1, "First"), Level("gf", 0, "Ground")),
        zones=(zone("hall", box(0, 0, 10, 10), "gf"), zone("lab", box(0, 0, 5, 5), "up")),
    )
    index = ZoneIndex.from_floorplan(plan)
    assert index.level_ids == ("up", "gf") and index.level_code("gf") == 1
    assert index.zone_number("hall") == 0 and index.zone_number("lab") == 1
    hits = index.query([1, 0, 1], [2.0, 2.0, 7.0], [2.0, 2.0, 7.0])
    assert [hits.ids_of(i, index) for i in range(3)] == [["hall"], ["lab"], ["hall"]]
    row, number = index.segment_candidates([1, 1], [(9.5, 9.5), (-2, -2)], [(20, 20), (-1, -1)])
    assert row.tolist() == [0] and index.zone_id(int(number[0])) == "hall"


@pytest.mark.parametrize("cell", [None, 0.4, 3.0])
def test_many_sided_zone_with_per_cell_edge_lists_agrees_with_shapely(cell) -> None:
    """A 128-gon with a hole (cells keep their own edge lists) inside a nested room."""
    outer = shapely.Point(0, 0).buffer(20.0, quad_segs=32)
    inner = shapely.Point(3, -2).buffer(6.0, quad_segs=16)
    ring = Polygon(outer.exterior.coords, [inner.exterior.coords])
    zones = [zone("round", ring), zone("box", box(-5, 5, 5, 12)), zone("up", ring, "L1")]
    index = indexed(zones, cell)
    rng = np.random.default_rng(7)
    x = rng.uniform(-25, 25, 3000)
    y = rng.uniform(-25, 25, 3000)
    lv = rng.integers(-1, 3, 3000).astype(np.int32)
    assert_agrees(index, zones, lv, x, y)


def test_queries_on_a_level_without_zones_find_nothing() -> None:
    """A level with no zones (or whose zones were all removed) answers with no hits."""
    index = ZoneIndex(LEVELS, [zone("a", box(0, 0, 2, 2))])
    assert index.query_level("L1", [0.0, 0.5, -3.0], [0.0, 0.5, 1e9]).counts().tolist() == [0, 0, 0]
    index.remove("a")
    assert index.query_level("L0", [1.0], [1.0]).counts().tolist() == [0]


@settings(max_examples=40, deadline=None)
@given(geoms=st.lists(star(), min_size=1, max_size=4), data=st.data())
def test_membership_path_agrees_with_intersects_xy_on_big_parallel_batches(geoms, data) -> None:
    """distances=False on a batch of many chunks: exactly shapely's closed-zone membership."""
    zones = [zone(f"z{i}", g) for i, g in enumerate(geoms)]
    index = ZoneIndex(LEVELS, zones)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = 20_000
    # a third of the points on a vertex or edge midpoint (exactly on the boundary)
    coords = np.concatenate([shapely.get_coordinates(z.polygon.boundary) for z in zones])
    mids = (coords[:-1] + coords[1:]) / 2
    special = np.concatenate([coords, mids])[rng.integers(0, len(coords) * 2 - 1, n // 3)]
    rand = rng.uniform(-2, 26, (n - len(special), 2))
    pts = np.concatenate([special, rand])
    x, y = pts[:, 0].copy(), pts[:, 1].copy()
    lv = rng.integers(0, 2, n).astype(np.int32)
    members = index.query(lv, x, y, parallel=True, distances=False)
    want = np.zeros((n, len(zones)), bool)
    for k, z in enumerate(zones):
        want[:, k] = shapely.intersects_xy(z.polygon, x, y) & (lv == 0)
    got = np.zeros((n, len(zones)), bool)
    got[members.point(), members.zone] = True
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(members.zone, index.query(lv, x, y).zone)


# ---- deep nesting and segments ----------------------------------------------------------


def test_deep_nesting_finds_every_zone() -> None:
    """Cells inside 1..5 nested zones list them all, in ascending zone number."""
    zones = [zone(f"n{k}", box(k, k, 30 - k, 30 - k)) for k in range(5)]
    index = indexed(zones, 0.7)
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-1, 31, 4000), rng.uniform(-1, 31, 4000)
    lv = np.zeros(4000, np.int32)
    assert_agrees(index, zones, lv, x, y)
    centre = index.query_level("L0", [15.0], [15.0], distances=False)
    assert centre.ids_of(0, index) == ["n0", "n1", "n2", "n3", "n4"]


@settings(max_examples=25, deadline=None)
@given(geoms=st.lists(star(), min_size=1, max_size=4), data=st.data())
def test_segment_candidates_are_the_zones_whose_bounds_meet_the_segment(geoms, data) -> None:
    """segment_candidates gives exactly the (segment, zone) pairs whose boxes meet, per level."""
    zones = [zone(f"s{i}", g, LEVELS[i % 2]) for i, g in enumerate(geoms)]
    index = indexed(zones)
    n = 200
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    start, end = rng.uniform(-2, 26, (n, 2)), rng.uniform(-2, 26, (n, 2))
    end[:20] = start[:20]  # a segment of length 0 is a point
    lv = rng.integers(-1, 3, n)
    row, number = index.segment_candidates(lv, start, end)
    got = {(int(r), index.zone_id(int(z))) for r, z in zip(row, number, strict=True)}
    want = set()
    for z in zones:
        x0, y0, x1, y1 = z.polygon.bounds
        meets = (
            (np.minimum(start[:, 0], end[:, 0]) <= x1)
            & (np.maximum(start[:, 0], end[:, 0]) >= x0)
            & (np.minimum(start[:, 1], end[:, 1]) <= y1)
            & (np.maximum(start[:, 1], end[:, 1]) >= y0)
            & (lv == LEVELS.index(z.level))
        )
        want |= {(int(i), z.id) for i in np.flatnonzero(meets)}
    assert got == want
    assert len(got) == len(row)


def test_the_docstring_example_runs() -> None:
    """ZoneIndex's docstring example is runnable and says what the index answers."""
    import doctest

    from geometry import zone_index

    assert doctest.testmod(zone_index, raise_on_error=True).attempted > 0


def test_smallest_picks_the_smallest_eligible_zone_holding_each_point() -> None:
    building = Zone("building", "b", "L0", ZoneKind.BUILDING, box(0, 0, 20, 10))
    hall = zone("hall", box(0, 0, 10, 10))
    office = zone("office", box(2, 2, 4, 4))
    store = zone("store", box(10, 0, 20, 10))  # edge x = 10 shared with the hall
    idx = indexed([building, hall, office, store])
    # in the office; in the hall only; on the hall/store edge (equal areas: the id
    # decides); outside everything; on the other level; in the store.
    x = np.array([3.0, 8.0, 10.0, 30.0, 3.0, 15.0])
    y = np.array([3.0, 8.0, 5.0, 5.0, 3.0, 5.0])
    level = np.array([0, 0, 0, 0, 1, 0], np.int32)
    rooms = idx.smallest(level, x, y, lambda z: z.kind is not ZoneKind.BUILDING)
    names = [idx.zone_id(int(n)) if n >= 0 else "" for n in rooms]
    assert names == ["office", "hall", "hall", "", "", "store"]
    # The building is the smallest zone holding any point when it alone is eligible.
    only = idx.smallest(level, x, y, lambda z: z.kind is ZoneKind.BUILDING)
    assert [idx.zone_id(int(n)) if n >= 0 else "" for n in only] == [
        "building", "building", "building", "", "", "building",
    ]  # fmt: skip
    assert idx.smallest(level, x, y, lambda z: False).tolist() == [-1] * 6
