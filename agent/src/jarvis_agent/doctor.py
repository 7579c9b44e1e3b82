"""`jarvis doctor`: one line per thing the agent needs, OK or FAIL with what to do.

Checks the config, the display server, a real test grab, the keyring (backend and a round trip on a
throwaway entry), the server (its health check, with latency) and the token, the disk space for the
outbox, and whether an agent is running. Nothing here prints a secret.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jarvis_agent.config import AgentConfig, ConfigError, ConfigStore
from jarvis_agent.paths import AgentPaths
from jarvis_sync.sizes import format_size

__all__ = [
    "Check",
    "check_agent",
    "check_capture",
    "check_config",
    "check_disk",
    "check_display",
    "check_keyring",
    "check_server",
    "run_checks",
]

_PROBE_ENTRY = "doctor-probe"


@dataclass(frozen=True, slots=True)
class Check:
    """One check: its name, whether it passed, what was found, and what to do when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # informative: does not make `doctor` fail

    def line(self) -> str:
        mark = "OK  " if self.ok else ("WARN" if self.warning else "FAIL")
        text = f"{mark} {self.name}: {self.detail}"
        if not self.ok and self.fix:
            text += f"\n     -> {self.fix}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "warning": self.warning,
            "detail": self.detail,
            "fix": self.fix,
        }


CHECK_SECONDS = 60.0  # a keyring may prompt for its password: time to type it, then give up


