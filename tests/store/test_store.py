"""The store: tokens kept hashed, the resume buffer idempotent by id, the ingest journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from geometry.errors import InputError
from store import feed_log, ingest_journal
from store.db import db_path, open_store, transaction
from store.tokens import find_token, invalid_ids, issue_token, list_tokens, revoke_token


def test_tokens_are_stored_hashed_and_expire_and_revoke(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    token, info = issue_token(conn, name="Sam", role="safety", now=100.0, expires_at=200.0)
    assert token.encode() not in db_path(tmp_path).read_bytes()
    assert find_token(conn, token) == info
    assert find_token(conn, token + "x") is None
    assert info.valid_at(150.0) and not info.valid_at(200.0)
    assert invalid_ids(conn, {info.id}, 150.0) == set()
    assert invalid_ids(conn, {info.id}, 250.0) == {info.id}
    revoke_token(conn, info.id, 120.0)
    assert invalid_ids(conn, {info.id}, 150.0) == {info.id}
    assert [t.status(150.0) for t in list_tokens(conn)] == ["revoked"]
    with pytest.raises(InputError, match="sts tokens list"):
        revoke_token(conn, "nope", 1.0)
    with pytest.raises(InputError, match="groups"):
        issue_token(conn, name="T", role="teacher", now=1.0)


def test_feed_log_assigns_sequences_once_per_id_and_prunes(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    seqs = [
        feed_log.append(conn, at=float(i), kind="event", uid=f"u{i}", tag="", body="{}")
        for i in range(5)
    ]
    assert seqs == [1, 2, 3, 4, 5]
    assert feed_log.append(conn, at=9.0, kind="event", uid="u2", tag="", body="{}") is None
    assert [m.seq for m in feed_log.after(conn, 2, 10)] == [3, 4, 5]
    assert feed_log.seq_before_time(conn, 3.0) == 3
    assert feed_log.prune(conn, before_at=2.0, keep_at_most=100) == 2
    assert feed_log.bounds(conn) == (3, 5)
    assert feed_log.prune(conn, before_at=0.0, keep_at_most=1) == 2
    assert feed_log.bounds(conn) == (5, 5)
    feed_log.prune(conn, before_at=100.0, keep_at_most=1)
    oldest, newest = feed_log.bounds(conn)
    assert oldest == newest + 1 >= 6  # empty; numbers never go back
    assert feed_log.append(conn, at=10.0, kind="event", uid="u9", tag="", body="{}") == oldest


def test_the_journal_survives_a_reopen_until_marked_processed(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    ids = [
        ingest_journal.append(
            conn, gateway="g", frame_id=f"f{i}", received_at=1.0, format="columns", payload=b"x"
        )
        for i in range(3)
    ]
    assert ingest_journal.contains(conn, "g", "f1")
    assert (
        ingest_journal.append(
            conn, gateway="g", frame_id="f1", received_at=1.0, format="columns", payload=b"x"
        )
        is None
    )
    with transaction(conn):
        ingest_journal.mark_processed(conn, ids[0])
    conn.close()
    again = open_store(tmp_path)
    assert [f.id for f in ingest_journal.unprocessed(again)] == ids[1:]
    assert ingest_journal.prune(again, before_at=2.0) == 1
