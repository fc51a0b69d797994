"""Windowing: per tag and update time, a robust RSSI per reader over a sliding window.

Update times lie on a grid of `phases` steps per update interval, `T = (k / phases) *
interval`, and each tag takes one step in `phases`: a tag of phase `p` is updated at the
steps with `k % phases == p` (the caller gives each tag code its phase; by default the
code modulo `phases`). So every tag still gets one fix per interval, but the tags' fixes
are spread over the interval instead of all falling on its multiples: a live engine fed
every tenth of a second solves about a tenth of the badges per call, not all of them in
one call a second. The grid is fixed, so a stream cut into batches anywhere gives the
same rows. The window of update `T` holds the readings with `T - window < t <= T`. Per
tag, per update, per reader heard in the window, one statistic of the RSSI values (mean,
median, max or an upper quantile); then the `top_k` readers by that value, strongest
first, packed into `(n, top_k)` arrays: the shape `geometry.trilateration.trilaterate`
takes.

The work is one stable counting sort of the readings by tag (numba, linear in readings
plus the tag range; numpy's lexsort when the stream is not time-ordered) and one numba
pass that walks each tag's readings with two pointers; no Python loop per reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from engine.batches import ReadingBatch
from geometry.errors import ConfigError


class Statistic(IntEnum):
    """How the RSSI values of one reader in one window become one number."""

    MEAN = 0
    MEDIAN = 1
    MAX = 2
    QUANTILE = 3


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """Windowing parameters: update interval and window length (s), top-K, statistic."""

    # Defaults chosen by leave-one-track-out cross-validation on tetam-ble
    # (benchmarks/RESULTS.md, "Positioning accuracy"): an upper quantile resists the
    # deep fades of a body in the way better than the mean or the median.
    interval: float = 1.0
    window: float = 2.0
    top_k: int = 12
    statistic: Statistic = Statistic.QUANTILE
    quantile: float = 0.75
    # Fix times per interval the tags are spread over (1: every tag at the multiples of
    # the interval). Ten matches a live server's 0.1 s ticks.
    phases: int = 10

    def __post_init__(self) -> None:
        if not (self.interval > 0 and np.isfinite(self.interval)):
            raise ConfigError(f"interval must be a positive number of seconds, got {self.interval}")
        if not (self.window >= self.interval and np.isfinite(self.window)):
            raise ConfigError(
                f"window ({self.window} s) must be at least the interval ({self.interval} s)"
            )
        if not 1 <= self.top_k <= 64:
            raise ConfigError(f"top_k must be between 1 and 64, got {self.top_k}")
        if not 0.0 <= self.quantile <= 1.0:
            raise ConfigError(f"quantile must be between 0 and 1, got {self.quantile}")
        if not 1 <= self.phases <= 1000:
            raise ConfigError(f"phases must be between 1 and 1000, got {self.phases}")

    def time_of(self, step: int | npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The update time of grid step(s) `step`, s (the kernel's own arithmetic)."""
        return (np.asarray(step, dtype=np.float64) / self.phases) * self.interval

    def step_at_or_before(self, t: float) -> int:
        """The last grid step whose time is at or before `t` (s)."""
        step = int(np.floor(t / self.interval * self.phases))
        # The division may round across a step: settle it with the kernel's arithmetic.
        while float(self.time_of(step + 1)) <= t:
            step += 1
        while float(self.time_of(step)) > t:
            step -= 1
        return step


@dataclass(frozen=True, slots=True)
class Windows:
    """One row per (tag, update time) with at least one reading in its window; a tag has
    rows only at its own phase's steps.

    `reader` and `rssi` hold the `count` strongest readers first; unused columns are
    reader -1 and rssi NaN. `samples` is how many readings each value summarises.
    Rows are ordered by update time, then tag.
    """

    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    reader: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float64]
    samples: npt.NDArray[np.int32]
    count: npt.NDArray[np.int32]
    t_obs: npt.NDArray[np.float64]  # mean time of the window's readings: when the fix holds

    def __len__(self) -> int:
        return len(self.t)


