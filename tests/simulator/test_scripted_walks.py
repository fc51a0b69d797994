"""Scripted walks and the plain radio: routes through doors, sampling, path loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shapely.geometry import LineString, box

from geometry.errors import InputError
from geometry.model import (
    Floorplan,
    Level,
    Opening,
    OpeningKind,
    Reader,
    Site,
    Zone,
    ZoneKind,
)
from simulator.scripted_walks import (
    Leg,
    RadioModel,
    hear,
    plan_walk,
    route,
    sample_truth,
    zone_path,
)


def _world() -> Floorplan:
    """Two 10 x 10 m rooms side by side with a door in the shared wall at y = 2..3."""
    zones = (
        Zone("a", "Room A", "L0", ZoneKind.CLASSROOM, box(0, 0, 10, 10)),
        Zone("b", "Room B", "L0", ZoneKind.CLASSROOM, box(10, 0, 20, 10)),
    )
    door = Opening("d", "L0", OpeningKind.DOOR, LineString([(10, 2), (10, 3)]), ("a", "b"))
    readers = (
        Reader("r-a", "L0", 5, 5, 2.5),
        Reader("r-b", "L0", 15, 5, 2.5),
        Reader("r-up", "L1", 15, 5, 2.5),
    )
    levels = (Level("L0", 0, "Ground"), Level("L1", 1, "First"))
    return Floorplan(Site("s", "S"), levels, zones, readers, (door,))


def test_route_passes_through_the_door() -> None:
    pts = route(_world(), ["a", "b"])
    assert pts[1][:2] == pytest.approx((10.0, 2.5))
    assert [p[2] for p in pts] == ["L0", "L0", "L0"]


def test_zone_path_takes_the_stairs_between_levels() -> None:
    fp = _world()
    stairs = (
        Zone("s0", "Stairs", "L0", ZoneKind.STAIRS, box(20, 0, 24, 4)),
        Zone("s1", "Stairs", "L1", ZoneKind.STAIRS, box(20, 0, 24, 4)),
        Zone("up", "Upstairs room", "L1", ZoneKind.CLASSROOM, box(0, 0, 20, 10)),
    )
    doors = (
        Opening("d2", "L0", OpeningKind.DOOR, LineString([(20, 1), (20, 3)]), ("b", "s0")),
        Opening("d3", "L1", OpeningKind.DOOR, LineString([(20, 1), (20, 3)]), ("s1", "up")),
    )
    fp = Floorplan(fp.site, fp.levels, fp.zones + stairs, fp.readers, fp.openings + doors)
    assert [z for z, _ in zone_path(fp, "a", "up")] == ["b", "s0", "s1", "up"]
    walk = plan_walk(fp, "t1", [Leg(0.0, ("a", "up"))])
    assert walk.levels[0] == "L0" and walk.levels[-1] == "L1"
    truth = sample_truth([walk], ["L0", "L1"], 0.0, walk.t[-1] + 5, 1.0)
    assert truth.level[0] == 0 and truth.level[-1] == 1
    lonely = Zone("x", "Island", "L0", ZoneKind.ROOM, box(50, 50, 60, 60))
    fp2 = Floorplan(fp.site, fp.levels, (*fp.zones, lonely), fp.readers, fp.openings)
    with pytest.raises(InputError, match="no way from 'a' to 'x'"):
        zone_path(fp2, "a", "x")


def test_unknown_zone_names_the_zone() -> None:
    with pytest.raises(InputError, match="'nowhere'"):
        route(_world(), ["a", "nowhere"])


def test_walk_timing_follows_speed_and_legs_chain() -> None:
    fp = _world()
    walk = plan_walk(fp, "t1", [Leg(100.0, ("a", "b"), 1.0), Leg(500.0, ("b", "a"), 2.0)])
    pts = route(fp, ["a", "b"])
    length = sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(pts))
    assert walk.t[0] == 100.0
    assert walk.t[len(pts) - 1] == pytest.approx(100.0 + length)
    # The second leg starts where the first ended.
    assert (walk.x[len(pts)], walk.y[len(pts)]) == (walk.x[len(pts) - 1], walk.y[len(pts) - 1])
    hurried = [Leg(100.0, ("a", "b"), 0.1), Leg(101.0, ("b", "a"))]
    with pytest.raises(InputError, match="starts before"):
        plan_walk(fp, "t1", hurried)
    patient = plan_walk(fp, "t1", hurried, wait=True)
    assert patient.t[len(pts)] == patient.t[len(pts) - 1] > 101.0


def test_truth_is_time_ordered_and_on_the_polyline() -> None:
    fp = _world()
    walks = [
        plan_walk(fp, "t1", [Leg(10.0, ("a", "b"))]),
        plan_walk(fp, "t2", [Leg(0.0, ("b", "a"))]),
    ]
    truth = sample_truth(walks, ["L0", "L1"], 0.0, 60.0, 1.0)
    assert np.all(np.diff(truth.t) >= 0)
    assert len(truth.t) == 120
    first = truth.tag == 0
    # Before its leg starts, badge t1 stands at Room A's representative point.
    early = first & (truth.t < 10.0)
    start = fp.zone("a").polygon.representative_point()
    assert np.allclose(truth.x[early], start.x) and np.allclose(truth.y[early], start.y)


def test_radio_follows_path_loss_and_is_seeded() -> None:
    fp = _world()
    walks = [plan_walk(fp, "t1", [Leg(0.0, ("a",))])]
    truth = sample_truth(walks, ["L0", "L1"], 0.0, 400.0, 1.0)
    model = RadioModel(sigma_db=4.0, sensitivity_dbm=-120.0)
    batch = hear(truth, fp, model, seed=7)
    again = hear(truth, fp, model, seed=7)
    assert np.array_equal(batch.rssi, again.rssi) and np.array_equal(batch.reader, again.reader)
    near = batch.rssi[batch.reader == 0].mean()
    far = batch.rssi[batch.reader == 1].mean()
    upstairs = batch.rssi[batch.reader == 2].mean()
    assert near > far > upstairs  # same x, y as r-b but a floor away: weaker still
    # The mean at the near reader matches the model at the true distance within noise.
    p = fp.zone("a").polygon.representative_point()
    d = np.sqrt((p.x - 5) ** 2 + (p.y - 5) ** 2 + 1.5**2)
    assert abs(near - (-59.0 - 20.0 * np.log10(d))) < 1.0


def test_sensitivity_drops_weak_readings() -> None:
    fp = _world()
    walks = [plan_walk(fp, "t1", [Leg(0.0, ("a",))])]
    truth = sample_truth(walks, ["L0", "L1"], 0.0, 100.0, 1.0)
    batch = hear(truth, fp, RadioModel(sensitivity_dbm=-70.0), seed=1)
    assert len(batch) > 0 and float(batch.rssi.min()) >= -70.0
    assert 2 not in set(batch.reader.tolist())  # the reader upstairs is out of earshot
