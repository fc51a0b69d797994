"""The tracking filter: converges, gates teleports, stays in walkable space."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from engine.tracking import Gate, TrackerSpec, TrackState, WalkableGrid, predict, track

OPEN = WalkableGrid.from_polygons([box(-50, -50, 50, 50)])


def run(
    spec: TrackerSpec,
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    sigma: float = 1.5,
    grid: WalkableGrid = OPEN,
    state: TrackState | None = None,
):
    """Track one tag (code 0) through fixes at times t."""
    n = len(t)
    return track(
        state or TrackState(),
        spec,
        grid,
        np.asarray(t, float),
        np.zeros(n, np.int32),
        np.asarray(x, float),
        np.asarray(y, float),
        np.full(n, sigma),
        np.zeros(n, np.int32),
        np.ones(n, bool),
    )


def test_converges_on_a_straight_walk() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(60.0)
    true_x = -20 + 0.8 * t
    noisy_x = true_x + rng.normal(0, 1.5, len(t))
    noisy_y = 3 + rng.normal(0, 1.5, len(t))
    state = TrackState()
    out = run(TrackerSpec(), t, noisy_x, noisy_y, state=state)
    raw = np.hypot(noisy_x - true_x, noisy_y - 3)[20:]
    err = np.hypot(out.x - true_x, out.y - 3)[20:]
    assert np.median(err) < 0.6 * np.median(raw)
    assert state.mean[0, 2] == pytest.approx(0.8, abs=0.3)  # walking speed learnt
    assert out.uncertainty[-1] < out.uncertainty[0]  # the filter grows confident


def steady_then_teleport(spec: TrackerSpec, n_far: int = 1):
    """20 s standing at (0, 0), then n_far fixes 15 m away."""
    t = np.arange(20.0 + n_far)
    x = np.r_[np.zeros(20), np.full(n_far, 15.0)]
    return run(spec, t, x, np.zeros_like(x), sigma=1.0)


def test_gate_rejects_a_teleport() -> None:
    gated = steady_then_teleport(TrackerSpec(gate=Gate.REJECT))
    inflated = steady_then_teleport(TrackerSpec(gate=Gate.INFLATE))
    open_gate = steady_then_teleport(TrackerSpec(gate=Gate.OFF))
    assert abs(gated.x[-1]) < 0.5
    assert abs(inflated.x[-1]) < abs(open_gate.x[-1])
    assert open_gate.x[-1] > 2.0  # without the gate the jump does pull the track


def test_a_consistent_move_resets_the_track() -> None:
    out = steady_then_teleport(TrackerSpec(gate=Gate.REJECT, reset_after=3), n_far=4)
    assert out.x[-1] == pytest.approx(15.0, abs=1.5)


def test_speed_stays_at_walking_pace() -> None:
    t = np.arange(10.0)
    state = TrackState()
    run(TrackerSpec(gate=Gate.OFF, max_speed=2.0), t, 10.0 * t, np.zeros(10), state=state)
    assert np.hypot(state.mean[0, 2], state.mean[0, 3]) <= 2.0 + 1e-9


def test_constraint_keeps_the_estimate_walkable() -> None:
    # A 10 x 10 room with a 4 x 4 table in the middle.
    room = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(3, 3), (7, 3), (7, 7), (3, 7)]])
    grid = WalkableGrid.from_polygons([room], cell=0.25)
    t = np.arange(10.0)
    on_table = np.full(10, 5.2)
    kept = run(TrackerSpec(), t, on_table, on_table, grid=grid)
    free = run(TrackerSpec(constrain=False), t, on_table, on_table, grid=grid)
    table = box(3, 3, 7, 7)
    assert table.contains(Polygon.from_bounds(5.1, 5.1, 5.3, 5.3))
    assert all(
        not table.buffer(-0.05).contains_properly(_pt(x, y))
        for x, y in zip(kept.x, kept.y, strict=True)
    )
    assert all(table.contains(_pt(x, y)) for x, y in zip(free.x, free.y, strict=True))


def _pt(x: float, y: float):
    from shapely.geometry import Point

    return Point(x, y)


def test_project_moves_outside_points_to_the_nearest_walkable_point() -> None:
    grid = WalkableGrid.from_polygons([box(0, 0, 10, 4)], cell=0.25)
    x, y = grid.project(
        np.zeros(3, np.int32), np.array([5.0, 5.0, 20.0]), np.array([2.0, 6.0, 2.0])
    )
    assert (x[0], y[0]) == (5.0, 2.0)  # inside: unchanged
    assert x[1] == pytest.approx(5.0, abs=0.2) and y[1] == pytest.approx(4.0, abs=0.05)
    assert x[2] == pytest.approx(10.0, abs=0.05)


def test_tolerance_widens_walkable_space() -> None:
    grid = WalkableGrid.from_polygons([box(0, 0, 10, 4)], cell=0.25, tolerance=0.5)
    x, y = grid.project(np.zeros(1, np.int32), np.array([5.0]), np.array([4.3]))
    assert (x[0], y[0]) == (5.0, 4.3)


def test_tags_are_independent_and_predict_knows_only_tracked_tags() -> None:
    state = TrackState()
    t = np.array([0.0, 0.0, 1.0, 1.0])
    tag = np.array([0, 1, 0, 1], np.int32)
    x = np.array([0.0, 10.0, 0.5, 10.5])
    out = track(
        state,
        TrackerSpec(),
        OPEN,
        t,
        tag,
        x,
        np.zeros(4),
        np.ones(4),
        np.zeros(4, np.int32),
        np.ones(4, bool),
    )
    assert out.x[2] < 1.0 and out.x[3] > 9.5
    guess = predict(state, np.array([0, 1, 5], np.int32), np.array([2.0, 2.0, 2.0]))
    assert np.isfinite(guess[:2]).all() and np.isnan(guess[2]).all()


def test_unusable_first_fix_gives_no_output() -> None:
    state = TrackState()
    out = track(
        state,
        TrackerSpec(),
        OPEN,
        np.array([0.0, 1.0]),
        np.zeros(2, np.int32),
        np.array([np.nan, 1.0]),
        np.array([np.nan, 1.0]),
        np.ones(2),
        np.zeros(2, np.int32),
        np.array([False, True]),
    )
    assert out.valid.tolist() == [False, True]
    assert np.isfinite(out.x[1])