def first_reading_phases(
    tag: npt.NDArray[np.int32], t: npt.NDArray[np.float64], spec: WindowSpec, size: int
) -> npt.NDArray[np.int64]:
    """Per tag code 0 .. size - 1: the phase of the grid step of its earliest reading in
    (tag, t), -1 where it has none. A badge's phase follows from its readings alone."""
    first_t = np.full(size, np.inf)
    np.minimum.at(first_t, tag, t)
    heard = np.isfinite(first_t)
    phase = np.full(size, -1, np.int64)
    step = np.floor(first_t[heard] / spec.interval * spec.phases).astype(np.int64)
    phase[heard] = step % spec.phases
    return phase


@njit(cache=True)
def _stat(values: np.ndarray, o: int, n: int, kind: int, q: float) -> float:
    """The statistic of values[o:o + n], which are sorted ascending (offsets, not a view:
    a view per reader and window costs more than the statistic)."""
    if n == 1:
        return values[o]  # every statistic of one value is the value itself
    if kind == 0:
        s = 0.0
        for i in range(o, o + n):
            s += values[i]
        return s / n
    if kind == 2:
        return values[o + n - 1]
    if kind == 1:
        q = 0.5
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return values[o + lo] * (1.0 - frac) + values[o + hi] * frac


@njit(cache=True)
def _sort_run(a: np.ndarray, o: int, n: int) -> None:
    """Sort a[o:o + n] ascending in place (n is a handful)."""
    for i in range(o + 1, o + n):
        v = a[i]
        j = i - 1
        while j >= o and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True)
