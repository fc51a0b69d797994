"""The Locator: streaming equivalence, determinism, bad rows counted, real-data sanity."""

from __future__ import annotations

import ast
import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import ReadingBatch
from engine.locate import Locator, LocatorConfig, Reject, _runs_without_repeats, locate_all
from geometry.errors import ConfigError
from geometry.model import Floorplan, Level, Reader, ReaderCalibration, Site, Zone, ZoneKind

DATA = Path(__file__).resolve().parents[1] / "data" / "tetam-ble"
#: A plain global fit of the tetam data (rounded): enough for sanity checks here.
CAL = ReaderCalibration(rssi_1m=-62.0, exponent=1.4, sigma_db=6.0)


def tetam_floorplan() -> Floorplan:
    """The tetam readers (ids = MAC) in one open 20.66 x 17.64 m room."""
    for line in (DATA / "tetam.dev").read_text().splitlines():
        if line.startswith("Dongles:"):
            raw = ast.literal_eval(line.split(":", 1)[1].strip())
    readers = tuple(
        Reader(mac, "L0", v[0][0], v[0][1], v[0][2], CAL) for mac, v in sorted(raw.items())
    )
    room = Zone("floor", "Floor", "L0", ZoneKind.ROOM, box(0, 0, 20.66, 17.64))
    return Floorplan(Site("tetam", "TETAM"), (Level("L0", 0, "Ground"),), (room,), readers)


def tetam_track(name: str, fp: Floorplan) -> tuple[ReadingBatch, np.ndarray]:
    """A track as a batch (tag 0) and its truth rows (t, x, y)."""
    code = {r.id: i for i, r in enumerate(fp.readers)}
    with open(DATA / f"{name}_all_sensors.mbd", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    t = np.array([float(r[0]) for r in rows])
    batch = ReadingBatch.from_arrays(
        t, np.zeros(len(rows)), [code[r[1]] for r in rows], [float(r[3]) for r in rows]
    )
    truth = np.array([[float(r[0]), float(r[4]), float(r[5])] for r in rows])
    return batch, truth[np.argsort(truth[:, 0], kind="stable")]


@pytest.fixture(scope="module")
def fp() -> Floorplan:
    return tetam_floorplan()


@pytest.fixture(scope="module")
def straight(fp: Floorplan) -> tuple[ReadingBatch, np.ndarray]:
    return tetam_track("straight_01", fp)


def same(a, b) -> None:
    """Two position batches are identical, value for value."""
    for name in ("t", "tag", "level", "x", "y", "uncertainty"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def in_chunks(fp: Floorplan, batch: ReadingBatch, cuts: list[int], config=None):
    """Process the batch cut at the given row indexes, then flush; concatenated output."""
    loc = Locator(fp, None, config or LocatorConfig(tag_height=1.8))
    edges = [0, *cuts, len(batch)]
    parts = [loc.process(batch.take(np.arange(a, b))) for a, b in itertools.pairwise(edges)]
    parts.append(loc.flush())
    return type(parts[0]).from_arrays(
        *(
            np.concatenate([getattr(p, n) for p in parts])
            for n in ("t", "tag", "level", "x", "y", "uncertainty")
        )
    )


@pytest.mark.parametrize("seed_from_track", [False, True])
def test_streaming_gives_the_same_positions_as_one_batch(fp, straight, seed_from_track) -> None:
    batch, _ = straight
    config = LocatorConfig(tag_height=1.8, seed_from_track=seed_from_track)
    whole, _ = locate_all(fp, batch, None, config)
    rng = np.random.default_rng(3)
    cuts = sorted(rng.choice(np.arange(1, len(batch)), size=25, replace=False).tolist())
    same(whole, in_chunks(fp, batch, cuts, config))
    # Degenerate cuts: one row at a time for a stretch, and empty batches.
    same(whole, in_chunks(fp, batch, [*range(1, 40), 40, 40, 500], config))


def test_one_fix_per_tag_per_interval_and_deterministic(fp, straight) -> None:
    batch, _ = straight
    a, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=1.8))
    b, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=1.8))
    same(a, b)
    assert np.allclose(np.diff(a.t), 1.0, rtol=0, atol=1e-6)  # one fix a second, no gaps
    # On the 0.1 s grid, at the tenth of the second of the tag's first reading.
    tenths = np.round(a.t * 10)
    assert np.allclose(a.t * 10, tenths, rtol=0, atol=1e-5)
    assert set((tenths % 10).tolist()) == {np.floor(batch.t.min() * 10) % 10}
    assert np.isfinite(a.x).all() and np.isfinite(a.uncertainty).all()
    assert (a.uncertainty > 0).all()
    assert (a.x >= 0).all() and (a.x <= 20.66).all()


