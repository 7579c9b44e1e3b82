"""One real Chromium per test module, driven by Playwright: Debian's /usr/bin/chromium, never a
downloaded browser. Each test opens its own context (cookies and storage of its own)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

CHROMIUM: Final = Path("/usr/bin/chromium")
DESKTOP: Final = {"width": 1280, "height": 720}
PHONE: Final = {"width": 375, "height": 667}

if sys.platform == "linux":
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright


@dataclass
class BrowserPage:
    """A page in a fresh context, and what its console said."""

    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, started once per test module (headless; Playwright adds --no-sandbox for root).

    Not once per session: while Playwright's sync API runs, its event loop counts as running in
    the main thread, and every asyncio test after it would fail ("Cannot run the event loop
    while another loop is running")."""
    if sys.platform != "linux":
        pytest.skip("the browser tests drive Debian's Chromium")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def open_page(
    browser: Browser, base_url: str, *, viewport: dict[str, int] | None = None
) -> BrowserPage:
    """A new context at this viewport in UTC, with its console recorded."""
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport or DESKTOP,  # type: ignore[arg-type]
        timezone_id="UTC",
        locale="en-GB",
    )
    page = context.new_page()
    opened = BrowserPage(context, page)

    def record(message: ConsoleMessage) -> None:
        opened.console.append(f"{message.type}: {message.text}")

    page.on("console", record)
    page.on("pageerror", lambda error: opened.console.append(f"pageerror: {error}"))
    return opened
