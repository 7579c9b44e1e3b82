"""Take the README's screenshots of the timeline page: a real server, real captures uploaded
through the API (made-up screens with text), Debian's Chromium driven by Playwright.

    uv run --frozen python scripts/screenshots_timeline.py [--out docs/screenshots]

When the server answers GET /api/v1/search, a search screenshot with its highlight boxes is
taken too (after the background text extraction has indexed the captures).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from tests.integration.server.uploads import make_capture, upload
from tests.support.browser import CHROMIUM, DESKTOP, PHONE
from tests.support.server import make_server
from tests.support.timeline_screens import render_screen

SCREENS = [
    (
        "Firefox",
        "Release notes - Jarvis",
        [
            "Jarvis 0.4 release notes",
            "Timeline and search",
            "Delete a capture or a time range",
            "quarterly budget review moved to Friday",
        ],
        False,
    ),
    (
        "Terminal",
        "~/src/jarvis",
        [
            "$ uv run pytest tests/integration -q",
            "412 passed in 611s",
            "$ git log --oneline | head -3",
            "server: timeline page",
        ],
        True,
    ),
    (
        "Thunderbird",
        "Inbox - Mail",
        [
            "From: Ada   Re: quarterly budget",
            "From: Linus   Patch v2",
            "From: Grace   Lunch on Thursday?",
            "From: Ken   Backups done",
        ],
        False,
    ),
    (
        "LibreOffice Calc",
        "budget.ods",
        [
            "Item        Q1      Q2      Q3",
            "Servers     1200    1350",
            "Licences    300     300     320",
            "Total       1500    1650",
        ],
        False,
    ),
    (
        "Editor",
        "timeline.js - Code",
        [
            "function show(index, boxes) {",
            "  state.index = index;",
            "  showCapture(state.captures[index]);",
            "}",
        ],
        True,
    ),
]
ACCENTS = [(196, 84, 0), (40, 40, 48), (0, 112, 192), (16, 124, 65), (90, 60, 160)]


def _sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#strip .thumb").first).to_be_visible()
    _wait_for_images(page)


def _wait_for_images(page: Page) -> None:
    """Until every image in view has loaded (thumbnails out of view load lazily)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#strip img, #full')]"
        ".filter(img => { const r = img.getBoundingClientRect();"
        " return r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight; })"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="jarvis-shots-") as home:
        server = make_server(Path(home))
        server.start()
        try:
            token = server.create_token("laptop")
            with server.client(token) as client:
                for i in range(15):
                    app, title, lines, dark = SCREENS[i % len(SCREENS)]
                    screen = render_screen(title, lines, dark=dark, accent=ACCENTS[i % 5])
                    capture = make_capture(
                        screen.data,
                        captured_at=day + timedelta(minutes=7 * i),
                        app_name=app,
                        window_title=title,
                        capture_id=uuid.uuid4(),
                    )
                    upload(client, capture).raise_for_status()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
                context = browser.new_context(
                    base_url=server.url, viewport=DESKTOP, timezone_id="UTC", locale="en-GB"
                )
                page = context.new_page()
                page.goto("/")
                page.fill("#token", "jv_" + "•" * 10)
                page.screenshot(path=args.out / "timeline-signin.png")
                _sign_in(page, token)
                page.locator("#strip .thumb").nth(8).click()
                _wait_for_images(page)
                page.screenshot(path=args.out / "timeline-day.png")
                page.click("#delete-one")
                page.screenshot(path=args.out / "timeline-delete.png")
                page.click("#confirm-cancel")
                if _search_ready(server.url, token):
                    page.keyboard.press("/")
                    page.keyboard.type("quarterly")
                    page.keyboard.press("Enter")
                    page.locator("#hits .hit").first.click()
                    expect(page.locator("#marks .box").first).to_be_visible()
                    page.wait_for_timeout(300)
                    page.screenshot(path=args.out / "timeline-search.png")
                phone = browser.new_context(
                    base_url=server.url,
                    viewport=PHONE,
                    timezone_id="UTC",
                    locale="en-GB",
                    device_scale_factor=2,
                )
                small = phone.new_page()
                _sign_in(small, token)
                small.screenshot(path=args.out / "timeline-phone.png")
                browser.close()
        finally:
            server.stop()
    for name in sorted(p.name for p in args.out.glob("timeline-*.png")):
        print(args.out / name)
    return 0


def _search_ready(url: str, token: str) -> bool:
    """Whether search exists here, waiting (up to two minutes) for the captures to be indexed."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            response = client.get("/api/v1/search", params={"q": "quarterly"})
            if response.status_code == 404:
                return False
            if response.status_code == 200 and response.json()["hits"]:
                return True
            time.sleep(1)
    return False


if __name__ == "__main__":
    sys.exit(main())
