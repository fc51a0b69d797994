"""Encryption at rest: bodies sealed per row, keys from the environment or a key file, rotation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from geometry.errors import ConfigError
from store import audit, feed_log, tokens, webhook_outbox
from store.crypto import (
    ENV_KEY,
    ENV_KEY_FILE,
    Cipher,
    SealError,
    decode_key,
    key_path,
    new_key_text,
    write_key,
)
from store.db import db_path, open_store
from store.rekey import rows_under
from sts.cli import main

BODY = '{"note": "Quince-secret", "x": 45.125}'


def wal_bytes(data: Path) -> bytes:
    wal = Path(str(db_path(data)) + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def store_two(data: Path) -> None:
    conn = open_store(data)
    feed_log.append(conn, at=1.0, kind="record", uid="u1", tag="b-1", body=BODY)
    feed_log.append(conn, at=2.0, kind="record", uid="u2", tag="b-2", body='{"other": 1}')
    feed_log.put_alert(conn, "a-1", "raised", BODY)
    conn.close()


def test_bodies_are_sealed_and_read_back(tmp_path: Path) -> None:
    data = tmp_path / "d"
    store_two(data)
    assert b"Quince-secret" not in db_path(data).read_bytes()
    assert key_path(data) == tmp_path / "d.key" and not (data / "d.key").exists()
    conn = open_store(data)
    assert feed_log.after(conn, 0, 10)[0].body == BODY
    assert feed_log.alert_bodies(conn) == [BODY]


def test_a_body_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    store_two(tmp_path / "d")
    with sqlite3.connect(db_path(tmp_path / "d")) as raw:
        sealed = raw.execute("SELECT body FROM feed_log WHERE uid = 'u1'").fetchone()[0]
        raw.execute("UPDATE feed_log SET body = ? WHERE uid = 'u2'", (sealed,))
    with pytest.raises(SealError, match="feed_log:u2"):
        feed_log.after(open_store(tmp_path / "d"), 0, 10)


def test_another_key_opens_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_two(tmp_path / "d")
    monkeypatch.setenv(ENV_KEY, new_key_text())
    with pytest.raises(SealError, match="another key"):
        feed_log.after(open_store(tmp_path / "d"), 0, 10)


def test_a_bad_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n")
    monkeypatch.setenv(ENV_KEY_FILE, str(bad))
    with pytest.raises(ConfigError, match=r"bad\.key: not a data key"):
        open_store(tmp_path / "d")


def test_rotate_reseals_everything_under_a_new_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    store_two(data)
    old = key_path(data).read_text()
    assert main(["keys", "rotate", "--data", str(data), "--settle", "0"]) == 0
    assert "3 values re-encrypted" in capsys.readouterr().out
    assert key_path(data).read_text() != old and (key_path(data).stat().st_mode & 0o077) == 0
    conn = open_store(data)
    assert feed_log.after(conn, 0, 10)[0].body == BODY
    assert feed_log.alert_bodies(conn) == [BODY]
    key_path(data).write_text(old)
    with pytest.raises(SealError):
        feed_log.after(open_store(data), 0, 10)


STAFF = "Quince-Staffname Ottoline"


def test_staff_names_are_sealed_and_survive_rotation(tmp_path: Path) -> None:
    """Token holders, audit actors and dead letters hold staff names: sealed, bound to
    their row, still whole (and the audit chain still verifies) after a rotation."""
    data = tmp_path / "d"
    conn = open_store(data)
    _, info = tokens.issue_token(conn, name=STAFF, role="safety", now=1.0)
    audit.append(conn, at=1.0, actor=STAFF, role="safety", action="history_query")
    letter = webhook_outbox.DeadLetter(1.0, "hook", "u1", 3, "503", f'{{"by": "{STAFF}"}}')
    webhook_outbox.add_dead_letter(conn, letter)
    conn.close()
    assert STAFF.encode() not in db_path(data).read_bytes() + wal_bytes(data)
    assert main(["keys", "rotate", "--data", str(data), "--settle", "0"]) == 0
    conn = open_store(data)
    assert tokens.list_tokens(conn)[0].name == STAFF
    assert audit.records(conn)[0].actor == STAFF and audit.verify(conn).ok
    assert webhook_outbox.dead_letters(conn) == [letter]
    assert tokens.get_token(conn, info.id) == tokens.list_tokens(conn)[0]


def test_an_actor_moved_to_another_record_breaks_the_chain(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "d")
    for who in ("Ann", "Bob"):
        audit.append(conn, at=1.0, actor=who, role="safety", action="history_query")
    sealed = conn.execute("SELECT actor FROM audit_log WHERE seq = 1").fetchone()[0]
    conn.execute("UPDATE audit_log SET actor = ? WHERE seq = 2", (sealed,))
    verdict = audit.verify(conn)
    assert verdict.broken_seq == 2 and "edited" in verdict.reason
    assert audit.records(conn)[1].actor == audit.UNREADABLE


def test_a_running_connection_picks_up_a_new_key_file(tmp_path: Path) -> None:
    """What lets `sts keys rotate` run beside a server: an open connection seals with
    the key put first in the file, and opens bodies sealed with either key."""
    data = tmp_path / "d"
    server = open_store(data)
    feed_log.append(server, at=1.0, kind="record", uid="old", tag="b", body=BODY)
    old_text = key_path(data).read_text()
    new_text = new_key_text()
    write_key(key_path(data), new_text + old_text)
    feed_log.append(server, at=2.0, kind="record", uid="new", tag="b", body=BODY)
    new_key = Cipher(decode_key(new_text, "new"))
    assert rows_under(server, new_key) == 1
    assert [m.body for m in feed_log.after(open_store(data), 0, 10)] == [BODY, BODY]


def test_rotation_seals_names_an_older_sts_wrote_in_clear(tmp_path: Path) -> None:
    data = tmp_path / "d"
    open_store(data).close()
    with sqlite3.connect(db_path(data)) as raw:  # as a data folder from before names were sealed
        raw.execute(
            "INSERT INTO tokens(id, hash, name, role, created_at) "
            "VALUES ('t1', 'h', ?, 'admin', 1)",
            (STAFF,),
        )
    assert STAFF.encode() in db_path(data).read_bytes() + wal_bytes(data)
    assert main(["keys", "rotate", "--data", str(data), "--settle", "0"]) == 0
    assert STAFF.encode() not in db_path(data).read_bytes() + wal_bytes(data)
    assert tokens.get_token(open_store(data), "t1").name == STAFF  # type: ignore[union-attr]
