"""A withdrawn badge's raw readings leave the ingest journal at once, bytes and all.

The journal keeps gateway frames about an hour; a withdrawal must not wait for that.
One journaled frame holds the readings of the withdrawn badge and of another: after
`sts consent withdraw` the frame is still there (its id still spots a resend) with the
other badge's readings whole, and the withdrawn badge's readings (found by the bytes of
their timestamps) are in neither the database file nor its WAL. Negative control: the
same purge with secure deletion off leaves the bytes in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from store import consent, ingest_journal
from store.db import open_store, transaction
from store.retention import checkpoint
from sts.cli import main
from tests.privacy.test_retention import files_hold
from transports.ingest_codec import decode_frame, encode_columns

GONE, KEPT = "badge-withdrawn", "badge-kept"
#: The withdrawn badge's reading times: their 40 bytes are the marker the scan looks for.
GONE_T = 1_796_027_401.0 + np.arange(5) * 0.0625
KEPT_T = 1_796_027_403.0 + np.arange(3) * 0.25


def journal_both(data: Path) -> bytes:
    """Consent for both badges and one frame with both; the marker bytes."""
    conn = open_store(data)
    with transaction(conn):
        for sid, tag in (("S1", GONE), ("S2", KEPT)):
            for scope in consent.SCOPES:
                consent.grant(conn, student_id=sid, tag=tag, scope=scope, granted_at=1.0)
        payload = encode_columns(
            "f-1",
            np.concatenate([GONE_T, KEPT_T]),
            [GONE] * 5 + [KEPT] * 3,
            ["r1", "r2", "r1", "r2", "r1", "r1", "r2", "r1"],
            np.full(8, -60.0),
        )
        ingest_journal.append(
            conn, gateway="gw", frame_id="f-1", received_at=2.0, format="columns", payload=payload
        )
    conn.close()
    return np.ascontiguousarray(GONE_T, "<f8").tobytes()


def test_withdrawal_purges_the_badges_raw_readings(tmp_path: Path) -> None:
    marker = journal_both(tmp_path)
    held_open = open_store(tmp_path)  # as a running server would: the WAL stays a file
    assert files_hold(tmp_path, marker)
    assert main(["consent", "withdraw", "S1", "--data", str(tmp_path)]) == 0
    assert files_hold(tmp_path, marker) == []
    assert ingest_journal.contains(held_open, "gw", "f-1")  # a resend is still spotted
    [frame] = ingest_journal.unprocessed(held_open)
    kept = decode_frame(frame.payload, 100)
    assert kept.tag_ids == (KEPT,) and kept.t.tolist() == KEPT_T.tolist()
    held_open.close()


def test_negative_control_without_secure_delete_the_bytes_stay(tmp_path: Path) -> None:
    marker = journal_both(tmp_path)
    conn = open_store(tmp_path)
    conn.execute("PRAGMA secure_delete=OFF")
    with transaction(conn):
        consent.withdraw(conn, "S1", "safety", 3.0)
        consent.withdraw(conn, "S1", "attendance", 3.0)
        assert consent.purge_withdrawn(conn, GONE, 3.0) > 0
    checkpoint(conn)
    assert GONE not in decode_frame(ingest_journal.unprocessed(conn)[0].payload, 100).tag_ids
    conn.close()
    assert files_hold(tmp_path, marker), "the scan must see bytes SQLite merely unlinks"
