"""A stranger on a port: a tiny HTTP server that answers 200 to everything and records each request.

It plays the other local user (or the host on the network) of the trust review: whatever the
agent sends it is what the attacker would get. Run as a child process (optionally as another
uid), it prints one JSON line per request: method, path, whether an Authorization header came,
and the body's length. Header values are not recorded, so no token reaches the test's output.

Standard library only: the other uid runs it with the system interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SPARE_UID = 4242  # TESTBED.md: the spare uid the tests run other users' programs as


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": self.path.split("?")[0],
            "authorization": "Authorization" in self.headers,
            "body_bytes": len(body),
        }
        print(json.dumps(record), flush=True)
        reply = b'{"status": "ok", "items": [], "next_cursor": null}'
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


def _serve(host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), _Handler)
    print(json.dumps({"ready": True}), flush=True)
    server.serve_forever()


@dataclass
class Stranger:
    """The running stranger: its address and every request it received so far."""

    host: str
    port: int
    process: subprocess.Popen[str]
    requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def got_a_token(self) -> bool:
        return any(r["authorization"] for r in self.requests)

    @property
    def uploads(self) -> list[dict[str, object]]:
        return [r for r in self.requests if r["method"] == "POST"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_stranger(host: str, port: int, *, uid: int | None = None) -> Stranger:
    """Start the stranger on host:port (as `uid` when given); returns once it listens."""
    argv = [sys.executable if uid is None else "/usr/bin/python3", str(Path(__file__)), host]
    argv.append(str(port))
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd="/")
    stranger = Stranger(host, port, process)
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            data = json.loads(line)
            if data.get("ready"):
                ready.set()
            else:
                stranger.requests.append(data)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            stranger.stop()
            raise RuntimeError(f"the stranger on {host}:{port} did not start")
    return stranger


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
