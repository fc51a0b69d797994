"""Rows outside the documented ranges are dropped and counted, the rest of the batch kept."""

from __future__ import annotations

import numpy as np

from engine.batches import TIME_MAX_S, PositionBatch, concat_batches
from engine.engine import OUTSIDE_SITE, SITE_MARGIN_M, TIME_RANGE, Engine
from tests.engine.test_engine import TAGS, plan, positions, readings


def test_a_far_off_fix_is_counted_and_the_rest_of_the_batch_kept() -> None:
    good = positions(20.0)
    last = good.t[-1]
    beyond = 60.0 + SITE_MARGIN_M + 1.0  # the plan's zones end at x = 60
    bad = PositionBatch.from_arrays([last, last], [0, 1], [0, 0], [1e308, beyond], [5, 5], [1, 1])
    mixed = concat_batches([good, bad])
    expected = Engine(plan()).process_positions(good, TAGS)
    out = Engine(plan()).process_positions(mixed, TAGS)
    assert out.rejected[OUTSIDE_SITE] == 2
    assert out.events == expected.events and expected.events


def test_times_in_milliseconds_or_corrupt_are_counted_and_the_rest_kept() -> None:
    rb = readings(30.0)
    t = rb.t + 1.7e9
    t[5] = t[5] * 1000.0  # a millisecond timestamp among seconds
    t[9] = 1e18
    bad = type(rb)(t, rb.tag, rb.reader, rb.rssi)
    eng = Engine(plan())
    out = eng.process(bad, TAGS)
    assert out.rejected[TIME_RANGE] == 2
    assert eng.clock <= TIME_MAX_S
    flushed = eng.flush()
    assert len(out.positions) + len(flushed.positions) > 0
    assert np.all(np.concatenate([out.positions.t, flushed.positions.t]) < TIME_MAX_S)
