"""Trilateration kernels against scipy.optimize.least_squares, fallbacks, bounds, finiteness."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import least_squares

from geometry.errors import InputError
from geometry.trilateration import (
    CENTROID_MIN_UNCERTAINTY,
    FIX_CENTROID,
    FIX_NONE,
    FIX_OK,
    trilaterate,
)

#: A 10 m x 8 m classroom: readers in the corners and mid-walls, 2.5 m up.
ROOM = np.array(
    [[0, 0, 2.5], [10, 0, 2.5], [10, 8, 2.5], [0, 8, 2.5], [5, 0, 2.5], [5, 8, 2.5]], float
)
BOUNDS = (-1.0, -1.0, 11.0, 9.0)
TAG_H = 1.0
P0, EXP, SIG = -59.0, 2.0, 4.0


def make_set(n: int, noise_db: float, seed: int, margin: float = 1.0):
    """Synthetic fixes: truth inside the room (margin from the walls), sorted strongest first."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform([margin, margin], [10 - margin, 8 - margin], (n, 2))
    d = np.sqrt(((truth[:, None, :] - ROOM[None, :, :2]) ** 2).sum(-1) + (2.5 - TAG_H) ** 2)
    rssi = P0 - 10 * EXP * np.log10(d) + rng.normal(0.0, noise_db, d.shape)
    order = np.argsort(-rssi, axis=1, kind="stable")
    anchors = ROOM[order]
    rssi = np.take_along_axis(rssi, order, 1)
    count = np.full(n, 6, np.int32)
    return truth, anchors, rssi, count


def solve(anchors, rssi, count, **kw):
    kw.setdefault("tag_height", TAG_H)
    kw.setdefault("bounds", BOUNDS)
    n, k = rssi.shape
    return trilaterate(
        anchors,
        rssi,
        count,
        np.full((n, k), P0),
        np.full((n, k), EXP),
        np.full((n, k), SIG),
        **kw,
    )


