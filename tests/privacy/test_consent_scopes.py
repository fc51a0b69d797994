"""Consent scopes: safety alerts only with safety consent, attendance only with
attendance consent, each shown in both directions.

Live: a real `sts serve` and the Period 1 scene (two Year 7As walk into the boiler
room). Ada (badge-0001) keeps attendance consent but not safety: she is tracked and
counted, no alert is raised about her. Ben (badge-0002) keeps safety but not
attendance: his alert is raised, attendance leaves him out. Offline: `sts attendance`
counts whom the data folder's registry allows, and the roster's column without one.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from store import audit, consent, feed_log
from store.db import open_store, transaction
from sts.cli import main
from sts.site import SiteFiles, load_site
from tests.dashboard.scene import INTRUDERS, period_one
from tests.privacy.test_consent_live import sts
from tests.serve.live import (
    NORTHFIELD,
    ServerProcess,
    http,
    issue,
    raised,
    send_frames,
    take,
    wait_for,
)
from tests.sts.test_cmd_attendance import args
from transports.feed_client import Subscriber

ADA, BEN = INTRUDERS  # badge-0001 (NF-1001) and badge-0002 (NF-1002), both Y7A


def attendance_tags(url: str, token: str) -> set[str]:
    status, body = http(url + "/api/attendance", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    lessons = json.loads(body)["lessons"]
    assert lessons, "Period 1 is running at the scene's data time"
    return {m["tag"] for lesson in lessons for m in lesson["marks"]}


@pytest.mark.slow
def test_live_alerts_follow_safety_and_attendance_follows_attendance(tmp_path: Path) -> None:
    site = load_site(SiteFiles.campus(NORTHFIELD))
    assert site.roster is not None and site.timetable is not None
    frames = period_one(site.floorplan, site.timetable.timetable, site.roster.tag_groups())
    server = ServerProcess(tmp_path).start()
    try:
        gateway = issue(server.data, "gateway", "gw-1")
        sam = issue(server.data, "safety", "Sam")
        for student, scope in (("NF-1001", "safety"), ("NF-1002", "attendance")):
            done = sts("consent", "withdraw", student, "--scope", scope, "--data", str(server.data))
            assert done.returncode == 0, done.stderr

        def ada_is_quiet() -> bool:
            conn = open_store(server.data)
            quiet = any(r.subject == ADA and "alerts" in r.detail for r in audit.records(conn))
            conn.close()
            return quiet

        wait_for("the server to stop Ada's alerts", ada_is_quiet, 10, server.log)

        async def run() -> list[str]:
            async with Subscriber(server.url, sam, filters={"types": ["alert"]}) as feed:
                await send_frames(server.ws_url, gateway, frames.frames)
                first = await take(feed, raised, 1)
            return [str(m["alert"]["tag"]) for m in first]

        assert asyncio.run(run()) == [BEN]  # Ada went in first, 25 s before him
        counted = attendance_tags(server.url, sam)
        assert ADA in counted and BEN not in counted and "badge-0004" in counted
    finally:
        server.stop()
    conn = open_store(server.data)
    alerts = [json.loads(b)["tag"] for b in feed_log.alert_bodies(conn)]
    events = conn.execute("SELECT tag FROM feed_log WHERE kind = 'event'").fetchall()
    assert ADA not in alerts and BEN in alerts
    assert ADA in {r[0] for r in events}, "Ada is still tracked (for attendance)"


def counted(school: Path, data: Path) -> set[str]:
    assert main([*args(school), "--data", str(data)]) == 0
    return {r["tag"] for r in csv.DictReader((school / "attendance.csv").open())}


def test_sts_attendance_counts_whom_the_registry_allows(school: Path) -> None:
    # Without a registry, the roster's consent column (badge-0004 refused).
    roster_only = {"badge-0001", "badge-0002", "badge-0003"}
    assert counted(school, school / "none") == roster_only
    data = school / "var"
    conn = open_store(data)
    with transaction(conn):
        for sid, tag, scopes in (
            ("S1", "badge-0001", ("safety", "attendance")),
            ("S2", "badge-0002", ("safety",)),  # safety only: not counted
            ("S3", "badge-0003", ("attendance",)),
            ("S4", "badge-0004", ("attendance",)),  # refused on the roster, granted since
        ):
            for scope in scopes:
                consent.grant(conn, student_id=sid, tag=tag, scope=scope, granted_at=1.0)
    conn.close()
    assert counted(school, data) == {"badge-0001", "badge-0003", "badge-0004"}
    assert main(["consent", "withdraw", "S4", "--scope", "attendance", "--data", str(data)]) == 0
    assert counted(school, data) == {"badge-0001", "badge-0003"}
