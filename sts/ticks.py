"""Cut a time-ordered stream of batches (a file read in chunks) into ticks of data time.

A file source has no clock; the hub drives the Engine in steps of `step_s` seconds of
data time, as the live service does every second, so time-driven rules see the stream
as they would live. Tick k holds the rows with floor((t - t0) / step_s) == k, t0 the
first row's time; empty ticks are skipped. A chunk is sorted by time (stable) before
it is cut, so rows out of order within a chunk cost nothing; a row that arrives after
its tick has gone to the engine is dropped and counted as `out_of_order`, and a row that
repeats another of its tick in full (t, tag, reader; t, tag for fixes: a line written
twice) is dropped and counted as `duplicate`, so it cannot weigh twice in a position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic

import numpy as np
import numpy.typing as npt

from engine.batches import BatchT, PositionBatch, ReadingBatch, concat_batches
from sts.option_checks import in_range


@dataclass(frozen=True, slots=True)
class Chunk(Generic[BatchT]):
    """Some rows of a source and the tag table their codes index (it only grows)."""

    batch: BatchT
    tag_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tick(Generic[BatchT]):
    """The rows of one step of data time, time-sorted, and their tag table."""

    batch: BatchT
    tag_ids: tuple[str, ...]
    out_of_order: int  # rows dropped since the previous tick: their tick had gone
    duplicates: int = 0  # rows dropped as repeats of a row of this tick


#: The shortest and longest tick: 10 ms, and an hour of data time in one Engine call.
MIN_STEP_S = 0.01
MAX_STEP_S = 3600.0


def check_step(step_s: float, option: str = "--step") -> float:
    """Seconds within [MIN_STEP_S, MAX_STEP_S], or an InputError naming the option."""
    return in_range(step_s, option, MIN_STEP_S, MAX_STEP_S)


def time_ticks(chunks: Iterable[Chunk[BatchT]], step_s: float) -> Iterator[Tick[BatchT]]:
    """Ticks of `step_s` seconds of data time from chunks in (roughly) time order."""
    step_s = check_step(step_s)
    t0: float | None = None
    open_tick = -1  # number of the tick being filled
    pending: list[BatchT] = []  # rows of the open tick
    tag_ids: tuple[str, ...] = ()
    late = 0
    for chunk in chunks:
        batch, tag_ids = chunk.batch, chunk.tag_ids
        if len(batch) == 0:
            continue
        batch = batch.take(np.argsort(batch.t, kind="stable"))
        if t0 is None:
            t0 = float(batch.t[0])
            open_tick = 0
        number = np.floor((batch.t - t0) / step_s).astype(np.int64)
        in_time = number >= open_tick
        if not in_time.all():
            late += int(np.count_nonzero(~in_time))
            batch, number = batch.take(in_time), number[in_time]
        cuts = np.flatnonzero(np.diff(number)) + 1
        starts = np.concatenate(([0], cuts)).tolist()
        ends = np.concatenate((cuts, [len(number)])).tolist()
        for a, b in zip(starts, ends, strict=True):
            k = int(number[a])
            if k != open_tick and pending:
                yield _tick(pending, tag_ids, late)
                pending, late = [], 0
            open_tick = k
            pending.append(batch.take(np.arange(a, b)))
    if pending:
        yield _tick(pending, tag_ids, late)


def _tick(parts: list[BatchT], tag_ids: tuple[str, ...], late: int) -> Tick[BatchT]:
    """One tick of rows, without exact repeats (a row sent twice must not count twice)."""
    batch = concat_batches(parts)
    keep = first_of_repeats(batch)
    if keep is None:
        return Tick(batch, tag_ids, late)
    return Tick(batch.take(keep), tag_ids, late, int(len(batch) - np.count_nonzero(keep)))


def first_of_repeats(batch: ReadingBatch | PositionBatch) -> npt.NDArray[np.bool_] | None:
    """Mask of the rows to keep when some rows repeat another's t, tag (and reader) in
    full; None when no row repeats. The first of each repeat is kept, order unchanged."""
    if len(batch) < 2:
        return None
    keys: list[npt.NDArray[np.generic]] = [batch.t, batch.tag]
    if isinstance(batch, ReadingBatch):
        keys.append(batch.reader)
    order = np.lexsort(keys[::-1])
    same = np.ones(len(batch) - 1, bool)
    for column in keys:
        ranked = column[order]
        same &= ranked[1:] == ranked[:-1]
    if not same.any():
        return None
    keep = np.ones(len(batch), bool)
    keep[order[1:][same]] = False
    return keep
