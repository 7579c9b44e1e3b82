"""From the agent's status to what the tray shows: the icon state, the tooltip, the menu header.

Pure functions of `AgentStatus` and the clock, so every wording is tested without a display.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from jarvis_agent.runtime.state import AgentState, AgentStatus
from jarvis_sync.trust import insecure_remote
from jarvis_ui.icons import TrayState

# Sync states (jarvis_sync's worker) that need the user: nothing leaves until they act.
# (jarvis_sync.worker.SyncState: idle, syncing, offline, auth_required, not_configured,
# untrusted)
ATTENTION_SYNC_STATES = frozenset({"auth_required", "untrusted"})
OFFLINE_SYNC_STATES = frozenset({"offline"})
SYNCING_SYNC_STATES = frozenset({"syncing"})
_IDLE_STATES = {
    AgentState.IDLE: "Idle",
    AgentState.LOCKED: "Screen locked",
    AgentState.OUTSIDE_HOURS: "Outside active hours",
    AgentState.STOPPED: "Stopped",
}


def tray_state(status: AgentStatus) -> TrayState:
    """The one icon that tells the most important thing about `status`."""
    sync_state = status.sync.state.lower()
    if (
        status.state is AgentState.ERROR
        or status.config_error
        or sync_state in ATTENTION_SYNC_STATES
    ):
        return TrayState.ATTENTION
    if status.state is AgentState.PAUSED:
        return TrayState.PAUSED
    if status.state in _IDLE_STATES:
        return TrayState.IDLE
    if sync_state in OFFLINE_SYNC_STATES:
        return TrayState.OFFLINE
    if sync_state in SYNCING_SYNC_STATES and status.sync.queued > 0:
        return TrayState.SYNCING
    return TrayState.CAPTURING


def ago(moment: datetime, now: datetime) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago'."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def _clock(moment: datetime, now: datetime) -> str:
    local = moment.astimezone()
    if local.date() == now.astimezone().date():
        return f"{local:%H:%M}"
    if local.date() == (now.astimezone() + timedelta(days=1)).date():
        return f"tomorrow {local:%H:%M}"
    return f"{local:%a %d %b %H:%M}"


def headline(status: AgentStatus, now: datetime) -> str:
    """One line: what the agent is doing now (the menu's first, greyed item)."""
    state = tray_state(status)
    if state is TrayState.ATTENTION:
        reason = status.config_error or status.sync.last_error or ", ".join(status.reasons)
        return f"Needs attention: {reason}" if reason else "Needs attention"
    if state is TrayState.PAUSED:
        if status.paused_until is not None:
            return f"Paused until {_clock(status.paused_until, now)}"
        return "Paused until you resume"
    if state is TrayState.IDLE:
        return _IDLE_STATES.get(status.state, "Idle")
    return state.label


def capture_line(status: AgentStatus, now: datetime) -> str:
    """One line on whether captures are being taken now, and why not (the recent-captures footer).

    While the agent captures, the last tick's reasons (a window blacked out) are notes, not a
    reason it stopped.
    """
    state = tray_state(status)
    reasons = "; ".join(status.reasons)
    capturing = status.state is AgentState.CAPTURING and state is not TrayState.ATTENTION
    if capturing:
        return f"Capturing now (last capture: {reasons})" if reasons else "Capturing now"
    words = headline(status, now)
    # A pause is said whole by the headline; other states gain their reason ("idle for 10 min").
    if reasons and state is not TrayState.PAUSED and reasons not in words:
        words += f" ({reasons})"
    return f"Not capturing now: {words}"


def transport_warning(status: AgentStatus) -> str | None:
    """A warning while captures go over plain http to another computer (the opt-in is on)."""
    url = status.sync.server_url
    if not insecure_remote(url):
        return None
    assert url is not None
    return f"Unencrypted: captures go to {urlsplit(url).netloc} over plain http"


def tooltip(status: AgentStatus, now: datetime) -> str:
    """The tray tooltip: the state, the queue and the last successful upload."""
    lines = [f"Jarvis — {headline(status, now)}"]
    warning = transport_warning(status)
    if warning is not None:
        lines.append(f"⚠ {warning}")
    queued = status.sync.queued
    lines.append(f"{queued} capture{'s' if queued != 1 else ''} queued")
    if status.sync.last_success_at is not None:
        lines.append(f"Last upload {ago(status.sync.last_success_at, now)}")
    elif status.sync.server_url is None:
        lines.append("No server set: captures stay in the local outbox")
    else:
        lines.append("Nothing uploaded yet")
    return "\n".join(lines)
