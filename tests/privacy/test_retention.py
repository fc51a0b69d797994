"""Retention that really deletes: a marker's bytes leave the database file and its WAL.

Negative control: the same scan finds the marker when secure deletion is off, so the
scan can see deleted bytes and the positive result means something.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geometry.errors import ConfigError
from store import audit, feed_log, retention
from store.db import db_path, open_store
from store.db import transaction as store_transaction
from sts.cli import main
from sts.retention_policy import load_policy, parse_policy

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"
MARKER = b"MARKER-7f3a9c-Zelda-Quince"
NOW = 2_000_000_000.0


def files_hold(data: Path, needle: bytes) -> list[str]:
    """Which of the database's files (db, -wal, -shm) contain the bytes."""
    out = []
    for path in data.glob(db_path(data).name + "*"):
        if needle in path.read_bytes():
            out.append(path.name)
    return out


def write_old_and_new(data: Path) -> None:
    conn = open_store(data)
    old, new = NOW - 40 * 86400, NOW - 3600
    # bodies are sealed at rest (store/crypto.py): the marker rides in the plain tag column
    feed_log.append(conn, at=old, kind="event", uid="old", tag=MARKER.decode(), body="{}")
    feed_log.append(conn, at=new, kind="event", uid="new", tag="badge-2", body='{"fresh": 1}')
    audit.append(conn, at=old, actor="a", role="safety", action="history_query", subject="x")
    audit.append(conn, at=new, actor="b", role="safety", action="history_query", subject="y")
    conn.close()


def run_retention(data: Path, secure: bool = True) -> dict[str, int]:
    conn = open_store(data)
    if not secure:
        conn.execute("PRAGMA secure_delete=OFF")
    deleted = retention.run(conn, load_policy(NORTHFIELD).keep_s, NOW)
    assert audit.verify(conn).ok
    conn.close()
    return deleted


def test_the_marker_is_gone_from_the_file_and_the_wal(tmp_path: Path) -> None:
    write_old_and_new(tmp_path)
    conn = open_store(tmp_path)  # held open: the WAL stays a file, as in a running server
    assert files_hold(tmp_path, MARKER)
    deleted = run_retention(tmp_path)
    assert deleted["events"] == 1 and deleted["audit"] == 0  # audit is kept 730 days
    assert files_hold(tmp_path, MARKER) == []
    assert [m.tag for m in _uids(tmp_path)] == ["badge-2"]
    conn.close()


def _uids(data: Path) -> list[feed_log.LoggedMessage]:
    return feed_log.after(open_store(data), 0, 10)


def test_negative_control_without_secure_delete_the_marker_stays(tmp_path: Path) -> None:
    write_old_and_new(tmp_path)
    assert run_retention(tmp_path, secure=False)["events"] == 1
    assert files_hold(tmp_path, MARKER), "the scan must see bytes SQLite merely unlinks"


def test_audit_retention_keeps_a_verifiable_chain(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    for i in range(4):
        audit.append(conn, at=float(i), actor="a", role="safety", action="history_query")
    with store_transaction(conn):
        assert audit.prune(conn, 2.0) == 2
    assert [r.seq for r in audit.records(conn)] == [3, 4] and audit.verify(conn).ok
    conn.execute("DELETE FROM audit_log WHERE seq = 3")
    assert audit.verify(conn).broken_seq == 4


def test_cli_runs_the_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_old_and_new(tmp_path)
    assert main(["retention", "run", "--site", str(NORTHFIELD), "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "events\t0 deleted" in out  # the marker is not past 30 days of the real clock yet


def test_a_missing_policy_says_what_is_needed(tmp_path: Path) -> None:
    shutil.copy(NORTHFIELD / "floorplan.geojson", tmp_path)
    with pytest.raises(ConfigError, match=r"no retention policy.*events, alerts"):
        load_policy(tmp_path)
    with pytest.raises(ConfigError) as info:
        parse_policy({"policy": {"controller": "X"}, "data": {"events": {"keep": "soon"}}}, "p")
    text = str(info.value)
    for piece in ("policy.contact", "data.events.purpose", "data.events.keep", "data.audit"):
        assert piece in text


def test_the_server_refuses_to_start_without_a_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for name in ("floorplan.geojson", "roster.csv"):
        shutil.copy(NORTHFIELD / name, site)
    code = main(["serve", "--site", str(site), "--port", "0", "--data", str(tmp_path / "d")])
    assert code == 2
    assert "no retention policy" in capsys.readouterr().err
