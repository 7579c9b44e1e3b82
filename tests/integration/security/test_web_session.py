"""The timeline page's session: what the cookie is, what it may do, and when it stops.

Attacks replayed: a cross-site page making the signed-in browser delete captures (CSRF, with and
without a forged token), a cross-site sign-in (login CSRF), a cookie replayed after sign-out or
after its token was revoked or replaced, a session of one device reading another's captures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie

import httpx
import pytest

from jarvis_contract import CAPTURES_PATH, DELETE_RANGE_PATH, ProblemType
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, upload
from tests.support.server import LiveServer, make_server

SESSION = "/api/v1/session"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: each test uses devices of its own."""
    server = make_server(tmp_path_factory.mktemp("web-session"))
    server.start()
    yield server
    server.stop()


def _origin(server: LiveServer) -> dict[str, str]:
    return {"Origin": server.url}


@contextmanager
def _sign_in(server: LiveServer, token: str) -> Iterator[tuple[httpx.Client, str]]:
    """A cookie-only client (no Authorization header) signed in with `token`; its CSRF token."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post(SESSION, json={"token": token}, headers=_origin(server))
        assert response.status_code == 200, response.text
        yield client, response.json()["csrf_token"]


def _set_cookie(response: httpx.Response) -> SimpleCookie:
    [header] = response.headers.get_list("set-cookie")
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie


def test_cookie_flags_and_no_token_in_it(live_server: LiveServer) -> None:
    """Signing in sets one cookie: HttpOnly, SameSite=Strict, Path=/, a bounded Max-Age, not
    the token; Secure when the request came over https (a TLS proxy on loopback says so)."""
    token = live_server.create_token("flags")
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        response = client.post(SESSION, json={"token": token}, headers=_origin(live_server))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        header = response.headers["set-cookie"]
        assert token not in header
        assert token not in response.text
        morsel = _set_cookie(response)["jarvis_session"]
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "strict"
        assert morsel["path"] == "/"
        assert 0 < int(morsel["max-age"]) <= 24 * 3600
        assert not morsel["secure"]
        over_tls = client.post(
            SESSION,
            json={"token": token},
            headers={**_origin(live_server), "X-Forwarded-Proto": "https"},
        )
        assert _set_cookie(over_tls)["jarvis_session"]["secure"] is True


def test_sign_in_from_another_site_is_refused(live_server: LiveServer) -> None:
    """A sign-in without an Origin, or from another origin, is 403 and sets no cookie."""
    token = live_server.create_token("login-csrf")
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
            response = client.post(SESSION, json={"token": token}, headers=headers)
            assert_problem(response, 403, ProblemType.FORBIDDEN)
            assert "set-cookie" not in response.headers
        wrong = client.post(SESSION, json={"token": "jv_wrong"}, headers=_origin(live_server))
        assert_problem(wrong, 401, ProblemType.UNAUTHORIZED)


def test_a_change_without_the_csrf_token_or_from_another_origin_is_refused(
    live_server: LiveServer,
) -> None:
    """With the session cookie, a delete lacking the X-CSRF-Token header, with a wrong one, or
    with another site's Origin is 403 and the capture stays; with both it goes."""
    token = live_server.create_token("csrf")
    capture = make_capture()
    with live_server.client(token) as bearer:
        assert upload(bearer, capture).status_code == 201
    with _sign_in(live_server, token) as (client, csrf):
        path = f"{CAPTURES_PATH}/{capture.id}"
        attempts = [
            _origin(live_server),
            {**_origin(live_server), "X-CSRF-Token": "0" * 64},
            {"Origin": "http://evil.example", "X-CSRF-Token": csrf},
            {"X-CSRF-Token": csrf},
        ]
        for headers in attempts:
            assert_problem(client.delete(path, headers=headers), 403, ProblemType.FORBIDDEN)
        ranged = client.post(
            DELETE_RANGE_PATH,
            json={"since": "1970-01-01T00:00:00Z", "until": "9999-01-01T00:00:00Z"},
            headers=_origin(live_server),
        )
        assert_problem(ranged, 403, ProblemType.FORBIDDEN)
        assert client.get(path).status_code == 200
        done = client.delete(path, headers={**_origin(live_server), "X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        assert client.get(path).status_code == 404


def test_session_reads_only_its_own_device(live_server: LiveServer) -> None:
    """A device's session lists only its own captures and cannot read another's by id; an
    admin's session lists both."""
    mine, theirs = live_server.create_token("own-a"), live_server.create_token("own-b")
    a, b = make_capture(), make_capture()
    with live_server.client(mine) as client:
        assert upload(client, a).status_code == 201
    with live_server.client(theirs) as client:
        assert upload(client, b).status_code == 201
    with _sign_in(live_server, mine) as (client, _csrf):
        listed = [item["id"] for item in client.get(CAPTURES_PATH).json()["items"]]
        assert listed == [a.id]
        assert_problem(client.get(f"{CAPTURES_PATH}/{b.id}"), 404, ProblemType.NOT_FOUND)
        assert client.get("/api/v1/devices").json() == {"devices": ["own-a"]}
    with _sign_in(live_server, live_server.admin_token()) as (admin, _csrf):
        listed = [item["id"] for item in admin.get(CAPTURES_PATH).json()["items"]]
        assert {a.id, b.id} <= set(listed)


def test_session_ends_on_sign_out_revocation_and_replacement(live_server: LiveServer) -> None:
    """A session stops working after sign-out (even if the old cookie is replayed), when its
    device is revoked, and when its token is replaced by a new one."""
    token = live_server.create_token("ends")
    with _sign_in(live_server, token) as (client, csrf):
        cookie = client.cookies["jarvis_session"]
        out = client.delete(SESSION, headers={**_origin(live_server), "X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert not client.cookies.get("jarvis_session")
    with httpx.Client(
        base_url=live_server.url, cookies={"jarvis_session": cookie}, timeout=30
    ) as replay:
        assert_problem(replay.get(CAPTURES_PATH), 401, ProblemType.UNAUTHORIZED)

    with _sign_in(live_server, token) as (client, _csrf):
        assert client.get(CAPTURES_PATH).status_code == 200
        live_server.create_token("ends")  # the device gets a new token: the old one stops
        assert_problem(client.get(CAPTURES_PATH), 401, ProblemType.UNAUTHORIZED)

    token = live_server.create_token("ends-revoked")
    with _sign_in(live_server, token) as (client, _csrf):
        live_server.revoke("ends-revoked")
        assert_problem(client.get(SESSION), 401, ProblemType.UNAUTHORIZED)
        assert_problem(client.get(CAPTURES_PATH), 401, ProblemType.UNAUTHORIZED)


def test_page_is_served_with_a_strict_policy(live_server: LiveServer) -> None:
    """The page and its assets come from the server with a CSP allowing only 'self' (no inline
    script, no framing), nosniff, no referrer; nothing in the page points elsewhere."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "http://" not in page.text
        assert "https://" not in page.text
        assert "<script>" not in page.text
        script = client.get("/static/timeline.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "localStorage" not in script.text
        assert_problem(client.get("/static/..%2Fapp.py"), 404, ProblemType.NOT_FOUND)