def _insertion_sort(a: np.ndarray, n: int) -> None:
    """Sort a[:n] ascending in place (n is a handful); numba compiles it per dtype."""
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True)
def _by_tag(
    t: np.ndarray,
    tag: np.ndarray,
    reader: np.ndarray,
    rssi: np.ndarray,
    lo: int,
    span: int,
    wanted: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stable counting sort by tag (codes lo .. lo + span - 1) of the rows whose tag is
    `wanted` (indexed by code - lo): sorted t, reader, rssi, the start of each tag's run
    (plus the end) and the tags, ascending."""
    counts = np.zeros(span + 1, np.int64)
    n = 0
    for i in range(len(t)):
        g = tag[i] - lo
        if wanted[g]:
            counts[g + 1] += 1
            n += 1
    n_tags = 0
    for g in range(1, span + 1):
        if counts[g] > 0:
            n_tags += 1
        counts[g] += counts[g - 1]
    starts = np.empty(n_tags + 1, np.int64)
    tags = np.empty(n_tags, np.int32)
    j = 0
    for g in range(span):
        if counts[g + 1] > counts[g]:
            starts[j] = counts[g]
            tags[j] = g + lo
            j += 1
    starts[n_tags] = n
    t_s = np.empty(n, np.float64)
    reader_s = np.empty(n, np.int64)
    rssi_s = np.empty(n, np.float64)
    for i in range(len(t)):
        g = tag[i] - lo
        if not wanted[g]:
            continue
        p = counts[g]
        counts[g] = p + 1
        t_s[p] = t[i]
        reader_s[p] = reader[i]
        rssi_s[p] = rssi[i]
    return t_s, reader_s, rssi_s, starts, tags


@njit(cache=True)
def _by_step(k: np.ndarray, k0: int, n_steps: int) -> np.ndarray:
    """Stable counting sort of the rows by update step (k0 .. k0 + n_steps - 1): the order."""
    counts = np.zeros(n_steps + 1, np.int64)
    for i in range(len(k)):
        counts[k[i] - k0 + 1] += 1
    for g in range(1, n_steps + 1):
        counts[g] += counts[g - 1]
    order = np.empty(len(k), np.int64)
    for i in range(len(k)):
        g = k[i] - k0
        order[counts[g]] = i
        counts[g] += 1
    return order


#: The update grid as the window kernel takes it: interval (s), phases, window (s).
_Grid = tuple[float, int, float]
#: A window's rows as the kernel emits them: step, tag, reader, rssi, samples, count, t_obs.
_Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@njit(cache=True)
def _row_capacity(starts: np.ndarray, n_steps: int, grid: _Grid) -> int:
    """The most rows the tags can emit: per tag, no more than its updates in the steps
    asked for (n_steps), nor than the updates its readings can touch."""
    interval, _, window = grid
    max_rows = 0
    per_reading = int(np.ceil(window / interval)) + 1
    for g in range(len(starts) - 1):
        max_rows += min(n_steps, (starts[g + 1] - starts[g]) * per_reading)
    return max_rows


@njit(cache=True)
def _empty_rows(cap: int, top_k: int) -> _Rows:
    """Room for `cap` rows of `top_k` readers (unused: reader -1, rssi NaN, 0 samples)."""
    return (
        np.empty(cap, np.int64),
        np.empty(cap, np.int32),
        np.full((cap, top_k), -1, np.int32),
        np.full((cap, top_k), np.nan),
        np.zeros((cap, top_k), np.int32),
        np.zeros(cap, np.int32),
        np.empty(cap, np.float64),
    )


@njit(cache=True)
def _first_rows(rows: _Rows, n: int) -> _Rows:
    """The first n of the rows."""
    k, tag, reader, rssi, samples, count, t_obs = rows
    return k[:n], tag[:n], reader[:n], rssi[:n], samples[:n], count[:n], t_obs[:n]


@njit(cache=True)
def _reader_scratch(
    n_readers: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-reader scratch of the window kernel: counts (zero), touched, agg, agg_n, offs,
    fill, order."""
    return (
        np.zeros(n_readers, np.int64),
        np.empty(n_readers, np.int64),
        np.empty(n_readers, np.float64),
        np.empty(n_readers, np.int64),
        np.empty(n_readers, np.int64),
        np.empty(n_readers, np.int64),
        np.empty(n_readers, np.int64),
    )


@njit(cache=True, inline="always")
def _tag_steps(
    t_first: float, t_last: float, phase: int, steps: tuple[int, int], grid: _Grid
) -> tuple[int, int]:
    """The first and last steps in `steps` (k0, k1) of a tag's phase whose windows can
    hold its readings (times t_first .. t_last); the first may lie past the last."""
    k0, k1 = steps
    interval, phases, window = grid
    # From the step before the first whose window can hold the tag's first reading
    # to the step after the last that can hold its last (one step of slack each way
    # for the rounding of the divisions: a step without readings emits nothing).
    k_first = int(np.floor(t_first / interval * phases)) - 1
    k_last = int(np.floor((t_last + window) / interval * phases)) + 1
    if k_last > k1:
        k_last = k1
    if k_first < k0:
        k_first = k0
    # The tag's own phase: the first step from k_first with k % phases == its phase.
    k_first += (phase - k_first) % phases
    return k_first, k_last


@njit(cache=True)
def _window_kernel(
    readings: tuple[np.ndarray, np.ndarray, np.ndarray],
    runs: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_readers: int,
    steps: tuple[int, int],
    grid: _Grid,
    summary: tuple[int, int, float],
) -> _Rows:
    """Walk each tag's time-sorted readings (t, reader, rssi); emit one row per update of
    the tag's phase (grid steps k0 .. k1) with readings. runs: each tag's start in the
    readings (plus the end), the tags, their phases; summary: top_k, statistic, quantile."""
    t, reader, rssi = readings
    starts, tags, tag_phase = runs
    k0, k1 = steps
    interval, phases, window = grid
    top_k, kind, q = summary
    n_steps = (k1 - k0) // phases + 1  # a tag's updates in k0 .. k1, at most
    cap = min(len(tags) * n_steps, _row_capacity(starts, n_steps, grid)) if k1 >= k0 else 0
    rows = _empty_rows(cap, top_k)
    out_k, out_tag, out_reader, out_rssi, out_samples, out_count, out_tobs = rows
    # Scratch: per reader, the values in the current window (sorted per reader on use).
    counts, touched, agg, agg_n, offs, fill, order = _reader_scratch(n_readers)
    values = np.empty(64, np.float64)
    row = 0
    for g in range(len(tags)):
        a = starts[g]
        b = starts[g + 1]
        if a == b:
            continue
        k_first, k_last = _tag_steps(t[a], t[b - 1], tag_phase[g], steps, grid)
        lo = a
        hi = a
        for k in range(k_first, k_last + 1, phases):
            T = (k / phases) * interval
            while hi < b and t[hi] <= T:
                hi += 1
            while lo < hi and t[lo] <= T - window:
                lo += 1
            if lo == hi:
                continue
            # Group the window's readings by reader: count, then gather sorted values.
            n_touched = 0
            for i in range(lo, hi):
                r = reader[i]
                if counts[r] == 0:
                    touched[n_touched] = r
                    n_touched += 1
                counts[r] += 1
            # Readers in index order, so equal values rank the lower reader index first.
            _insertion_sort(touched, n_touched)
            # Counting sort of the window's values by reader, then each run sorted.
            if hi - lo > values.shape[0]:
                values = np.empty(2 * (hi - lo), np.float64)
            pos = 0
            for j in range(n_touched):
                r = touched[j]
                offs[r] = pos
                fill[r] = pos
                pos += counts[r]
            for i in range(lo, hi):
                r = reader[i]
                values[fill[r]] = rssi[i]
                fill[r] += 1
            for j in range(n_touched):
                r = touched[j]
                m = counts[r]
                _sort_run(values, offs[r], m)
                agg[j] = _stat(values, offs[r], m, kind, q)
                agg_n[j] = m
                counts[r] = 0
            # Top-K by value, strongest first; stable, so ties keep reader order.
            for j in range(n_touched):
                order[j] = j
            for j in range(1, n_touched):
                cur = order[j]
                c = j - 1
                while c >= 0 and agg[order[c]] < agg[cur]:
                    order[c + 1] = order[c]
                    c -= 1
                order[c + 1] = cur
            n_out = min(top_k, n_touched)
            for c in range(n_out):
                j = order[c]
                out_reader[row, c] = touched[j]
                out_rssi[row, c] = agg[j]
                out_samples[row, c] = agg_n[j]
            out_count[row] = n_out
            ts = 0.0
            for i in range(lo, hi):
                ts += t[i]
            out_tobs[row] = ts / (hi - lo)
            out_k[row] = k
            out_tag[row] = tags[g]
            row += 1
    return _first_rows(rows, row)


def window_readings(
    batch: ReadingBatch,
    n_readers: int,
    spec: WindowSpec,
    k0: int,
    k1: int,
    *,
    ordered: bool | None = None,
    phase_of: npt.NDArray[np.int64] | None = None,
) -> Windows:
    """Rows for the grid steps k0 <= k <= k1 (times `spec.time_of(k)`) of every tag in
    `batch`, each tag at its own phase's steps.

    `batch` must hold every reading of the windows asked for (the caller keeps the
    readings of the last `spec.window` seconds between batches); reader indexes must be
    in `0 .. n_readers - 1`. `ordered`: whether the batch's times never decrease, when the
    caller knows (None: checked here). `phase_of`: each tag code's phase (0 .. phases -
    1), indexed by code; None: the code modulo `spec.phases`.
    """
    if len(batch) == 0 or k1 < k0:
        return _empty(spec.top_k)
    runs = _tag_runs(batch, spec, k0, k1, ordered, phase_of)
    if runs is None:
        return _empty(spec.top_k)
    rows = _window_kernel(
        (runs.t, runs.reader, runs.rssi),
        (runs.starts, runs.tags, _phases(runs.tags.astype(np.int64), spec, phase_of)),
        int(n_readers),
        (int(k0), int(k1)),
        (float(spec.interval), int(spec.phases), float(spec.window)),
        (int(spec.top_k), int(spec.statistic), float(spec.quantile)),
    )
    return _in_time_order(rows, spec, k0, k1)


class _TagRuns(NamedTuple):
    """Readings sorted by (tag, t): each tag's readings are one time-ordered run."""

    t: npt.NDArray[np.float64]
    reader: npt.NDArray[np.int64]
    rssi: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int64]  # each run's first reading, then the end
    tags: npt.NDArray[np.int32]  # each run's tag, ascending


