"""The timeline page works through the repository's nginx config (packaging/server/
nginx.scale.conf, the scaled-out compose's load balancer), run by Debian's nginx in front of a
real server: a browser's sign-in, whose Origin names nginx's address, is accepted; and where a
proxy hands requests on under another Host, the refusal says what to fix instead of "reload"."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jarvis_contract import API_PREFIX
from tests.support.postgres import free_port
from tests.support.server import LiveServer

CONFIG = Path(__file__).resolve().parents[3] / "packaging" / "server" / "nginx.scale.conf"
SESSION = f"{API_PREFIX}/session"


def _nginx(workdir: Path, backend: int, *, config: str) -> Iterator[str]:
    """nginx on a free loopback port with `config` (a server block) aimed at `backend`."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed; run `bash scripts/bootstrap.sh`", pytrace=False)
    port = free_port()
    # As compose runs it, but on loopback: the replicas' name is the test's server, and Docker's
    # resolver is not needed for an address.
    block = (
        config.replace("resolver 127.0.0.11 valid=10s ipv6=off;", "")
        .replace("http://server:8765", f"http://127.0.0.1:{backend}")
        .replace("listen 8765;", f"listen 127.0.0.1:{port};")
    )
    assert f"127.0.0.1:{port}" in block
    assert f"127.0.0.1:{backend}" in block
    (workdir / "server.conf").write_text(block, encoding="utf-8")
    temp = workdir / "temp"
    temp.mkdir()
    (workdir / "nginx.conf").write_text(
        f"""daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {workdir}/server.conf;
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"nginx did not start: {err.decode(errors='replace')}", pytrace=False)
            assert time.monotonic() < deadline, "nginx did not answer /health"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def nginx(tmp_path: Path, live_server: LiveServer) -> Iterator[str]:
    """The repository's nginx config in front of the live server; nginx's URL."""
    yield from _nginx(tmp_path, live_server.port, config=CONFIG.read_text(encoding="utf-8"))


def test_the_timeline_signs_in_through_the_repositorys_nginx(
    nginx: str, live_server: LiveServer
) -> None:
    """Signed in through nginx with the Origin of nginx's address (as the browser sends it):
    200 and a session that the next request through nginx is known by. (With nginx's default
    Host, the replicas' name "server:8765", it was 403 on every try.)"""
    token = live_server.create_token("laptop")
    with httpx.Client(base_url=nginx, timeout=30) as client:
        response = client.post(SESSION, json={"token": token}, headers={"Origin": nginx})
        assert response.status_code == 200, response.text
        assert response.json()["device"] == "laptop"
        assert client.get(SESSION).json()["device"] == "laptop"


def test_a_proxy_that_changes_the_host_gets_a_refusal_naming_the_fix(
    tmp_path: Path, live_server: LiveServer
) -> None:
    """The same config without its Host line (nginx then sends the upstream's own name): the
    sign-in is refused, and the message names the Host header and how to pass it on, not a
    reload; another site's Origin straight to the server is refused as before."""
    config = "\n".join(
        line
        for line in CONFIG.read_text(encoding="utf-8").splitlines()
        if "proxy_set_header Host" not in line
    )
    token = live_server.create_token("laptop")
    for url in _nginx(tmp_path, live_server.port, config=config):
        response = httpx.post(f"{url}{SESSION}", json={"token": token}, headers={"Origin": url})
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "Host header" in detail
        assert "proxy_set_header Host $http_host" in detail
        assert "reload" not in detail
    other = httpx.post(
        f"{live_server.url}{SESSION}",
        json={"token": token},
        headers={"Origin": "http://evil.example"},
    )
    assert other.status_code == 403
    assert "set-cookie" not in other.headers
