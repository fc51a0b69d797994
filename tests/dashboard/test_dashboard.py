"""The safety dashboard in a real browser against a real `sts serve`.

One story, as a safety team lives it: sign in, students move on the map, a Year 7
walks into the boiler room and the critical alert appears with its evidence and where
the student is now; Sam acknowledges it and Kim's dashboard shows it; a teacher sees
only their group; the server goes away and the banner says so; it comes back and the
page carries on by itself, without a reload. With STS_UPDATE_DOCS=1 the screenshot
taken on the way is written to docs/dashboard.png (the README's picture).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from sts.site import SiteFiles, load_site
from tests.dashboard.browser import launch, signed_in
from tests.dashboard.scene import AFTER_RESTART, INTRUDERS, LATE, Frames, after_restart, period_one
from tests.serve.live import NORTHFIELD, ROOT, ServerProcess, issue, send_frames

pytestmark = pytest.mark.slow

CONFIG = """
[feed]
heartbeat_s = 2.0
revocation_poll_s = 0.5
max_failures = 1000
"""


def stream(server: ServerProcess, token: str, frames: Frames, pace_s: float) -> threading.Thread:
    """Send the frames from a thread, paced so the page sees students move."""
    thread = threading.Thread(
        target=lambda: asyncio.run(send_frames(server.ws_url, token, frames.frames, pace_s)),
        daemon=True,
    )
    thread.start()
    return thread


def card(page: Page, tag_label: str, where: str = "#alerts-panel") -> object:
    """The alert card naming a student, in the list (or the critical strip)."""
    return page.locator(f"{where} article.alert", has_text=tag_label).first


def dot_x(page: Page, tag: str) -> float:
    """The x of a student's dot on the map (metres)."""
    return float(page.locator(f'g.student[data-tag="{tag}"] circle.dot').get_attribute("cx") or 0)


def test_dashboard_live_story(tmp_path: Path) -> None:
    site = load_site(SiteFiles.campus(NORTHFIELD))
    assert site.roster is not None and site.timetable is not None
    groups = site.roster.tag_groups()
    names = {e.tag: e.name for e in site.roster.entries}
    first, second = (
        period_one(site.floorplan, site.timetable.timetable, groups),
        after_restart(site.floorplan),
    )
    server = ServerProcess(tmp_path, CONFIG, tick_s=0.25).start()
    gateway = issue(server.data, "gateway", "gw-1")
    sam = issue(server.data, "safety", "Sam")
    kim = issue(server.data, "safety", "Kim")
    teacher = issue(server.data, "teacher", "Tess", groups=("Y7B",))
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = signed_in(browser, server.url, sam)
            feeder = stream(server, gateway, first, pace_s=0.12)

            # Students appear and move (the late Year 7B walks to class).
            expect(page.locator(f'g.student[data-tag="{LATE}"]')).to_have_count(1, timeout=20_000)
            x0 = dot_x(page, LATE)
            page.wait_for_function(
                f"""() => {{
                    const d = document.querySelector('g.student[data-tag="{LATE}"] circle.dot');
                    return d && Math.abs(parseFloat(d.getAttribute('cx')) - {x0}) > 2;
                }}""",
                timeout=20_000,
            )
            assert page.locator("g.student").count() >= 10

            # The boiler-room entry: a critical alert, in the strip and the list, as sentences.
            ada = names[INTRUDERS[0]]
            alert = card(page, ada)
            expect(alert).to_contain_text("Critical", timeout=30_000)
            expect(alert).to_contain_text("Boiler room")
            expect(alert).to_contain_text(re.compile(r"Evidence at \d\d:\d\d:\d\d: \(\d+\.\d, "))
            expect(alert).to_contain_text(re.compile(r"Now: in Boiler room, Ground floor, since"))
            expect(card(page, ada, "#critical")).to_be_visible()
            expect(page.locator("path.zone.alerting")).to_have_count(1)

            # Kim, on another dashboard, sees Sam's acknowledgement within a second or so.
            kim_page = signed_in(browser, server.url, kim)
            expect(card(kim_page, ada)).to_contain_text("raised")
            alert.get_by_role("button", name="Acknowledge…").click()
            page.get_by_label("Note (what you are doing about it)").fill("on my way")
            page.get_by_role("button", name="Acknowledge", exact=True).click()
            expect(card(kim_page, ada)).to_contain_text(
                re.compile("acknowledged by Sam at .*on my way"), timeout=5_000
            )
            # Acknowledged is not resolved: the critical alert stays in view.
            expect(card(kim_page, ada, "#critical")).to_be_visible()

            # A teacher of Y7B sees their group only: no intruder, no boiler-room alert.
            tess = signed_in(browser, server.url, teacher)
            expect(tess.locator(f'g.student[data-tag="{LATE}"]')).to_have_count(1, timeout=20_000)
            seen = tess.locator("g.student").evaluate_all("gs => gs.map(g => g.dataset.tag)")
            assert seen and all(groups[tag] == "Y7B" for tag in seen), seen
            assert tess.locator("article.alert").count() == 0

            feeder.join(60)
            page.wait_for_timeout(500)
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot))
            if os.environ.get("STS_UPDATE_DOCS") == "1":
                shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")

            # A drill: Kim's dashboard sees it start; a student marked safe by hand; the end.
            page.get_by_role("tab", name="Evacuation").click()
            page.locator("#evac-mode").select_option("drill")
            page.get_by_role("button", name="Start evacuation…").click()
            page.get_by_role("button", name="Start now").click()
            panel = page.locator("#evacuation-panel")
            expect(panel).to_contain_text("DRILL evacuation since", timeout=5_000)
            expect(panel.locator(".verdict")).to_contain_text("not accounted for")
            expect(kim_page.locator("#tab-evacuation")).to_have_text(
                "Evacuation: DRILL", timeout=5_000
            )
            row = panel.locator("tr", has_text=names[LATE])
            row.get_by_role("button", name="Mark safe…").click()
            page.get_by_label(re.compile("Mark .* safe: how do you know")).fill("seen at the gate")
            page.get_by_role("button", name="Mark safe", exact=True).click()
            expect(panel.locator("dd").nth(2)).to_have_text("1", timeout=5_000)
            page.get_by_role("button", name="End evacuation…").click()
            page.get_by_label(re.compile("End the evacuation")).fill("drill over")
            page.get_by_role("button", name="End evacuation", exact=True).click()
            expect(panel).to_contain_text("No evacuation is running", timeout=5_000)
            page.get_by_role("tab", name=re.compile("Alerts")).click()

            # Honesty: no new positions, then no server at all.
            expect(page.locator("#banner")).to_contain_text("No new positions", timeout=15_000)
            page.evaluate("window.__sameDocument = true")
            server.stop()
            expect(page.locator("#banner")).to_contain_text("Disconnected", timeout=10_000)
            expect(page.locator("#link-text")).to_have_text("Reconnecting…")

            # Back again: the page reconnects, resumes, and shows what happens next.
            server.start()
            expect(page.locator("#link-text")).to_have_text("Live", timeout=30_000)
            stream(server, gateway, second, pace_s=0.05).join(60)
            expect(card(page, names[AFTER_RESTART])).to_contain_text("Critical", timeout=30_000)
            expect(page.locator("#banner")).to_be_hidden()
            assert page.evaluate("window.__sameDocument") is True
            for p in (page, kim_page, tess):
                assert not p.errors, p.errors  # type: ignore[attr-defined]
            browser.close()
    finally:
        server.stop()