def staggered_tags(batch: ReadingBatch, n_tags: int, codes: list[int]) -> ReadingBatch:
    """The track worn by `n_tags` badges (codes given), badge i starting i x 0.1 s later."""
    parts = [
        ReadingBatch.from_arrays(
            batch.t + 0.1 * i, np.full(len(batch), code), batch.reader, batch.rssi
        )
        for i, code in enumerate(codes[:n_tags])
    ]
    both = ReadingBatch.from_arrays(
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.tag for p in parts]),
        np.concatenate([p.reader for p in parts]),
        np.concatenate([p.rssi for p in parts]),
    )
    return both.take(np.argsort(both.t, kind="stable"))


def test_calls_every_tenth_of_a_second_solve_a_tenth_of_the_badges(fp, straight) -> None:
    batch, _ = straight
    stream = staggered_tags(batch, 10, list(range(10)))
    loc = Locator(fp, None, LocatorConfig(tag_height=1.8))
    ends = np.arange(stream.t[0] + 0.1, stream.t[-1], 0.1)
    cuts = np.searchsorted(stream.t, ends, side="right")
    per_call = [
        loc.process(stream.take(np.arange(a, b))) for a, b in itertools.pairwise([0, *cuts])
    ]
    sizes = [len(p) for p in per_call]
    # Ten badges, one fix each a second: one a call, never all ten together.
    assert max(sizes) <= 2
    assert sum(sizes) >= 10 * (int(batch.t[-1] - batch.t[0]) - 3)
    for p in per_call:
        assert len(set(p.tag.tolist())) == len(p)


def test_a_badges_fix_times_follow_its_readings_not_its_code(fp, straight) -> None:
    batch, _ = straight
    forward, _ = locate_all(
        fp, staggered_tags(batch, 4, [0, 1, 2, 3]), None, LocatorConfig(tag_height=1.8)
    )
    shuffled, _ = locate_all(
        fp, staggered_tags(batch, 4, [7, 3, 0, 5]), None, LocatorConfig(tag_height=1.8)
    )
    for code, other in zip([0, 1, 2, 3], [7, 3, 0, 5], strict=True):
        a, b = forward.t[forward.tag == code], shuffled.t[shuffled.tag == other]
        assert len(a) > 10
        assert a.tolist() == b.tolist()
        assert np.allclose(forward.x[forward.tag == code], shuffled.x[shuffled.tag == other])
    # The four badges' fixes fall at four different tenths of the second.
    tenths = {int(np.round(t * 10)) % 10 for t in forward.t}
    assert len(tenths) == 4
    # Badges first heard in another order than their codes, a tenth of a second a call.
    stream = staggered_tags(batch, 4, [7, 3, 0, 5])
    cuts = np.searchsorted(stream.t, np.arange(stream.t[0], stream.t[-1], 0.1), side="right")
    same(in_chunks(fp, stream, cuts.tolist(), LocatorConfig(tag_height=1.8)), shuffled)


def test_runs_without_a_repeated_tag_cut_before_each_repeat() -> None:
    tags = np.array([0, 1, 0, 2, 1, 1, 3], np.int32)
    assert _runs_without_repeats(tags).tolist() == [0, 2, 5, 7]  # 0 1 | 0 2 1 | 1 3
    assert _runs_without_repeats(np.array([5, 6, 7], np.int32)).tolist() == [0, 3]
    assert _runs_without_repeats(np.zeros(0, np.int32)).tolist() == [0]


def test_two_tags_interleaved_equal_each_alone(fp, straight) -> None:
    batch, _ = straight
    other, _ = tetam_track("straight_04", fp)
    # Shift the second track onto the first one's clock, as a second tag.
    shift = batch.t[0] - other.t[0]
    both = ReadingBatch.from_arrays(
        np.r_[batch.t, other.t + shift],
        np.r_[batch.tag, np.ones(len(other))],
        np.r_[batch.reader, other.reader],
        np.r_[batch.rssi, other.rssi],
    )
    order = np.argsort(both.t, kind="stable")
    mixed, _ = locate_all(fp, both.take(order), None, LocatorConfig(tag_height=1.8))
    alone, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=1.8))
    mine = mixed.take(mixed.tag == 0)
    n = len(alone)
    np.testing.assert_allclose(mine.x[:n], alone.x, atol=1e-9)


