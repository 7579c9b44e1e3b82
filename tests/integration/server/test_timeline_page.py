"""The timeline page in a real browser (Debian's Chromium through Playwright) against the real
server, with real captures uploaded through the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.server.conftest import files_of, records_of
from tests.integration.server.uploads import Capture, make_capture, upload
from tests.support.browser import PHONE, BrowserPage, open_page
from tests.support.server import LiveServer, make_server
from tests.support.timeline_screens import Screen, render_screen

APPS = ["Firefox", "Terminal", "Mail", "Editor", "Firefox", "Terminal"]


@dataclass
class Timeline:
    server: LiveServer
    laptop_token: str
    laptop: list[Capture]
    phone: list[Capture]
    day: datetime  # the captures' day: the page opens on today


def _today() -> datetime:
    """01:00 today in UTC (the browser runs in UTC), taken when the fixture starts, not when the
    module is imported: a run that crossed midnight opened the page on the next day, empty."""
    return datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)


def _capture(screen: Screen, at: datetime, app: str, title: str) -> Capture:
    return make_capture(
        screen.data, captured_at=at, app_name=app, window_title=title, capture_id=uuid.uuid4()
    )


def _upload_all(server: LiveServer, token: str, captures: list[Capture]) -> None:
    with server.client(token) as client:
        for capture in captures:
            response = upload(client, capture)
            assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Timeline]:
    """A server with a laptop's day of six captures and a phone's two on the same day."""
    day = _today()
    server = make_server(tmp_path_factory.mktemp("timeline"))
    server.start()
    laptop_token = server.create_token("laptop")
    phone_token = server.create_token("phone")
    laptop = [
        _capture(
            render_screen(f"{app} {i}", [f"laptop screen number {i}", "quarterly budget"]),
            day + timedelta(minutes=5 * i),
            app,
            f"window {i}",
        )
        for i, app in enumerate(APPS)
    ]
    phone = [
        _capture(
            render_screen(f"Phone {i}", ["phone secret"], dark=True),
            day + timedelta(minutes=5 * i + 1),
            "Phone",
            f"phone window {i}",
        )
        for i in range(2)
    ]
    _upload_all(server, laptop_token, laptop)
    _upload_all(server, phone_token, phone)
    yield Timeline(server, laptop_token, laptop, phone, day)
    server.stop()


def _sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def _shown_id(page: Page) -> str | None:
    return page.locator("#full").get_attribute("data-id")


@pytest.fixture
def laptop_page(browser: Browser, timeline: Timeline) -> Iterator[BrowserPage]:
    opened = open_page(browser, timeline.server.url)
    _sign_in(opened.page, timeline.laptop_token)
    yield opened
    opened.context.close()


def _strip_ids(page: Page) -> list[str]:
    return page.locator("#strip .thumb").evaluate_all("els => els.map(e => e.dataset.id)")


def test_sign_in_scrub_and_open_a_capture(laptop_page: BrowserPage, timeline: Timeline) -> None:
    """After signing in with a token the day's captures appear as thumbnails in time order, the
    newest is open with its time, app, title and device; the scrubber and a click open others;
    the token is nowhere in the page, its URL or its storage, and no CSP violation occurred."""
    page = laptop_page.page
    ids = [c.id for c in timeline.laptop]
    expect(page.locator("#strip .thumb")).to_have_count(len(ids))
    assert _strip_ids(page) == ids
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-1])
    page.wait_for_function(
        "() => [...document.querySelectorAll('#strip img, #full')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    expect(page.locator("#meta-app")).to_have_text(APPS[-1])
    expect(page.locator("#meta-title")).to_have_text(f"window {len(ids) - 1}")
    expect(page.locator("#meta-device")).to_have_text("laptop")
    expect(page.locator("#meta-time")).to_contain_text("01:25:00")

    page.locator("#scrubber").fill("1")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[1])
    expect(page.locator("#meta-app")).to_have_text(APPS[1])
    page.locator("#strip .thumb").nth(3).click()
    expect(page.locator("#full")).to_have_attribute("data-id", ids[3])

    token = timeline.laptop_token
    assert token not in page.content()
    assert token not in page.url
    storage = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert storage == "[{},{}]"
    assert laptop_page.csp_violations() == []
    # The one expected error: the page asks for its session before signing in (401).
    errors = [m for m in laptop_page.console if m.startswith(("error", "pageerror"))]
    assert [m for m in errors if "status of 401" not in m] == []


def test_session_cookie_flags_in_the_browser(laptop_page: BrowserPage) -> None:
    """The browser holds one cookie, HttpOnly and SameSite=Strict, unreadable to the page."""
    [cookie] = laptop_page.context.cookies()
    assert cookie["name"] == "jarvis_session"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["expires"] > 0  # bounded, not a forever cookie
    assert laptop_page.page.evaluate("() => document.cookie") == ""


def test_keyboard_navigation(laptop_page: BrowserPage, timeline: Timeline) -> None:
    """Left/k go to the earlier capture, right/j to the later one, / focuses search and Esc
    leaves it; keys stop at the day's ends."""
    page = laptop_page.page
    ids = [c.id for c in timeline.laptop]
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-1])
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-2])
    page.keyboard.press("k")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-3])
    page.keyboard.press("j")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-2])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-1])
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.press("k")  # typed into the search box, not a navigation
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-1])
    page.keyboard.press("Escape")
    expect(page.locator("#search")).not_to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#full")).to_have_attribute("data-id", ids[-2])


