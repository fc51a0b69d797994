"""The dashboard's feedback form in a real browser against a real `sts serve`, and the
feed message behind it: stored sealed, listed by `sts feedback`, role-checked and
rate-limited per token."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import websockets
from playwright.sync_api import expect, sync_playwright

from store.db import db_path
from tests.dashboard.browser import launch, signed_in
from tests.serve.live import ROOT, ServerProcess, issue
from transports.feed_client import feed_url, post_ticket

pytestmark = pytest.mark.slow

CONFIG = """
[feed]
heartbeat_s = 2.0
feedback_per_hour = 2
"""
CONCERN = "Quince-concern: the map shows my son's class in the wrong room"


async def feedback_replies(url: str, token: str, texts: list[str]) -> list[dict[str, Any]]:
    """Send feedback messages over the feed as the dashboard does; the replies."""
    ticket = await post_ticket(url, token)
    async with websockets.connect(feed_url(url), subprotocols=["sts.v1.json"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        replies = []
        for n, text in enumerate(texts):
            await ws.send(json.dumps({"type": "feedback", "from": "staff", "text": text, "id": n}))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return replies


def test_the_form_stores_feedback_that_admins_list(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, CONFIG).start()
    safety = issue(server.data, "safety", "Sam")
    admin = issue(server.data, "admin", "Ada")
    integrator = issue(server.data, "integrator", "bus-system")
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = signed_in(browser, server.url, safety)
            page.get_by_role("tab", name="Feedback").click()
            page.get_by_label("From").select_option("parent")
            page.get_by_label("Your feedback or concern").fill(CONCERN)
            page.get_by_role("button", name="Send feedback").click()
            expect(page.locator("#feedback-status")).to_contain_text(
                "recorded (reference", timeout=10_000
            )
            assert page.get_by_label("Your feedback or concern").input_value() == ""
            assert page.errors == []  # type: ignore[attr-defined]
            browser.close()
        # The same token once more is fine, then the hourly limit (2 here) refuses it.
        second, third = asyncio.run(feedback_replies(server.url, safety, ["second", "third"]))
        assert second["type"] == "done" and second["feedback"]
        assert third["type"] == "error" and third["code"] == "rate_limited"
        [refused] = asyncio.run(feedback_replies(server.url, integrator, ["from a system"]))
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        [empty] = asyncio.run(feedback_replies(server.url, admin, ["   "]))
        assert empty["type"] == "error" and empty["code"] == "bad_field"
    finally:
        server.stop()
    listed = subprocess.run(
        [sys.executable, "-m", "sts", "feedback", "list", "--data", str(server.data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"STS_TOKEN": admin, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert CONCERN in listed.stdout and "parent" in listed.stdout and "second" in listed.stdout
    assert "third" not in listed.stdout and "from a system" not in listed.stdout
    assert CONCERN.encode() not in db_path(server.data).read_bytes()  # sealed at rest