def _tag_runs(
    batch: ReadingBatch,
    spec: WindowSpec,
    k0: int,
    k1: int,
    ordered: bool | None,
    phase_of: npt.NDArray[np.int64] | None,
) -> _TagRuns | None:
    """The batch's readings sorted by (tag, t), one stable sort; None when none can fall
    in the windows of steps k0 .. k1."""
    # A time-ordered stream (the usual case) needs only a stable sort by tag: a counting
    # sort when the tag codes span a range not much larger than the batch.
    lo = int(batch.tag.min())
    span = int(batch.tag.max()) - lo + 1
    if ordered is None:
        ordered = bool(np.all(batch.t[1:] >= batch.t[:-1]))
    if span <= 4 * len(batch) + 1024 and ordered:
        return _counting_sorted_runs(batch, spec, k0, k1, (lo, span), phase_of)
    order = np.lexsort((batch.t, batch.tag))
    tag_sorted = batch.tag[order]
    cut = np.flatnonzero(np.diff(tag_sorted)) + 1
    starts = np.concatenate(([0], cut, [len(order)])).astype(np.int64)
    return _TagRuns(
        batch.t[order],
        batch.reader[order].astype(np.int64),
        batch.rssi[order].astype(np.float64),
        starts,
        tag_sorted[starts[:-1]].astype(np.int32),
    )


