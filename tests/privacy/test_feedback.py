"""`sts feedback`: anyone submits, admins list, answer and close; sealed; kept under retention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from store import feedback, retention
from store.db import db_path, open_store, transaction
from store.tokens import issue_token
from sts.cli import main
from sts.retention_policy import load_policy

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"
TEXT = "Quince-concern: the badge reader by the gym beeps all day"


def token(data: Path, role: str) -> str:
    conn = open_store(data)
    with transaction(conn):
        text, _ = issue_token(conn, name=f"{role}-person", role=role, now=time.time())
    return text


def test_submit_list_answer_close(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    assert main(["feedback", "submit", "--from", "parent", "--text", TEXT, "--data", data]) == 0
    fid = capsys.readouterr().out.split()[3]
    assert TEXT.encode() not in db_path(tmp_path).read_bytes()
    admin = token(tmp_path, "admin")
    assert (
        main(
            ["feedback", "answer", fid, "--text", "fixed Tuesday", "--token", admin, "--data", data]
        )
        == 0
    )
    assert main(["feedback", "close", fid, "--token", admin, "--data", data]) == 0
    capsys.readouterr()
    assert main(["feedback", "list", "--token", admin, "--data", data]) == 0
    out = capsys.readouterr().out
    assert f"\tparent\tclosed\t{TEXT}\tfixed Tuesday" in out


def test_only_admins_read_feedback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    safety = token(tmp_path, "safety")
    assert main(["feedback", "list", "--token", safety, "--data", str(tmp_path)]) == 2
    assert "a safety token may not" in capsys.readouterr().err


def test_closed_feedback_goes_under_retention(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    keep = load_policy(NORTHFIELD).keep_s
    old = feedback.submit(conn, author="student", text="old", at=0.0)
    feedback.submit(conn, author="student", text="still open", at=0.0)
    feedback.close(conn, old, at=1.0)
    deleted = retention.run(conn, keep, 10.0 + keep["feedback"])
    assert deleted["feedback"] == 1
    assert [f.text for f in feedback.list_all(conn)] == ["still open"]
