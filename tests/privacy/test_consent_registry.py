"""The consent registry and `sts consent`: dates, expiry, withdrawal's purge, imports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.engine import EngineOutput
from store import consent, feed_log
from store.db import db_path, open_store
from sts.cli import main
from sts.server.consent_watch import ConsentWatch

ROSTER = Path(__file__).resolve().parents[2] / "floorplans" / "northfield" / "roster.csv"


def test_active_between_grant_and_expiry(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    consent.grant(
        conn, student_id="NF-1", tag="b-1", scope="safety", granted_at=100.0, expires_at=200.0
    )
    assert consent.active_tags(conn, 50.0) == set()
    assert consent.active_tags(conn, 150.0) == {"b-1"}
    assert consent.active_tags(conn, 200.0) == set()
    assert consent.inactive_tags(conn, 250.0) == {"b-1"}
    assert consent.get(conn, "NF-1", "safety").status(250.0) == "expired"  # type: ignore[union-attr]
    assert consent.active_tags(conn, 150.0, "attendance") == set()


def test_withdraw_purges_the_feed_and_alerts_of_that_badge_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = open_store(tmp_path)
    for sid, tag in (("NF-1", "b-1"), ("NF-2", "b-2")):
        consent.grant(conn, student_id=sid, tag=tag, scope="safety", granted_at=0.0)
        feed_log.append(conn, at=1.0, kind="event", uid=f"u-{tag}", tag=tag, body="{}")
        feed_log.put_alert(conn, f"a-{tag}", "raised", f'{{"id": "a-{tag}", "tag": "{tag}"}}')
    conn.close()
    assert main(["consent", "withdraw", "NF-1", "--data", str(tmp_path)]) == 0
    assert "2 stored rows purged" in capsys.readouterr().out
    with sqlite3.connect(db_path(tmp_path)) as raw:
        assert raw.execute("SELECT tag FROM feed_log").fetchall() == [("b-2",)]
        assert raw.execute("SELECT id FROM alerts").fetchall() == [("a-b-2",)]
    assert consent.active_tags(open_store(tmp_path), 10.0) == {"b-2"}


def test_list_shows_status_and_no_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    assert main(["consent", "import", str(ROSTER), "--data", data]) == 0
    assert (
        main(
            [
                "consent",
                "grant",
                "NF-9",
                "--tag",
                "b-9",
                "--scope",
                "attendance",
                "--expires",
                "2001-01-01",
                "--from",
                "2000-01-01",
                "--data",
                data,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["consent", "list", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "NF-1001\tbadge-0001\tsafety" in out
    assert "NF-9\tb-9\tattendance\t2000-01-01\t2001-01-01\texpired" in out
    assert "Ada Brook" not in out


def test_import_a_consent_list_with_dates(tmp_path: Path) -> None:
    f = tmp_path / "consents.csv"
    f.write_text(
        "student_id,tag,scope,granted_on,expires_on\n"
        "NF-1,b-1,safety+attendance,2020-09-01,2100-07-31\n"
        "NF-2,b-2,attendance,2020-09-01,\n"
    )
    assert main(["consent", "import", str(f), "--data", str(tmp_path / "d")]) == 0
    conn = open_store(tmp_path / "d")
    assert consent.active_tags(conn, 2e9) == {"b-1"}
    assert consent.active_tags(conn, 2e9, "attendance") == {"b-1", "b-2"}
    assert consent.get(conn, "NF-1", "safety").expires_at is not None  # type: ignore[union-attr]


def test_bad_import_names_every_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "consents.csv"
    f.write_text(
        "student_id,tag,scope,granted_on,expires_on\n"
        "NF-1,b-1,safety,2020-09-01,\n"
        "NF-2,b-2,tracking,2020-09-01,\n"
        "NF-3,b-3,safety,yesterday,\n"
        "NF-4,b-4,safety,2021-01-01,2020-01-01\n"
    )
    assert main(["consent", "import", str(f), "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "line 3" in err and "line 4" in err and "line 5" in err
    assert consent.is_empty(open_store(tmp_path / "d"))


@pytest.mark.parametrize("sid", ["x' OR '1'='1", "NF-1; DROP TABLE consent; --", "a" * 65, ""])
def test_hostile_ids_are_rejected_or_kept_literal(tmp_path: Path, sid: str) -> None:
    conn = open_store(tmp_path)
    consent.grant(conn, student_id="NF-1", tag="b-1", scope="safety", granted_at=0.0)
    code = main(["consent", "withdraw", sid, "--data", str(tmp_path)])
    assert code == 2
    assert consent.active_tags(open_store(tmp_path), 1.0) == {"b-1"}


def test_server_start_seeds_from_the_roster_and_follows_the_registry(tmp_path: Path) -> None:
    from sts.hub import Hub
    from sts.site import SiteFiles, build_engine, load_site

    site = load_site(SiteFiles.campus(ROSTER.parent))
    assert site.roster is not None
    seen: list[str] = []

    class Records:
        def write(self, out: EngineOutput) -> None:
            seen.extend(r.kind.value for r in out.records)

        def close(self) -> None:
            pass

    hub = Hub(build_engine(site), [Records()])
    conn = open_store(tmp_path)
    watch = ConsentWatch(conn, hub, lambda: 1.0e9)
    watch.start(site.roster, 1000.0)
    granted = {e.tag for e in site.roster.entries if e.consent}
    assert {t for t in hub.engine.gate.tags if t} == granted
    assert seen == []  # start-up alignment is silent: nothing was processed yet
    other = open_store(tmp_path)  # `sts consent` writes from another process
    consent.withdraw(other, "NF-1001", "safety", 1001.0)  # attendance consent remains
    assert watch.poll(1001.5) == 1 and seen == []
    assert hub.engine.gate.student("badge-0001") is not None
    assert "badge-0001" in hub.engine.rules.quiet_tags  # type: ignore[union-attr]
    consent.withdraw(other, "NF-1001", "attendance", 1001.7)
    consent.grant(other, student_id="NF-X", tag="badge-new", scope="safety", granted_at=0.0)
    assert watch.poll(1002.0) == 2
    assert hub.engine.gate.student("badge-0001") is None
    assert hub.engine.gate.student("badge-new") is not None
    assert seen == ["consent_withdrawn", "consent_granted"]
    assert watch.poll(1003.0) == 0 and len(seen) == 2
