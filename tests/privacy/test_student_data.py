"""`sts student export|erase` and `sts history`: role-checked, audited, hostile input refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from geometry.errors import InputError
from store import audit, consent, feed_log, student_data
from store.db import open_store, transaction
from store.tokens import issue_token
from sts.cli import main

T = 1_796_027_400.0  # 2026-11-30 08:30 UTC


def event(tag: str, zone: str, t: float) -> str:
    return json.dumps(
        {
            "type": "event",
            "event": {"t": t, "tag": tag, "zone": zone, "kind": "enter", "evidence": {"x": 1.5}},
        }
    )


def token(data: Path, role: str, expires_at: float | None = None) -> str:
    conn = open_store(data)
    with transaction(conn):
        text, _ = issue_token(
            conn,
            name=f"{role}-person",
            role=role,
            now=time.time(),
            groups=("Y7A",) if role == "teacher" else (),
            expires_at=expires_at,
        )
    return text


@pytest.fixture
def data(tmp_path: Path) -> Path:
    conn = open_store(tmp_path)
    for sid, tag in (("NF-1", "b-1"), ("NF-2", "b-2")):
        consent.grant(conn, student_id=sid, tag=tag, scope="safety", granted_at=0.0)
    for i, (tag, zone) in enumerate([("b-1", "L0-hall"), ("b-2", "L0-hall"), ("b-1", "L1-lab")]):
        feed_log.append(
            conn, at=T + i, kind="event", uid=f"e{i}", tag=tag, body=event(tag, zone, T + 60 * i)
        )
    feed_log.put_alert(conn, "al-1", "raised", json.dumps({"id": "al-1", "tag": "b-1"}))
    conn.close()
    return tmp_path


def test_export_holds_everything_and_is_audited(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = token(data, "admin")
    assert main(["student", "export", "NF-1", "--token", admin, "--data", str(data)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tags"] == ["b-1"] and [c["scope"] for c in doc["consent"]] == ["safety"]
    assert [m["event"]["zone"] for m in doc["messages"]] == ["L0-hall", "L1-lab"]
    assert [a["id"] for a in doc["alerts"]] == ["al-1"]
    last = audit.records(open_store(data))[-1]
    assert (last.action, last.subject, last.actor) == ("student_export", "NF-1", "admin-person")


@pytest.mark.parametrize("role", ["safety", "teacher", "auditor", "integrator"])
def test_only_admins_export_or_erase(
    data: Path, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tok = token(data, role)
    for action in ("export", "erase"):
        assert main(["student", action, "NF-1", "--token", tok, "--data", str(data)]) == 2
        assert f"a {role} token may not" in capsys.readouterr().err
    assert consent.for_student(open_store(data), "NF-1")


@pytest.mark.parametrize("bad", ["sts_forged-token", "x" * 500, ""])
def test_forged_and_expired_tokens_are_refused(
    data: Path, bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STS_TOKEN", raising=False)
    expired = token(data, "admin", expires_at=time.time() - 1)
    for tok in (bad, expired):
        assert main(["student", "export", "NF-1", "--token", tok, "--data", str(data)]) == 2
        err = capsys.readouterr().err
        assert "token" in err and "NF-1" not in err


def test_erase_deletes_messages_alerts_and_consent(data: Path) -> None:
    admin = token(data, "admin")
    assert main(["student", "erase", "NF-1", "--token", admin, "--data", str(data)]) == 0
    conn = open_store(data)
    assert [m.tag for m in feed_log.after(conn, 0, 10)] == ["b-2"]
    assert feed_log.alert_bodies(conn) == [] and consent.for_student(conn, "NF-1") == []
    assert audit.records(conn)[-1].action == "student_erase" and audit.verify(conn).ok


def test_history_by_zone_and_by_student(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    safety = token(data, "safety")
    window = ["--from", "2026-11-30T08:30:00+00:00", "--to", "2026-11-30T08:31:30+00:00"]
    base = ["history", *window, "--token", safety, "--data", str(data)]
    assert main([*base, "--zone", "L0-hall"]) == 0
    tags = [json.loads(line)["tag"] for line in capsys.readouterr().out.splitlines()]
    assert tags == ["b-1", "b-2"]
    assert main([*base, "--student", "NF-1"]) == 0
    zones = [json.loads(line)["zone"] for line in capsys.readouterr().out.splitlines()]
    assert zones == ["L0-hall"]  # the lab visit is after the window
    actions = [r.action for r in audit.records(open_store(data))]
    assert actions.count("history_query") == 2


def test_history_refuses_teachers_and_hostile_ids(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--from", "2026-11-30", "--to", "2026-12-01", "--data", str(data)]
    teacher = token(data, "teacher")
    assert main(["history", "--zone", "L0-hall", "--token", teacher, *window]) == 2
    safety = token(data, "safety")
    for sid in ("NF-1' OR '1'='1", "NF-1; DROP TABLE feed_log; --"):
        assert main(["history", "--student", sid, "--token", safety, *window]) == 2
        assert "no student with that id" in capsys.readouterr().err
    assert len(feed_log.after(open_store(data), 0, 10)) == 3


def test_an_oversized_export_is_refused_and_nothing_is_lost(data: Path) -> None:
    conn = open_store(data)
    held = len(feed_log.after(conn, 0, 10))
    assert held > 1
    with pytest.raises(InputError, match=r"more than 1 stored messages: too large"):
        student_data.export(conn, "NF-1", max_rows=1)
    assert len(feed_log.after(conn, 0, 10)) == held
    assert student_data.export(conn, "NF-1", max_rows=held)["messages"]
