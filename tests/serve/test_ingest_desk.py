"""The ingest desk: rows checked one by one, counted per gateway and reader, late rows."""

from __future__ import annotations

import numpy as np

from engine.consent import ConsentGate
from engine.roster import RosterEntry
from sts.server.ingest import IngestDesk
from transports.ingest_codec import decode_message


def desk() -> IngestDesk:
    roster = [
        RosterEntry("S1", "b1", "Ada", "Y7A", True),
        RosterEntry("S2", "b2", "Ben", "Y7A", False),
    ]
    return IngestDesk(("r0", "r1"), ConsentGate(roster))


def frame(rows: list[list[object]]):
    return decode_message({"type": "readings", "rows": rows}, 100)


def test_bad_rows_are_counted_and_the_good_ones_kept() -> None:
    d = desk()
    rows = [
        [10.0, "b1", "r0", -60.0],
        [10.0, "b1", "rX", -60.0],
        [10.0, "b1", "r1", 5.0],
        [10.0, "b2", "r1", -60.0],
        [float("nan"), "b1", "r1", -60.0],
        [11.0, "b1", "r1", -61.0],
    ]
    accepted, pending = d.accept("gw", frame(rows))
    assert accepted.kept == 2
    assert dict(accepted.rejected) == {
        ("gw", "rX", "unknown_reader"): 1,
        ("gw", "r1", "rssi_range"): 1,
        ("gw", "r1", "no_consent"): 1,
        ("gw", "r1", "bad_time"): 1,
    }
    assert b"b2" not in accepted.journal  # no trace of a badge without consent
    d.queue(pending, 1, now=0.0)
    tick = d.take(floor_t=-np.inf)
    assert tick is not None and tick.journal_id == 1
    assert tick.batch.t.tolist() == [10.0, 11.0]


def test_rows_older_than_the_floor_are_late_and_the_tick_is_time_sorted() -> None:
    d = desk()
    for journal_id, rows in enumerate(
        [[[12.0, "b1", "r0", -60.0]], [[9.0, "b1", "r1", -60.0], [11.0, "b1", "r1", -60.0]]]
    ):
        _, pending = d.accept("gw", frame(rows))
        d.queue(pending, journal_id + 1, now=0.0)
    tick = d.take(floor_t=10.0)
    assert tick is not None
    assert tick.batch.t.tolist() == [11.0, 12.0]
    assert d.rejected[("gw", "r1", "late")] == 1
    assert d.take(floor_t=10.0) is None
