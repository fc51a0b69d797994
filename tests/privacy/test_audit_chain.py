"""The audit log's hash chain: `sts audit verify` names the first broken record.

Each tamper is done to the database file with plain sqlite3, as someone with the file
(and no STS) would: an edit, a deletion, a reordering, a cut at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from store import audit
from store.db import db_path, open_store
from sts.cli import main


def five_records(data: Path) -> None:
    conn = open_store(data)
    for i in range(5):
        audit.append(
            conn,
            at=1000.0 + i,
            actor=f"staff-{i}",
            role="safety",
            action="history_query",
            subject=f"NF-100{i}",
            detail="zone L0-hall",
        )
    conn.close()


def tamper(data: Path, sql: str) -> None:
    with sqlite3.connect(db_path(data)) as conn:
        conn.executescript(sql)


def test_an_intact_chain_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    five_records(tmp_path)
    assert main(["audit", "verify", "--data", str(tmp_path)]) == 0
    assert "intact: 5 records" in capsys.readouterr().out


EDIT = "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3"
DELETE = "DELETE FROM audit_log WHERE seq = 2"
# Swap records 3 and 4 whole (hashes and links included).
REORDER = (
    "UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4;"
    "UPDATE audit_log SET seq = 4 WHERE seq = -3"
)
CUT = "DELETE FROM audit_log WHERE seq = 5"


@pytest.mark.parametrize(
    ("sql", "broken", "why"),
    [
        (EDIT, 3, "edited"),
        (DELETE, 3, "deleted"),
        (REORDER, 3, "reordered"),
        (CUT, 5, "cut"),
    ],
)
def test_tampering_names_the_first_broken_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, broken: int, why: str
) -> None:
    five_records(tmp_path)
    tamper(tmp_path, sql)
    assert main(["audit", "verify", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at record {broken}:" in out and why in out


def test_a_rebuilt_hash_still_breaks_the_next_link(tmp_path: Path) -> None:
    five_records(tmp_path)
    conn = open_store(tmp_path)
    row = audit.records(conn)[1]
    forged = audit.record_hash(
        row.seq, row.at, "forger", row.role, row.action, row.subject, row.detail, row.prev
    )
    conn.execute("UPDATE audit_log SET actor = 'forger', hash = ? WHERE seq = 2", (forged,))
    verdict = audit.verify(conn)
    assert (verdict.broken_seq, verdict.ok) == (3, False)


def test_show_prints_records_for_auditors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    five_records(tmp_path)
    assert main(["audit", "show", "--last", "2", "--data", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1].startswith("4\t") and "history_query" in lines[2]


def test_every_cli_access_is_audited(tmp_path: Path) -> None:
    data = str(tmp_path)
    calls: list[Callable[[], int]] = [
        lambda: main(["tokens", "issue", "--role", "safety", "--name", "Sam", "--data", data]),
        lambda: main(["consent", "grant", "NF-1", "--tag", "badge-1", "--data", data]),
        lambda: main(["consent", "withdraw", "NF-1", "--scope", "safety", "--data", data]),
    ]
    for call in calls:
        assert call() == 0
    actions = [r.action for r in audit.records(open_store(tmp_path))]
    assert actions == ["token_issue", "consent_grant", "consent_grant", "consent_withdraw"]
    assert audit.verify(open_store(tmp_path)).ok