def test_bad_rows_are_counted_and_the_rest_processed(fp, straight) -> None:
    batch, _ = straight
    good = batch.take(np.arange(300))
    t = good.t.copy()
    reader = good.reader.copy()
    rssi = good.rssi.copy()
    reader[10] = 99  # unknown reader
    rssi[20] = 42.0  # positive RSSI
    rssi[21] = -140.0
    t[30] = np.nan
    t[40] = t[39] - 5.0  # late by 5 s
    t[41] = t[40 - 1] - 0.2  # late by 0.2 s: within the 0.5 s tolerance, accepted
    bad = ReadingBatch.from_arrays(t, good.tag, reader, rssi)
    loc = Locator(fp, None, LocatorConfig(tag_height=1.8))
    positions, rejected = loc.process_with_report(bad)
    assert rejected.index.tolist() == [10, 20, 21, 30, 40]
    assert rejected.counts() == {
        Reject.UNKNOWN_READER: 1,
        Reject.RSSI_RANGE: 2,
        Reject.BAD_TIME: 1,
        Reject.LATE: 1,
    }
    assert len(positions) > 5
    assert loc.rejected_total[Reject.RSSI_RANGE] == 2


def test_late_rows_are_judged_against_earlier_batches_too(fp, straight) -> None:
    batch, _ = straight
    loc = Locator(fp, None, LocatorConfig(tag_height=1.8))
    loc.process(batch.take(np.arange(200)))
    stale = batch.take(np.arange(10, 12))
    _, rejected = loc.process_with_report(stale)
    assert rejected.counts() == {Reject.LATE: 2}


def test_a_floorplan_without_readers_is_a_config_error() -> None:
    empty = Floorplan(Site("s", "S"), (Level("L0", 0, "G"),), ())
    with pytest.raises(ConfigError, match="no readers"):
        Locator(empty)


def test_calibration_for_an_unknown_reader_is_a_config_error(fp) -> None:
    with pytest.raises(ConfigError, match="not in the floorplan"):
        Locator(fp, {"nope": CAL})


def test_median_error_on_a_real_track_is_metres_not_tens(fp) -> None:
    batch, truth = tetam_track("straight_05", fp)
    pos, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=1.8))
    tx = np.interp(pos.t, truth[:, 0], truth[:, 1])
    ty = np.interp(pos.t, truth[:, 0], truth[:, 2])
    err = np.hypot(pos.x - tx, pos.y - ty)
    assert np.median(err) < 2.5


def test_level_follows_the_strongest_readers_with_hysteresis() -> None:
    # Two floors, four readers each at the same x, y; the tag walks up the stairs at t=10.
    corners = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)]
    readers = tuple(
        Reader(f"{lv}-{i}", lv, x, y, 2.5, CAL)
        for lv in ("L0", "L1")
        for i, (x, y) in enumerate(corners)
    )
    zones = tuple(
        Zone(f"floor-{lv}", lv, lv, ZoneKind.ROOM, box(0, 0, 10, 10)) for lv in ("L0", "L1")
    )
    fp = Floorplan(Site("s", "S"), (Level("L0", 0, "G"), Level("L1", 1, "F")), zones, readers)
    rng = np.random.default_rng(5)
    t = np.repeat(np.arange(0.0, 20.0, 0.1), 8)
    reader = np.tile(np.arange(8), 200)
    upstairs = t >= 10.0
    same_floor = (reader < 4) != upstairs
    rssi = np.where(same_floor, -65.0, -85.0) + rng.normal(0, 1.0, len(t))
    batch = ReadingBatch.from_arrays(t, np.zeros(len(t)), reader, rssi)
    pos, _ = locate_all(fp, batch, None, LocatorConfig())
    assert set(pos.level[pos.t <= 9.0].tolist()) == {0}
    assert set(pos.level[pos.t >= 13.0].tolist()) == {1}
    # Hysteresis: the switch waits for confirmation, it does not flap back.
    changes = np.flatnonzero(np.diff(pos.level))
    assert len(changes) == 1


