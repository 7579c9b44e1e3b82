"""A real load balancer (Debian's HAProxy) in front of server replicas on loopback.

Each request is balanced on its own (`http-server-close`), round robin, so uploads from one
keep-alive client spread over every replica; a replica that stops answering is taken out by the
health check. HAProxy runs in the foreground (`-db`) with a config file of the test's own.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import free_port

_START_TIMEOUT = 60.0  # a bound for a broken start; HAProxy answers at once


@dataclass
class LoadBalancer:
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def start_load_balancer(workdir: Path, backends: list[int]) -> LoadBalancer:
    """HAProxy on a free port, round robin over the servers on these loopback ports."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.fail("haproxy is not installed; run `bash scripts/bootstrap.sh`", pytrace=False)
    lb = LoadBalancer(port=free_port())
    servers = "\n".join(
        f"    server r{i} 127.0.0.1:{port} check inter 300ms fall 1 rise 1"
        for i, port in enumerate(backends)
    )
    config = workdir / "haproxy.cfg"
    config.write_text(
        f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    option http-server-close
frontend jarvis
    bind 127.0.0.1:{lb.port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /health
{servers}
"""
    )
    log = (workdir / "haproxy.log").open("ab")
    lb.process = subprocess.Popen(
        [binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if lb.process.poll() is not None:
            raise RuntimeError(f"haproxy exited with {lb.process.returncode}")
        try:
            if httpx.get(f"{lb.url}/health", timeout=2).status_code == 200:
                return lb
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    lb.stop()
    raise RuntimeError("haproxy did not answer")