def test_another_devices_captures_never_appear(
    laptop_page: BrowserPage, timeline: Timeline
) -> None:
    """Signed in as the laptop, the device list holds only the laptop, the day only its
    captures, and the phone's images answer 404 even when asked for by id."""
    page = laptop_page.page
    expect(page.locator("#strip .thumb")).to_have_count(len(timeline.laptop))
    assert page.locator("#device option").all_inner_texts() == ["laptop"]
    phone_ids = {c.id for c in timeline.phone}
    assert not phone_ids & set(_strip_ids(page))
    for capture in timeline.phone:
        status = page.evaluate(
            "async id => (await fetch(`/api/v1/captures/${id}/image`)).status", capture.id
        )
        assert status == 404
    assert "phone" not in page.locator("#app").inner_text()


def test_a_delete_without_the_csrf_token_is_refused(
    laptop_page: BrowserPage, timeline: Timeline
) -> None:
    """A DELETE sent by script with the session cookie but without X-CSRF-Token is 403 and
    the capture stays on the server."""
    capture = timeline.laptop[0]
    status = laptop_page.page.evaluate(
        "async id => (await fetch(`/api/v1/captures/${id}`, {method: 'DELETE'})).status",
        capture.id,
    )
    assert status == 403
    assert len(records_of(timeline.server, capture.id)) == 1
    assert len(files_of(timeline.server, capture.id)) == 1


def test_delete_asks_first_then_removes_file_and_row(browser: Browser, timeline: Timeline) -> None:
    """Delete opens a confirmation; Cancel keeps the capture; confirming removes it from the
    page, and its record and image file from the server; a range delete reports its count."""
    server = timeline.server
    token = server.create_token("deleter")
    extra = [
        _capture(
            render_screen(f"Doomed {i}", ["delete me"]),
            timeline.day + timedelta(minutes=i),
            "X",
            "t",
        )
        for i in range(4)
    ]
    _upload_all(server, token, extra)
    opened = open_page(browser, server.url)
    page = opened.page
    try:
        _sign_in(page, token)
        expect(page.locator("#strip .thumb")).to_have_count(4)
        target = extra[-1]
        expect(page.locator("#full")).to_have_attribute("data-id", target.id)
        page.click("#delete-one")
        expect(page.locator("#confirm")).to_be_visible()
        page.click("#confirm-cancel")
        expect(page.locator("#confirm")).to_be_hidden()
        assert len(records_of(server, target.id)) == 1

        page.click("#delete-one")
        page.click("#confirm-ok")
        expect(page.locator("#strip .thumb")).to_have_count(3)
        expect(page.locator("#status")).to_have_text("Capture deleted.")
        assert records_of(server, target.id) == []
        assert files_of(server, target.id) == []

        page.click("#delete-range")
        page.fill("#range-from", "01:00:00")
        page.fill("#range-to", "01:01:00")
        page.click("#confirm-ok")
        expect(page.locator("#status")).to_have_text("Deleted 2 captures.")
        expect(page.locator("#strip .thumb")).to_have_count(1)
        for gone in extra[:2]:
            assert records_of(server, gone.id) == []
            assert files_of(server, gone.id) == []
        assert len(files_of(server, extra[2].id)) == 1
        assert opened.csp_violations() == []
    finally:
        opened.context.close()


