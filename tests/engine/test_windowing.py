"""Windowing: per tag and update time, a robust RSSI per reader and the top-K readers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.batches import ReadingBatch
from engine.windowing import Statistic, WindowSpec, window_readings
from geometry.errors import ConfigError


def batch(rows: list[tuple[float, int, int, float]]) -> ReadingBatch:
    """A batch from (t, tag, reader, rssi) rows."""
    t, tag, reader, rssi = zip(*rows, strict=True)
    return ReadingBatch.from_arrays(t, tag, reader, rssi)


def reference(
    b: ReadingBatch, n_readers: int, spec: WindowSpec, k0: int, k1: int
) -> list[tuple[float, int, list[int], list[float], list[int]]]:
    """The windows computed the slow, obvious way."""
    out = []
    for k in range(k0, k1 + 1):
        T = float(spec.time_of(k))
        for tag in sorted(set(b.tag.tolist())):
            if k % spec.phases != tag % spec.phases:
                continue  # not this tag's phase
            m = (b.tag == tag) & (b.t <= T) & (b.t > T - spec.window)
            if not m.any():
                continue
            vals = []
            for r in range(n_readers):
                v = np.sort(b.rssi[m & (b.reader == r)].astype(np.float64))
                if len(v) == 0:
                    continue
                if spec.statistic == Statistic.MEAN:
                    s = float(v.mean())
                elif spec.statistic == Statistic.MAX:
                    s = float(v.max())
                elif spec.statistic == Statistic.MEDIAN:
                    s = float(np.quantile(v, 0.5))
                else:
                    s = float(np.quantile(v, spec.quantile))
                vals.append((-s, r, s, len(v)))
            vals.sort()
            top = vals[: spec.top_k]
            out.append(
                (T, tag, [r for _, r, _, _ in top], [s for *_, s, _ in top], [n for *_, n in top])
            )
    return out


def test_window_holds_readings_in_half_open_interval() -> None:
    b = batch([(0.5, 0, 0, -60), (1.0, 0, 0, -70), (1.5, 0, 1, -50), (3.0, 0, 1, -80)])
    spec = WindowSpec(interval=1.0, window=2.0, top_k=4, statistic=Statistic.MEAN, phases=1)
    w = window_readings(b, 2, spec, 0, 4)
    # T=1: t in (-1, 1] -> reader 0: -60, -70 ; T=2: (0, 2] -> r0 -65, r1 -50 ;
    # T=3: (1, 3] -> r1 -50, -80 (t=1.0 is out) ; T=4: (2, 4] -> r1 -80.
    assert w.t.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert w.count.tolist() == [1, 2, 1, 1]
    assert w.reader[1, :2].tolist() == [1, 0]  # strongest first
    assert w.rssi[1, :2].tolist() == [-50.0, -65.0]
    assert w.rssi[2, 0] == -65.0 and w.samples[2, 0] == 2
    assert w.rssi[3, 0] == -80.0
    assert w.reader[0, 1] == -1 and np.isnan(w.rssi[0, 1])


def test_top_k_keeps_strongest_and_pads() -> None:
    rows = [(0.9, 0, r, -90 + 5 * r) for r in range(5)]
    w = window_readings(batch(rows), 5, WindowSpec(1.0, 1.0, top_k=3, phases=1), 1, 1)
    assert w.reader[0].tolist() == [4, 3, 2]
    assert w.count.tolist() == [3]


def test_statistics_differ_as_defined() -> None:
    rows = [(0.1 * i, 0, 0, v) for i, v in enumerate([-90, -60, -62, -61, -59], start=1)]
    b = batch(rows)
    got = {
        s: window_readings(b, 1, WindowSpec(1.0, 1.0, 1, s, 0.75, 1), 1, 1).rssi[0, 0]
        for s in Statistic
    }
    assert got[Statistic.MEAN] == pytest.approx(-66.4)
    assert got[Statistic.MEDIAN] == -61.0
    assert got[Statistic.MAX] == -59.0
    assert got[Statistic.QUANTILE] == -60.0


def test_rows_only_for_requested_updates_and_tags_with_readings() -> None:
    b = batch([(0.2, 3, 0, -60), (5.2, 7, 1, -60)])
    w = window_readings(b, 2, WindowSpec(1.0, 1.0, phases=1), 0, 10)
    assert list(zip(w.t.tolist(), w.tag.tolist(), strict=True)) == [(1.0, 3), (6.0, 7)]
    assert len(window_readings(b, 2, WindowSpec(1.0, 1.0, phases=1), 2, 4)) == 0


def test_mean_time_of_window_readings() -> None:
    b = batch([(0.2, 0, 0, -60), (0.6, 0, 1, -60)])
    w = window_readings(b, 2, WindowSpec(1.0, 1.0, phases=1), 1, 1)
    assert w.t_obs[0] == pytest.approx(0.4)


# Readings (t, tag, reader, rssi) and window settings shared by the property tests.
ROWS = st.lists(
    st.tuples(
        st.floats(0, 6, allow_nan=False),
        st.integers(0, 2),
        st.integers(0, 4),
        st.integers(-100, -40),
    ),
    min_size=1,
    max_size=60,
)
STATISTICS = st.sampled_from(list(Statistic))
TIMINGS = st.sampled_from([(1.0, 1.0), (1.0, 2.0), (0.5, 1.5)])
TOP_K = st.integers(1, 5)
PHASES = st.sampled_from([1, 3, 10])


@given(
    ROWS,
    STATISTICS,
    TIMINGS,
    TOP_K,
    PHASES,
)
def test_matches_reference(rows, statistic, timing, top_k, phases) -> None:
    b = batch([(t, g, r, float(v)) for t, g, r, v in rows])
    spec = WindowSpec(timing[0], timing[1], top_k, statistic, 0.75, phases)
    last = int(7 / spec.interval * phases)
    w = window_readings(b, 5, spec, 0, last)
    ref = reference(b, 5, spec, 0, last)
    assert len(w) == len(ref)
    for i, (T, tag, readers, values, samples) in enumerate(ref):
        assert w.t[i] == pytest.approx(T)
        assert w.tag[i] == tag
        n = w.count[i]
        assert n == len(readers)
        # Equal values rank the lower reader index first.
        assert w.rssi[i, :n] == pytest.approx(values, abs=1e-9)
        assert w.reader[i, :n].tolist() == readers
        assert w.samples[i, :n].tolist() == samples


@given(
    ROWS,
    STATISTICS,
    TIMINGS,
    TOP_K,
    PHASES,
    st.integers(0, 80),
    st.integers(0, 60),
    st.integers(0, 50_000),
)
def test_time_ordered_stream_matches_reference(
    rows, statistic, timing, top_k, phases, k0, extra, offset
) -> None:
    # A time-ordered batch takes the counting-sort path, and only the readings the steps
    # asked for can see are sorted: any step range, any tag codes, same rows.
    rows = sorted(rows, key=lambda r: r[0])
    b = batch([(t, g + offset, r, float(v)) for t, g, r, v in rows])
    spec = WindowSpec(timing[0], timing[1], top_k, statistic, 0.75, phases)
    w = window_readings(b, 5, spec, k0, k0 + extra)
    ref = reference(b, 5, spec, k0, k0 + extra)
    assert len(w) == len(ref)
    for i, (T, tag, readers, values, samples) in enumerate(ref):
        assert w.t[i] == pytest.approx(T)
        assert w.tag[i] == tag
        n = w.count[i]
        assert w.reader[i, :n].tolist() == readers
        assert w.rssi[i, :n] == pytest.approx(values, abs=1e-9)
        assert w.samples[i, :n].tolist() == samples


def test_tags_are_spread_over_the_interval_by_phase() -> None:
    # Ten tags heard all along: each gets one fix per second, at its own tenth of it.
    rows = [(i * 0.05, g, 0, -60.0) for i in range(100) for g in range(10)]
    spec = WindowSpec(interval=1.0, window=2.0, top_k=1, phases=10)
    w = window_readings(batch(sorted(rows)), 1, spec, 10, 39)
    assert sorted(set(np.round(w.t, 6).tolist())) == [round(k / 10, 6) for k in range(10, 40)]
    for g in range(10):
        times = w.t[w.tag == g]
        assert np.allclose(np.diff(times), 1.0)
        assert np.allclose(times % 1.0, g / 10)
    # One step of the grid holds one tag in ten.
    assert np.bincount(np.round(w.t * 10).astype(int) - 10).tolist() == [1] * 30


def test_one_phase_puts_every_tag_on_the_multiples_of_the_interval() -> None:
    rows = [(i * 0.25, g, 0, -60.0) for i in range(20) for g in range(3)]
    spec = WindowSpec(interval=1.0, window=1.0, top_k=1, phases=1)
    w = window_readings(batch(sorted(rows)), 1, spec, 1, 4)
    assert w.t.tolist() == [1.0] * 3 + [2.0] * 3 + [3.0] * 3 + [4.0] * 3


def test_empty_batch_gives_no_rows() -> None:
    assert len(window_readings(ReadingBatch.empty(), 3, WindowSpec(), 0, 5)) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0.0},
        {"interval": 2.0, "window": 1.0},
        {"top_k": 0},
        {"quantile": 1.5},
        {"phases": 0},
    ],
)
def test_bad_spec_is_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        WindowSpec(**kwargs)
