"""Headless Chromium for the dashboard tests: the system's browser driven by Playwright.

Playwright's own browser download cannot work here, so the tests launch the Debian
package's binary (`apt-get install chromium`, done by `make test`). A missing browser
or library is a test failure that says what to install, never a silent skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, expect

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: A laptop screen; the screenshot in docs/ is taken at this size.
VIEWPORT = {"width": 1440, "height": 900}


def chromium_path() -> str:
    """The system Chromium (AssertionError naming the package when there is none)."""
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    raise AssertionError(
        "Chromium is not installed: `apt-get install -y chromium` (or `make test`)"
    )


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium from the system packages."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True)


def signed_in(browser: Browser, url: str, token: str) -> Page:
    """A new page in its own context (another person), signed in with `token`."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#link-text")).to_have_text("Live", timeout=20_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page
