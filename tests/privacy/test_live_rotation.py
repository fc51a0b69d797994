"""`sts keys rotate` beside a running `sts serve`: no restart, nothing unreadable.

A real server ingests frames and serves the feed while another process rotates the
data key in slow batches. Before, during and after the rotation the server takes
readings, stores alerts and replays its stored feed to a new subscriber; the rows it
writes after the switch are sealed with the new key; at the end no stored value (and
no byte of the database files) is under the old key, and the key file holds only the
new key.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from store import feedback
from store.crypto import MAGIC, Cipher, decode_key, key_path, read_keys
from store.db import db_path, open_store, transaction
from store.rekey import rows_under
from tests.serve.conftest import INTRUDERS
from tests.serve.live import ROOT, ServerProcess, issue, raised, send_frames, take, wait_for
from tests.serve.scenario import Scenario
from transports.feed_client import Subscriber

pytestmark = pytest.mark.slow

#: Frames up to here: the first intruder's alert is raised before the rotation starts.
SPLIT = 72
#: Rows beside the server's own, so the slow rotation is still running while we check.
PADDING = 500
#: Small batches with pauses: the rotation lasts 25 s or more, the checks beside it a
#: few seconds (the test fails, rather than passing vacuously, if it ends first).
SLOWLY = ("--batch", "5", "--pause", "0.25", "--settle", "0.5")


def padded_store(data: Path) -> None:
    conn = open_store(data)
    with transaction(conn):
        for i in range(PADDING):
            feedback.submit(conn, author="parent", text=f"concern {i}", at=1.0)
    conn.close()


def key_of(text: str) -> Cipher:
    return Cipher(decode_key(text.splitlines()[0], "key"))


async def replayed(url: str, token: str) -> list[dict[str, Any]]:
    """A new subscriber resumes from the start: the raised alerts it is sent from the store."""
    async with Subscriber(url, token, filters={"types": ["alert"]}, after_seq=0) as feed:
        return await take(feed, raised, len(INTRUDERS), timeout_s=30)


def tags_of(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["alert"]["tag"]) for m in messages]


def keys_in(data: Path) -> list[Cipher]:
    return list(read_keys(key_path(data).read_text(), "key file"))


def test_rotation_runs_beside_a_live_server(tmp_path: Path, scenario: Scenario) -> None:
    server = ServerProcess(tmp_path)
    padded_store(server.data)
    gateway = issue(server.data, "gateway", "gw-1")
    safety = issue(server.data, "safety", "Sam")
    old_key = key_of(key_path(server.data).read_text())
    frames = list(enumerate(frame for _, frame in scenario.frames()))
    server.start()
    rotate: subprocess.Popen[str] | None = None
    try:

        async def before() -> None:
            async with Subscriber(server.url, safety, filters={"types": ["alert"]}) as feed:
                await send_frames(server.ws_url, gateway, frames[:SPLIT], pace_s=0.005)
                assert (await take(feed, raised, 1))[0]["alert"]["tag"] == INTRUDERS[0]

        asyncio.run(before())
        conn = open_store(server.data)
        last_before = conn.execute("SELECT MAX(seq) FROM feed_log").fetchone()[0]
        rotate = subprocess.Popen(
            [sys.executable, "-m", "sts", "keys", "rotate", "--data", str(server.data), *SLOWLY],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for("the new key to go first", lambda: len(keys_in(server.data)) == 2, 20, server.log)
        new_key, previous = keys_in(server.data)
        assert previous.key_id == old_key.key_id

        async def during() -> list[str]:
            async with Subscriber(server.url, safety, filters={"types": ["alert"]}) as feed:
                await send_frames(server.ws_url, gateway, frames[SPLIT:], pace_s=0.005)
                later = await take(feed, raised, len(INTRUDERS) - 1)
            assert tags_of(later) == list(INTRUDERS[1:])
            return tags_of(await replayed(server.url, safety))

        assert asyncio.run(during()) == list(INTRUDERS)
        assert rotate.poll() is None, "the rotation ended before the checks ran beside it"
        assert rows_under(conn, old_key) > 0 and rows_under(conn, new_key) > 0
        written_since = conn.execute(
            "SELECT substr(body, 1, 12) FROM feed_log WHERE seq > ?", (last_before,)
        ).fetchall()
        assert written_since and {r[0] for r in written_since} == {MAGIC + new_key.key_id}

        out, _ = rotate.communicate(timeout=120)
        assert rotate.returncode == 0, out
        assert "values re-encrypted" in out
        assert [k.key_id for k in keys_in(server.data)] == [new_key.key_id]
        assert rows_under(conn, old_key) == 0
        conn.close()

        async def after() -> list[str]:
            stored = await replayed(server.url, safety)
            async with Subscriber(server.url, safety, filters={"types": ["record"]}) as feed:
                await feed.ack(str(stored[0]["id"]), "seen after the rotation", ref="r1")
                await take(feed, lambda m: m["type"] == "record", 1)
            return tags_of(await replayed(server.url, safety))

        assert asyncio.run(after()) == list(INTRUDERS)
    finally:
        if rotate is not None and rotate.poll() is None:
            rotate.kill()
        server.stop()
    held = b"".join(p.read_bytes() for p in server.data.glob(db_path(server.data).name + "*"))
    assert MAGIC + old_key.key_id not in held
    assert MAGIC + new_key.key_id in held
    conn = open_store(server.data)
    assert len(feedback.list_all(conn)) == PADDING and rows_under(conn, old_key) == 0
