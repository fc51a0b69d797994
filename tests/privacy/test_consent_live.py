"""Consent withdrawal in a running `sts serve`: a real server, real sockets, the real CLI.

The roster's consent column seeds the registry; `sts consent withdraw` (another
process) then stops a badge mid-run: its stored history is purged, a change record
reaches the subscriber, and its later readings produce nothing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from store import feed_log
from store.db import open_store
from sts.roster_csv import read_roster
from tests.serve.conftest import INTRUDERS
from tests.serve.live import (
    NORTHFIELD,
    ROOT,
    ServerProcess,
    issue,
    raised,
    send_frames,
    take,
    wait_for,
)
from tests.serve.scenario import Scenario
from transports.feed_client import Subscriber
from transports.ingest_codec import decode_frame

pytestmark = pytest.mark.slow

#: An acknowledgement's note, to be found nowhere at rest.
NOTE = "Quince-note: found him behind the boiler"
#: The safety officer's name: on their token, their acknowledgement and the audit log.
STAFF = "Samantha Quince-Staff"
#: badge-0001 belongs to NF-1001 in floorplans/northfield/roster.csv.
FIRST_TAG, FIRST_ID = INTRUDERS[0], "NF-1001"
#: Frames up to here: badge-0001 has raised its alert (frame 62), badge-0002 not yet (84).
SPLIT = 72


def sts(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "sts", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def rows_about(data: Path, tag: str) -> int:
    """Feed messages, alerts and journaled raw frames the store holds about a tag (read
    from the file itself)."""
    conn = open_store(data)
    feed = conn.execute("SELECT COUNT(*) FROM feed_log WHERE tag = ?", (tag,)).fetchone()[0]
    alerts = [b for _, b in feed_log.alert_rows(conn) if json.loads(b)["tag"] == tag]
    payloads = conn.execute("SELECT payload FROM ingest_journal").fetchall()
    raw = [p for (p,) in payloads if tag in decode_frame(bytes(p), 10**6).tag_ids]
    conn.close()
    return int(feed) + len(alerts) + len(raw)


def test_withdrawal_stops_the_badge_and_purges_its_history(
    tmp_path: Path, scenario: Scenario
) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        gateway = issue(server.data, "gateway", "gw-1")
        sam = issue(server.data, "safety", STAFF)
        frames = [rows for _, rows in scenario.frames()]
        before, after = list(enumerate(frames))[:SPLIT], list(enumerate(frames))[SPLIT:]

        async def run() -> list[dict[str, object]]:
            only = {"types": ["alert", "record"]}
            async with Subscriber(server.url, sam, filters=only, binary=False) as feed:
                await send_frames(server.ws_url, gateway, before, pace_s=0.005)
                first = await take(feed, raised, 1)
                assert first[0]["alert"]["tag"] == FIRST_TAG  # type: ignore[index]
                assert rows_about(server.data, FIRST_TAG) > 0

                done = sts("consent", "withdraw", FIRST_ID, "--data", str(server.data))
                assert done.returncode == 0, done.stderr
                record = await take(
                    feed, lambda m: m["type"] == "record" and m["tag"] == FIRST_TAG, 1
                )
                assert record[0]["record"]["kind"] == "consent_withdrawn"

                await send_frames(server.ws_url, gateway, after, pace_s=0.005)
                later = await take(feed, raised, len(INTRUDERS) - 1)
                await feed.ack(str(later[0]["id"]), NOTE, ref="r1")
                await take(feed, lambda m: m["type"] == "done", 1)
                return later

        later = asyncio.run(run())
        assert [m["alert"]["tag"] for m in later] == list(INTRUDERS[1:])  # type: ignore[index]
        wait_for("the purge", lambda: rows_about(server.data, FIRST_TAG) == 0, 10, server.log)
        assert rows_about(server.data, INTRUDERS[1]) > 0
        assert server.metric('sts_readings_rejected_total{gateway="gw-1"') > 0
    finally:
        server.stop()
    listed = sts("consent", "list", "--data", str(server.data)).stdout
    assert f"{FIRST_ID}\t{FIRST_TAG}\tsafety" in listed and "withdrawn" in listed
    assert "Ada Brook" not in listed
    trail = sts("audit", "show", "--data", str(server.data)).stdout
    assert "consent_withdraw" in trail and "sign_in" in trail and "feed_subscribe" in trail
    assert STAFF in trail  # held, and opened for the auditor, but sealed at rest (below)
    assert sts("audit", "verify", "--data", str(server.data)).returncode == 0
    assert_sealed_at_rest(server.data, tmp_path / "copy", later)
    log = server.log.read_text()
    roster = read_roster(NORTHFIELD / "roster.csv").entries
    for secret in [e.name for e in roster] + [e.student_id for e in roster] + list(INTRUDERS):
        assert secret not in log, f"{secret} in the server's log"


def assert_sealed_at_rest(data: Path, copy: Path, alerts: list[dict[str, Any]]) -> None:
    """A copy of the data folder (the key lives beside it, not in it) shows no student
    name, no staff name, no note and no coordinate of an alert's evidence, in any file."""
    shutil.copytree(data, copy)
    blob = b"".join(p.read_bytes() for p in copy.rglob("*") if p.is_file())
    names = [e.name for e in read_roster(NORTHFIELD / "roster.csv").entries]
    coords = [f"{a['alert']['evidence'][axis]}" for a in alerts for axis in ("x", "y")]
    for secret in [*names, STAFF, NOTE, *coords]:
        assert secret.encode() not in blob, secret
    assert b"badge-0002" in blob  # the pseudonymous tag stays plain: purge and resume need it