def scipy_fix(anchors_i, rssi_i, x0):
    """The same weighted RSSI-domain objective, solved by scipy (trf, with the bounds)."""

    def residual(p):
        d2 = ((p - anchors_i[:, :2]) ** 2).sum(-1) + (anchors_i[:, 2] - TAG_H) ** 2
        return (rssi_i - P0 + 10 * EXP * np.log10(np.sqrt(d2))) / SIG

    res = least_squares(
        residual,
        x0,
        bounds=(BOUNDS[:2], BOUNDS[2:]),
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    return res.x


def test_noise_free_matches_truth_and_scipy_to_a_centimetre():
    truth, anchors, rssi, count = make_set(200, 0.0, seed=1)
    fix = solve(anchors, rssi, count, max_iter=30, tol=1e-6)
    assert (fix.status == FIX_OK).all()
    err = np.hypot(fix.x - truth[:, 0], fix.y - truth[:, 1])
    assert err.max() < 0.01
    start = solve(anchors, rssi, count, max_iter=0)
    for i in range(0, 200, 10):
        ref = scipy_fix(anchors[i], rssi[i], np.array([start.x[i], start.y[i]]))
        assert math.hypot(fix.x[i] - ref[0], fix.y[i] - ref[1]) < 0.01


def test_noisy_median_error_matches_scipy_within_five_percent():
    truth, anchors, rssi, count = make_set(400, 4.0, seed=2, margin=0.0)
    fix = solve(anchors, rssi, count)
    start = solve(anchors, rssi, count, max_iter=0)
    ours = np.hypot(fix.x - truth[:, 0], fix.y - truth[:, 1])
    ref_err = []
    agree = []
    for i in range(len(truth)):
        ref = scipy_fix(anchors[i], rssi[i], np.array([start.x[i], start.y[i]]))
        ref_err.append(math.hypot(ref[0] - truth[i, 0], ref[1] - truth[i, 1]))
        agree.append(math.hypot(ref[0] - fix.x[i], ref[1] - fix.y[i]))
    m_ours, m_ref = np.median(ours), np.median(ref_err)
    assert abs(m_ours - m_ref) <= 0.05 * m_ref
    # The same minimum for the great majority (8 iterations at most, scipy to 1e-12).
    assert np.mean(np.array(agree) < 0.01) > 0.9


def test_uncertainty_radius_covers_about_one_sigma():
    truth, anchors, rssi, count = make_set(4000, 4.0, seed=3)
    fix = solve(anchors, rssi, count)
    err = np.hypot(fix.x - truth[:, 0], fix.y - truth[:, 1])
    coverage = np.mean(err <= fix.uncertainty)
    assert 0.55 < coverage < 0.95
    # More noise, larger radii.
    _, a2, r2, c2 = make_set(4000, 8.0, seed=3)
    assert np.median(solve(a2, r2, c2).uncertainty) > np.median(fix.uncertainty)


def test_no_reader_gives_a_finite_sentinel_and_status():
    _, anchors, rssi, _ = make_set(3, 0.0, seed=4)
    fix = solve(anchors, rssi, np.zeros(3, np.int32))
    assert (fix.status == FIX_NONE).all()
    assert np.allclose(fix.x, 5.0) and np.allclose(fix.y, 4.0)  # centre of the bounds
    assert np.allclose(fix.uncertainty, math.hypot(12.0, 10.0) / 2)


def test_one_or_two_readers_give_a_weighted_centroid_with_a_large_radius():
    _, anchors, rssi, _ = make_set(50, 2.0, seed=5)
    one = solve(anchors, rssi, np.ones(50, np.int32))
    assert (one.status == FIX_CENTROID).all()
    assert np.allclose(one.x, anchors[:, 0, 0]) and np.allclose(one.y, anchors[:, 0, 1])
    assert (one.uncertainty >= CENTROID_MIN_UNCERTAINTY).all()
    two = solve(anchors, rssi, np.full(50, 2, np.int32))
    assert (two.status == FIX_CENTROID).all()
    a, b = anchors[:, 0, :2], anchors[:, 1, :2]
    # On the segment between the two readers, nearer the stronger one.
    t = ((np.stack([two.x, two.y], 1) - b) * (a - b)).sum(1) / ((a - b) ** 2).sum(1)
    assert ((t >= 0.5 - 1e-9) & (t <= 1 + 1e-9)).all()
    # min_readers raises the bar.
    three = solve(anchors, rssi, np.full(50, 3, np.int32), min_readers=4)
    assert (three.status == FIX_CENTROID).all()


def test_unusable_readings_are_skipped_not_propagated():
    _truth, anchors, rssi, count = make_set(20, 0.0, seed=6)
    clean = solve(anchors, rssi, count, max_iter=30, tol=1e-6)
    bad_r = rssi.copy()
    bad_a = anchors.copy()
    # Append a garbage column: NaN rssi on some rows, an infinite anchor on others.
    bad_r = np.concatenate((bad_r, np.full((20, 1), np.nan)), 1)
    bad_a = np.concatenate((bad_a, np.full((20, 1, 3), 1.0)), 1)
    bad_a[::2, 6, 0] = np.inf
    bad_r[::2, 6] = -60.0
    fix = solve(bad_a, bad_r, np.full(20, 7, np.int32), max_iter=30, tol=1e-6)
    assert np.allclose(fix.x, clean.x) and np.allclose(fix.y, clean.y)
    assert (fix.status == FIX_OK).all()


def test_fixes_stay_inside_the_bounds():
    # The tag well outside the box: the fix lands on its edge, never beyond.
    rng = np.random.default_rng(7)
    n = 300
    truth = np.column_stack((rng.uniform(14, 20, n), rng.uniform(-5, 12, n)))
    d = np.sqrt(((truth[:, None, :] - ROOM[None, :, :2]) ** 2).sum(-1) + 1.5**2)
    rssi = P0 - 20 * np.log10(d) + rng.normal(0, 2, d.shape)
    anchors = np.broadcast_to(ROOM, (n, 6, 3))
    fix = solve(anchors, rssi, np.full(n, 6, np.int32))
    assert (fix.x >= BOUNDS[0]).all() and (fix.x <= BOUNDS[2]).all()
    assert (fix.y >= BOUNDS[1]).all() and (fix.y <= BOUNDS[3]).all()
    assert np.median(fix.x) == pytest.approx(BOUNDS[2])


def test_start_from_a_guess_converges_to_the_same_fix():
    truth, anchors, rssi, count = make_set(100, 0.0, seed=8)
    a = solve(anchors, rssi, count, max_iter=30, tol=1e-7)
    guess = truth + np.random.default_rng(0).normal(0, 0.5, truth.shape)
    guess[::5] = np.nan  # rows without a guess start from the centroid
    b = solve(anchors, rssi, count, x0=guess, max_iter=30, tol=1e-7)
    assert np.allclose(a.x, b.x, atol=1e-4) and np.allclose(a.y, b.y, atol=1e-4)


def test_deterministic_and_parallel_equal():
    _, anchors, rssi, count = make_set(5000, 4.0, seed=9)
    a = solve(anchors, rssi, count)
    b = solve(anchors, rssi, count)
    c = solve(anchors, rssi, count, parallel=True)
    for f in ("x", "y", "uncertainty", "status", "iterations"):
        assert getattr(a, f).tobytes() == getattr(b, f).tobytes()
        assert getattr(a, f).tobytes() == getattr(c, f).tobytes()


def test_per_reader_calibration_is_used():
    # Reader 0 is 10 dB hotter than the rest; with its calibration the fix is exact.
    truth, anchors, rssi, count = make_set(50, 0.0, seed=10)
    p0 = np.full(rssi.shape, P0)
    hot = anchors[:, :, 0] + anchors[:, :, 1] == 0  # the reader at (0, 0)
    rssi = rssi + 10.0 * hot
    p0[hot] += 10.0
    n, k = rssi.shape
    kw = {"tag_height": TAG_H, "bounds": BOUNDS, "max_iter": 30, "tol": 1e-6}
    fix = trilaterate(anchors, rssi, count, p0, np.full((n, k), EXP), np.full((n, k), SIG), **kw)
    assert np.hypot(fix.x - truth[:, 0], fix.y - truth[:, 1]).max() < 0.01
    wrong = trilaterate(anchors, rssi, count, P0, EXP, SIG, **kw)
    assert np.hypot(wrong.x - truth[:, 0], wrong.y - truth[:, 1]).max() > 0.3


def test_bad_arguments_raise_input_errors():
    _, anchors, rssi, count = make_set(4, 0.0, seed=11)
    with pytest.raises(InputError, match="anchors"):
        trilaterate(anchors[:, :, :2], rssi, count, P0, EXP, SIG, bounds=BOUNDS)
    with pytest.raises(InputError, match="rssi"):
        trilaterate(anchors, rssi[:, :3], count, P0, EXP, SIG, bounds=BOUNDS)
    with pytest.raises(InputError, match="count"):
        trilaterate(anchors, rssi, count[:2], P0, EXP, SIG, bounds=BOUNDS)
    with pytest.raises(InputError, match="bounds"):
        trilaterate(anchors, rssi, count, P0, EXP, SIG, bounds=(0, 0, -1, 5))
    with pytest.raises(InputError, match="bounds"):
        trilaterate(anchors, rssi, count, P0, EXP, SIG, bounds=(0, 0, np.nan, 5))
    with pytest.raises(InputError, match="x0"):
        trilaterate(anchors, rssi, count, P0, EXP, SIG, bounds=BOUNDS, x0=np.zeros((4, 3)))


def test_empty_batch():
    fix = trilaterate(
        np.zeros((0, 6, 3)), np.zeros((0, 6)), np.zeros(0, np.int32), P0, EXP, SIG, bounds=BOUNDS
    )
    assert len(fix) == 0


finite_or_not = st.one_of(
    st.floats(-1e6, 1e6),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300, 5e-324]),
)