def test_after_flush_rows_of_emitted_windows_are_late(fp, straight) -> None:
    batch, _ = straight
    # A wide tolerance, so that only the flush makes these rows late.
    loc = Locator(fp, None, LocatorConfig(tag_height=1.8, late_tolerance=5.0))
    loc.process(batch.take(np.arange(300)))
    flushed = loc.flush()
    t_last = flushed.t[-1]
    # The flush emitted the grid up to the newest reading (other phases' steps too):
    # a row before its last fix is late, one after the newest reading is not.
    newest = float(batch.t[299])
    row = batch.take(np.array([299, 299]))
    again = ReadingBatch(np.array([t_last - 0.5, newest + 0.5]), row.tag, row.reader, row.rssi)
    _, rejected = loc.process_with_report(again)
    assert rejected.index.tolist() == [0]
    assert rejected.counts() == {Reject.LATE: 1}


def test_forget_drops_a_tag_and_leaves_the_others(fp, straight) -> None:
    batch, _ = straight
    n = len(batch)
    both = ReadingBatch.from_arrays(
        np.repeat(batch.t, 2),
        np.tile([0, 1], n),
        np.repeat(batch.reader, 2),
        np.repeat(batch.rssi, 2),
    )
    first, rest = both.take(np.arange(n)), both.take(np.arange(n, 2 * n))
    kept = Locator(fp, None, LocatorConfig(tag_height=1.8))
    loc = Locator(fp, None, LocatorConfig(tag_height=1.8))
    kept.process(first)
    loc.process(first)
    loc.forget(np.array([0]))
    assert not (loc._buffer.tag == 0).any() and (loc._buffer.tag == 1).any()
    assert not loc._state.alive[0] and loc._state.alive[1]
    a = loc.process(rest)
    b = kept.process(rest)
    # Tag 1 is untouched; tag 0 starts a new track (its first fix is as uncertain as a
    # new tag's), then is located again.
    np.testing.assert_array_equal(a.take(a.tag == 1).x, b.take(b.tag == 1).x)
    zero = a.take(a.tag == 0)
    assert len(zero) > 10
    assert zero.uncertainty[0] > b.take(b.tag == 0).uncertainty[0]


def test_parallel_solves_give_the_same_positions_as_serial(fp, straight) -> None:
    batch, _ = straight
    serial = LocatorConfig(tag_height=1.8)
    assert serial.parallel_min_fixes > len(batch)  # the default never goes parallel here
    parallel = LocatorConfig(tag_height=1.8, parallel_min_fixes=1)
    whole, _ = locate_all(fp, batch, None, serial)
    same(whole, locate_all(fp, batch, None, parallel)[0])
    # Streamed, each call's solves on one side of the threshold or the other.
    cuts = list(range(50, len(batch), 97))
    same(whole, in_chunks(fp, batch, cuts, LocatorConfig(tag_height=1.8, parallel_min_fixes=3)))


def test_parallel_min_fixes_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="parallel_min_fixes"):
        LocatorConfig(parallel_min_fixes=0)


def test_rows_out_of_order_within_the_tolerance_stream_like_one_batch(fp, straight) -> None:
    batch, _ = straight
    # Swap neighbours less than the 0.5 s tolerance apart: a stream a gateway reordered.
    order = np.arange(len(batch))
    for i in range(5, len(batch) - 1, 7):
        if batch.t[i + 1] - batch.t[i] < 0.4:
            order[i], order[i + 1] = order[i + 1], order[i]
    shuffled = batch.take(order)
    assert (np.diff(shuffled.t) < 0).any()
    config = LocatorConfig(tag_height=1.8)
    whole, rejected = locate_all(fp, shuffled, None, config)
    assert len(rejected) == 0
    cuts = sorted(np.random.default_rng(5).choice(len(batch), 30, replace=False).tolist())
    same(whole, in_chunks(fp, shuffled, cuts, config))


def test_the_locator_keeps_no_view_of_the_callers_arrays(fp, straight) -> None:
    batch, _ = straight
    head = batch.take(np.arange(400))
    kept = ReadingBatch(head.t.copy(), head.tag.copy(), head.reader.copy(), head.rssi.copy())
    a = Locator(fp, None, LocatorConfig(tag_height=1.8))
    b = Locator(fp, None, LocatorConfig(tag_height=1.8))
    a.process(head)
    b.process(kept)
    head.rssi[:] = -20.0  # the caller reuses its buffers
    head.reader[:] = 0
    same(a.flush(), b.flush())