def _guard(name: str, check: Callable[[], Check], seconds: float = CHECK_SECONDS) -> Check:
    """Run one check; a crash or a service that never answers fails it, never the doctor."""
    import threading

    result: list[Check] = []

    def run() -> None:
        try:
            result.append(check())
        except Exception as exc:  # a check that crashes is a failed check, not a crashed doctor
            result.append(Check(name, False, f"{type(exc).__name__}: {exc}", "see the agent's log"))

    # A daemon thread: a call that never returns (a D-Bus service or compositor that stopped
    # answering) is left behind when the doctor exits instead of holding it open forever.
    worker = threading.Thread(target=run, name=f"doctor-{name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if result:
        return result[0]
    return Check(
        name,
        False,
        f"no answer within {seconds:.0f} s",
        "the service behind it is stuck: restart your desktop session, then run `jarvis "
        "doctor` again",
    )


def check_config(store: ConfigStore) -> tuple[Check, AgentConfig | None]:
    try:
        config = store.load()
    except ConfigError as exc:
        return Check("config", False, str(exc), "fix it with `jarvis config edit`"), None
    where = str(store.path) if store.path.exists() else f"{store.path} (not created: defaults)"
    return Check("config", True, where), config


def check_display() -> Check:
    """The backend in use and why, with every backend's verdict (the ones not chosen too)."""
    from jarvis_platform import choose

    choice = choose()
    verdicts = "; ".join(v.line() for v in choice.verdicts)
    if not choice.viable:
        return Check(
            "display server",
            False,
            f"no backend fits this session. Verdicts: {verdicts}",
            choice.verdicts[-1].reason,
        )
    return Check(
        "display server", True, f"{choice.backend.name} backend in use. Verdicts: {verdicts}"
    )


def check_capture() -> Check:
    from jarvis_platform import FrameProvider, get_platform
    from jarvis_platform.grab import Grabber

    started = time.perf_counter()
    platform = get_platform()
    try:
        frames = platform.frame_source() if isinstance(platform, FrameProvider) else Grabber()
        try:
            monitors = frames.monitors()
            if not monitors:
                return Check("screen capture", False, "no monitor found", "check the display")
            frame = frames.grab(monitors[0])
            width, height, drawn = frame.width, frame.height, bool(frame.pixels[..., :3].any())
            frame.wipe()
        finally:
            frames.close()
    finally:
        platform.close()
    elapsed = (time.perf_counter() - started) * 1000
    detail = f"grabbed {width}x{height} from monitor 0 of {len(monitors)} in {elapsed:.0f} ms"
    if not drawn:
        return Check(
            "screen capture",
            False,
            detail + ", but every pixel is black",
            "allow screen recording for Jarvis (macOS: System Settings > Privacy & Security > "
            "Screen Recording), or check that the screen is not off",
        )
    return Check("screen capture", True, detail)


def check_keyring() -> Check:
    import os

    import keyring

    from jarvis_sync.credentials import SECRETS_FILE_ENV, SERVICE

    secrets_file = os.environ.get(SECRETS_FILE_ENV, "").strip()
    if secrets_file:
        return Check(
            "keyring",
            True,
            f"not used: secrets are in the plaintext file {secrets_file} (opted in with "
            f"{SECRETS_FILE_ENV}; readable by you only)",
        )

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    value = secrets.token_hex(8)
    try:
        keyring.set_password(SERVICE, _PROBE_ENTRY, value)
        read = keyring.get_password(SERVICE, _PROBE_ENTRY)
        keyring.delete_password(SERVICE, _PROBE_ENTRY)
    except Exception as exc:
        return Check(
            "keyring",
            False,
            f"{name}: a test entry could not be stored ({type(exc).__name__})",
            "start and unlock your desktop's keyring (GNOME Keyring, KWallet), or set "
            "JARVIS_SECRETS_FILE on a machine without one",
        )
    if read != value:
        return Check(
            "keyring", False, f"{name}: a test entry did not read back", "check the keyring"
        )
    return Check("keyring", True, f"{name}: a test entry was stored, read back and deleted")


def check_server(config: AgentConfig) -> list[Check]:
    url = config.server.url
    if url is None:
        return [
            Check(
                "server",
                False,
                "no server configured",
                "run `jarvis up` to start a server on this computer and log in to it, or "
                "`jarvis login --server https://your-server` to use one running elsewhere",
            )
        ]
    from jarvis_sync import ServerClient, ServerUnreachableError, UntrustedServerError

    warning = _transport_warning(url)
    first = [] if warning is None else [warning]
    try:
        with ServerClient(
            url,
            timeout=config.server.connect_timeout_seconds,
            allow_insecure_http=config.server.allow_insecure_http,
        ) as server:
            health = server.health()
    except UntrustedServerError as exc:  # another user's listener: it was asked nothing
        return [
            *first,
            Check(
                "server owner",
                False,
                str(exc),
                "stop that program, or run `jarvis up --port N` and let it set server.url",
            ),
        ]
    except ServerUnreachableError as exc:
        return [
            *first,
            Check(
                "server",
                False,
                f"{url} is not reachable: {exc.reason}",
                "check the address (`jarvis config set server.url ...`) and your network",
            ),
        ]
    said = f"{health.url} answered {health.status} in {health.latency_ms:.0f} ms"
    checks = [
        *first,
        Check("server", True, said)
        if health.ok
        else Check("server", False, said, "the server is up but unhealthy; see its log"),
    ]
    try:
        from jarvis_sync.credentials import load_token

        token = load_token()
    except Exception as exc:
        checks.append(
            Check("token", False, f"cannot read the keyring ({type(exc).__name__})", "see above")
        )
    else:
        checks.append(
            Check("token", True, "a device token is stored in the keyring")
            if token
            else Check("token", False, "no device token", "run `jarvis login --server URL`")
        )
    return checks


def _transport_warning(url: str) -> Check | None:
    from jarvis_sync.trust import INSECURE_HTTP_OPTION, insecure_remote

    if not insecure_remote(url):
        return None
    return Check(
        "transport",
        False,
        f"plain http to {url}: the device token and every capture cross the network "
        f"unencrypted ({INSECURE_HTTP_OPTION} = true)",
        "use an https:// address (`jarvis login --server https://...`), then "
        f"`jarvis config unset {INSECURE_HTTP_OPTION}`",
        warning=True,
    )


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_disk(paths: AgentPaths, config: AgentConfig) -> Check:
    where = _existing(paths.outbox_dir)
    usage = shutil.disk_usage(where)
    free, cap = format_size(usage.free), format_size(config.outbox.max_bytes)
    detail = f"{free} free at {where}; the outbox may use up to {cap}"
    if usage.free < config.outbox.max_bytes:
        return Check(
            "disk space",
            False,
            detail,
            "free some space or lower the cap: `jarvis config set outbox.max_bytes 500MiB` "
            "(the oldest queued captures are evicted, and counted, when the disk fills)",
            warning=True,
        )
    return Check("disk space", True, detail)


def check_agent(paths: AgentPaths) -> Check:
    from jarvis_agent.control import AgentNotRunningError, ControlClient, socket_path
    from jarvis_agent.runtime.state import status_from_json

    try:
        reply = ControlClient(socket_path(paths), timeout=5).request("status")
    except AgentNotRunningError:
        return Check(
            "agent",
            False,
            "not running",
            "start it with `jarvis run --headless` or the tray app",
            warning=True,
        )
    status = status_from_json(reply.status) if reply.status else None
    if status is None:
        return Check("agent", False, reply.message or "no status", "see the agent's log")
    return Check("agent", True, f"running (pid {status.pid}), {status.state.value}")


def run_checks(paths: AgentPaths) -> list[Check]:
    """Every check, in the order a user would fix things."""
    config_check, config = check_config(ConfigStore(paths.config_file))
    checks = [config_check, _guard("display server", check_display)]
    if checks[-1].ok:
        checks.append(_guard("screen capture", check_capture))
    checks.append(_guard("keyring", check_keyring))
    if config is not None:
        try:
            checks.extend(check_server(config))
        except Exception as exc:
            checks.append(Check("server", False, f"{type(exc).__name__}: {exc}"))
        checks.append(_guard("disk space", lambda: check_disk(paths, config)))
    checks.append(_guard("agent", lambda: check_agent(paths)))
    return checks