@settings(max_examples=150, deadline=None)
@given(
    anchors=hnp.arrays(np.float64, (4, 5, 3), elements=finite_or_not),
    rssi=hnp.arrays(np.float64, (4, 5), elements=finite_or_not),
    p0=hnp.arrays(np.float64, (4, 5), elements=finite_or_not),
    ex=hnp.arrays(np.float64, (4, 5), elements=finite_or_not),
    sg=hnp.arrays(np.float64, (4, 5), elements=finite_or_not),
    count=hnp.arrays(np.int32, 4, elements=st.integers(-3, 9)),
    box=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 1e4), st.floats(0, 1e4)),
    guess=st.one_of(st.none(), hnp.arrays(np.float64, (4, 2), elements=finite_or_not)),
    min_readers=st.integers(0, 6),
)
def test_outputs_are_always_finite_and_inside_the_bounds(
    anchors, rssi, p0, ex, sg, count, box, guess, min_readers
):
    bounds = (box[0], box[1], box[0] + box[2], box[1] + box[3])
    for parallel in (False, True):
        fix = trilaterate(
            anchors,
            rssi,
            count,
            p0,
            ex,
            sg,
            bounds=bounds,
            x0=guess,
            min_readers=min_readers,
            parallel=parallel,
        )
        assert np.isfinite(fix.x).all() and np.isfinite(fix.y).all()
        assert np.isfinite(fix.uncertainty).all() and (fix.uncertainty >= 0).all()
        assert ((fix.x >= bounds[0]) & (fix.x <= bounds[2])).all()
        assert ((fix.y >= bounds[1]) & (fix.y <= bounds[3])).all()
        assert np.isin(fix.status, [0, 1, 2, 3]).all()


