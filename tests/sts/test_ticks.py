"""Ticks of data time from a chunked source: the same ticks however the source is cut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.batches import ReadingBatch
from geometry.errors import InputError
from sts.ticks import Chunk, time_ticks

TAGS = ("a", "b")


def batch(t: list[float]) -> ReadingBatch:
    n = len(t)
    return ReadingBatch.from_arrays(t, np.arange(n) % 2, np.zeros(n), np.full(n, -60.0))


def cut(b: ReadingBatch, cuts: list[int]) -> list[Chunk[ReadingBatch]]:
    bounds = [0, *sorted(set(c % (len(b) + 1) for c in cuts)), len(b)]
    return [Chunk(b.take(np.arange(x, y)), TAGS) for x, y in itertools.pairwise(bounds)]


def whole_file_steps(t: np.ndarray, step: float) -> list[list[float]]:
    """What `sts track` did before it streamed: sort everything, cut at floor((t-t0)/step)."""
    t = np.sort(t, kind="stable")
    k = np.floor((t - t[0]) / step)
    return [t[k == v].tolist() for v in np.unique(k)]


times = st.lists(
    st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 3)), min_size=1, unique=True
)


@given(times, st.lists(st.integers(0, 10_000), max_size=8), st.sampled_from([0.5, 1.0, 10.0]))
def test_sorted_input_gives_the_whole_file_ticks_whatever_the_chunks(
    values: list[float], cuts: list[int], step: float
) -> None:
    b = batch(sorted(values))
    ticks = list(time_ticks(cut(b, cuts), step))
    assert [tk.batch.t.tolist() for tk in ticks] == whole_file_steps(b.t, step)
    assert all(tk.out_of_order == 0 for tk in ticks)


def test_rows_within_a_chunk_are_sorted_and_late_rows_are_counted() -> None:
    chunks = [Chunk(batch([2.5, 0.1, 1.2]), TAGS), Chunk(batch([0.9, 2.7, 3.1]), TAGS)]
    ticks = list(time_ticks(chunks, 1.0))
    assert [tk.batch.t.tolist() for tk in ticks] == [[0.1], [1.2], [2.5, 2.7], [3.1]]
    # 0.9 belongs to tick 0, long gone when the second chunk arrives
    assert sum(tk.out_of_order for tk in ticks) == 1


@pytest.mark.parametrize("step", [0.0, -1.0, 1e-300, 1e9, float("nan"), float("inf")])
def test_a_step_that_is_not_a_positive_number_is_refused(step: float) -> None:
    with pytest.raises(InputError, match="--step"):
        list(time_ticks([Chunk(batch([1.0]), TAGS)], step))


def test_a_row_repeated_in_full_is_dropped_and_counted_once() -> None:
    b = batch([1.0, 1.0, 1.2, 1.0])  # tags 0, 1, 0, 1: row 3 repeats row 1 in full
    ticks = list(time_ticks([Chunk(b, TAGS)], 1.0))
    assert [tk.batch.t.tolist() for tk in ticks] == [[1.0, 1.0, 1.2]]
    assert ticks[0].batch.tag.tolist() == [0, 1, 0]
    assert ticks[0].duplicates == 1