def test_phone_width_layout_is_usable(browser: Browser, timeline: Timeline) -> None:
    """At 375 px nothing overflows sideways, the image fits the width, the metadata sits under
    it, and the delete button and the search box are reachable; the strip scrolls instead."""
    opened = open_page(browser, timeline.server.url, viewport=PHONE)
    page = opened.page
    try:
        _sign_in(page, timeline.laptop_token)
        expect(page.locator("#strip .thumb")).to_have_count(len(timeline.laptop))
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        image = page.locator("#full").bounding_box()
        meta = page.locator(".meta").bounding_box()
        assert image is not None
        assert meta is not None
        assert image["x"] >= 0
        assert image["x"] + image["width"] <= PHONE["width"]
        assert meta["y"] >= image["y"] + image["height"]
        page.locator("#delete-one").scroll_into_view_if_needed()
        expect(page.locator("#delete-one")).to_be_in_viewport()
        expect(page.locator("#search")).to_be_in_viewport()
        strip = page.locator("#strip")
        assert strip.evaluate("el => el.scrollWidth > el.clientWidth")
        page.keyboard.press("ArrowLeft")
        expect(page.locator("#full")).to_have_attribute("data-id", timeline.laptop[-2].id)
        assert opened.csp_violations() == []
    finally:
        opened.context.close()


def test_search_highlights_the_words_on_the_image(
    laptop_page: BrowserPage, timeline: Timeline
) -> None:
    """Searching a word lists the hits with the word marked; opening one shows the capture
    with highlight boxes over the place where the word is drawn."""
    server = timeline.server
    headers = {"Authorization": f"Bearer {timeline.laptop_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for _ in range(600):  # OCR runs in the background; wait for the index to hold the word
            hits = client.get("/api/v1/search", params={"q": "quarterly"}).json()["items"]
            if len(hits) >= len(timeline.laptop):
                break
            page_wait(laptop_page.page)
        else:
            pytest.fail("the laptop's captures were never indexed: " + json.dumps(hits)[:500])
    page = laptop_page.page
    page.keyboard.press("/")
    page.keyboard.type("quarterly")
    page.keyboard.press("Enter")
    expect(page.locator("#hits .hit")).to_have_count(len(timeline.laptop))
    expect(page.locator("#hits mark").first).to_have_text("quarterly", ignore_case=True)
    page.locator("#hits .hit").first.click()
    expect(page.locator("#marks .box").first).to_be_visible()
    shown = _shown_id(page)
    capture = next(c for c in timeline.laptop if c.id == shown)
    screen_word = render_screen("x", ["quarterly budget"]).words  # same layout, second line
    x, _y, w, _h = screen_word["quarterly"]
    image = page.locator("#full").bounding_box()
    box = page.locator("#marks .box").first.bounding_box()
    assert image is not None
    assert box is not None
    scale = image["width"] / capture.meta["width"]
    # The box lies where the word was drawn (its left edge and width, within a few pixels).
    assert abs((box["x"] - image["x"]) / scale - x) < 12
    assert abs(box["width"] / scale - w) < 24


def page_wait(page: Page) -> None:
    page.wait_for_timeout(200)