def test_a_row_does_not_depend_on_its_neighbours():
    _, anchors, rssi, count = make_set(40, 4.0, seed=13)
    whole = solve(anchors, rssi, count)
    for start in (0, 3, 17):
        part = solve(anchors[start:], rssi[start:], count[start:])
        assert whole.x[start:].tobytes() == part.x.tobytes()
        assert whole.uncertainty[start:].tobytes() == part.uncertainty.tobytes()


def test_inline_log_matches_libm_over_the_range_it_sees():
    from geometry.trilateration import _ln

    rng = np.random.default_rng(7)
    # Squared distances from the floor D2_MIN up, every decade, plus the cell edges.
    values = np.concatenate(
        [
            np.exp(rng.uniform(math.log(1e-4), math.log(1e300), 2000)),
            rng.uniform(0.5, 400.0, 2000),
            [1e-4, 0.5, 1.0, 2.0, np.nextafter(1.0, 2.0), np.nextafter(2.0, 1.0), 1e300],
        ]
    )
    got = np.array([_ln(float(v)) for v in values])
    assert np.abs(got - np.log(values)).max() < 1e-12
    # Past the table's range libm answers: inf stays inf, NaN stays NaN.
    assert _ln(math.inf) == math.inf
    assert math.isnan(_ln(math.nan))
    assert _ln(1e305) == math.log(1e305)


def test_inline_exp_matches_libm_where_the_centroid_uses_it():
    from geometry.trilateration import _exp_neg

    rng = np.random.default_rng(8)
    values = np.concatenate([rng.uniform(-700.0, 0.0, 2000), rng.uniform(-5.0, 0.0, 2000)])
    values = np.concatenate([values, [0.0, -1e-300, -math.log(2.0) / 128, -699.9999]])
    got = np.array([_exp_neg(float(v)) for v in values])
    assert np.abs(got / np.exp(values) - 1.0).max() < 1e-14
    # Below -700 it saturates at exp(-700): still positive, never zero or NaN.
    assert _exp_neg(-1e6) == _exp_neg(-700.0) > 0.0