def _counting_sorted_runs(
    batch: ReadingBatch,
    spec: WindowSpec,
    k0: int,
    k1: int,
    codes: tuple[int, int],
    phase_of: npt.NDArray[np.int64] | None,
) -> _TagRuns | None:
    """`_tag_runs` of a time-ordered batch whose tag codes are `codes` (lowest, span), by
    a counting sort of the readings that windows k0 .. k1 can hold, of the tags with an
    update among them."""
    lo, span = codes
    # Only readings with time_of(k0) - window < t <= time_of(k1) can fall in a window
    # asked for (the kernel's own comparisons, same floats): in a time-ordered batch a
    # slice, so the readings kept for later windows are not sorted now.
    a = int(np.searchsorted(batch.t, float(spec.time_of(k0)) - spec.window, side="right"))
    b = int(np.searchsorted(batch.t, float(spec.time_of(k1)), side="right"))
    if a >= b:
        return None
    sl = slice(a, b)
    return _TagRuns(
        *_by_tag(
            batch.t[sl],
            batch.tag[sl],
            batch.reader[sl],
            batch.rssi[sl],
            lo,
            span,
            _in_steps(spec, k0, k1, _phases(np.arange(lo, lo + span), spec, phase_of)),
        )
    )


def _in_time_order(rows: _Rows, spec: WindowSpec, k0: int, k1: int) -> Windows:
    """The kernel's rows (by tag, then step) as Windows ordered by update time, then tag:
    the order the tracker consumes fixes in (a stable sort by step gives it)."""
    k, tag, reader, rssi, samples, count, t_obs = rows
    if len(k) == 0 or k0 == k1:
        return Windows(
            t=spec.time_of(k),
            tag=tag,
            reader=reader,
            rssi=rssi,
            samples=samples,
            count=count,
            t_obs=t_obs,
        )
    n_steps = int(k1) - int(k0) + 1
    if n_steps <= 4 * len(k) + 1024:
        by_time = _by_step(k, int(k0), n_steps)
    else:
        by_time = np.lexsort((tag, k))
    return Windows(
        t=spec.time_of(k[by_time]),
        tag=tag[by_time],
        reader=reader[by_time],
        rssi=rssi[by_time],
        samples=samples[by_time],
        count=count[by_time],
        t_obs=t_obs[by_time],
    )


def _phases(
    codes: npt.NDArray[np.int64], spec: WindowSpec, phase_of: npt.NDArray[np.int64] | None
) -> npt.NDArray[np.int64]:
    """The phase of each tag code: `phase_of` where given, else the code modulo phases."""
    return codes % spec.phases if phase_of is None else phase_of[codes]


def _in_steps(
    spec: WindowSpec, k0: int, k1: int, phase: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per tag of the given phases: whether steps k0 .. k1 hold one of its updates. A
    live call asks for one step, a tenth of the tags: the rest need not be sorted."""
    if k1 - k0 + 1 >= spec.phases:
        return np.ones(len(phase), np.bool_)
    steps = np.zeros(spec.phases, np.bool_)
    steps[np.arange(k0, k1 + 1) % spec.phases] = True
    return steps[phase]


def _empty(top_k: int) -> Windows:
    """Windows with no rows."""
    return Windows(
        t=np.empty(0, np.float64),
        tag=np.empty(0, np.int32),
        reader=np.empty((0, top_k), np.int32),
        rssi=np.empty((0, top_k), np.float64),
        samples=np.empty((0, top_k), np.int32),
        count=np.empty(0, np.int32),
        t_obs=np.empty(0, np.float64),
    )
