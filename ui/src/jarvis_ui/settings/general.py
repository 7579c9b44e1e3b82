"""The General tab: schedule, image format and quality, monitors, active hours, idle, autostart."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QLineEdit, QWidget

from jarvis_agent.capture.gates import DAY_NAMES, ActiveHours
from jarvis_agent.config import AgentConfig
from jarvis_ui.settings.page import SettingsPage

AUTOSTART_KEY = "autostart"  # not a config key: the platform's login items hold it


def parse_monitors(text: str) -> list[int] | None:
    """'all' or '' -> None (every monitor); '0, 2' -> [0, 2]; ValueError with a reason otherwise."""
    cleaned = text.strip().lower()
    if cleaned in ("", "all"):
        return None
    try:
        numbers = [int(part) for part in cleaned.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"{text!r} is not a list of monitor numbers: write 'all' or numbers such as 0, 1"
        ) from None
    if not numbers:
        raise ValueError("write 'all' or monitor numbers such as 0, 1")
    return numbers


def hours_text(value: ActiveHours | None) -> str:
    """Active hours as shown in the field: `09:00-18:00`, plus ` on Mon,Tue` unless every day."""
    if value is None:
        return ""
    text = f"{value.start:%H:%M}-{value.end:%H:%M}"
    if value.days != frozenset(range(7)):
        text += " on " + ",".join(DAY_NAMES[d] for d in sorted(value.days))
    return text


def parse_hours(text: str) -> dict[str, Any] | None:
    """The field's text as the config's active_hours table; ValueError saying what is wrong."""
    cleaned = text.strip()
    if not cleaned or cleaned.lower() == "always":
        return None
    span, _, day_text = cleaned.partition(" on ")
    start, sep, end = span.strip().partition("-")
    if not sep or not start.strip() or not end.strip():
        raise ValueError(f"{text!r} is not a span of hours: write it like 09:00-18:00")
    hours: dict[str, Any] = {"start": start.strip(), "end": end.strip()}
    if day_text.strip():
        names = {name.lower(): index for index, name in enumerate(DAY_NAMES)}
        days = []
        for word in day_text.replace(" ", "").split(","):
            if word.lower()[:3] not in names:
                raise ValueError(
                    f"{word!r} is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
                )
            days.append(names[word.lower()[:3]])
        hours["days"] = sorted(set(days))
    return hours


class GeneralPage(SettingsPage):
    title = "General"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interval = self.number_row("capture.interval_seconds", "Capture every", suffix=" s")
        self.image_format = self.choice_row("capture.image_format", "Format", words=str.upper)
        self.quality = self.number_row("capture.quality", "Quality")
        self.monitors = QLineEdit(self)
        self.monitors.setPlaceholderText("all")
        self.add_row(
            "capture.monitors",
            "Monitors",
            self.monitors,
            "'all', or the numbers of the monitors to capture (0 is the first): 0, 1",
        )
        self.active_hours = QLineEdit(self)
        self.active_hours.setPlaceholderText("always")
        self.add_row(
            "privacy.active_hours",
            "Active hours",
            self.active_hours,
            "Capture only in these hours, e.g. 09:00-18:00 or 09:00-17:30 on Mon,Tue,Wed,Thu,Fri; "
            "empty means always.",
        )
        self.idle = self.number_row(
            "privacy.idle_threshold_seconds", "Pause when idle for", suffix=" s"
        )
        self.autostart = QCheckBox("Start Jarvis when I log in", self)
        self.add_row(AUTOSTART_KEY, "", self.autostart)
        for signal in (
            self.monitors.textEdited,
            self.active_hours.textEdited,
            self.autostart.toggled,
        ):
            signal.connect(self.changed)

    def load(self, config: AgentConfig) -> None:
        capture, privacy = config.capture, config.privacy
        self.set_number("capture.interval_seconds", capture.interval_seconds)
        self.set_choice("capture.image_format", capture.image_format)
        self.set_number("capture.quality", capture.quality)
        monitors = capture.monitors
        self.monitors.setText("all" if monitors is None else ", ".join(map(str, monitors)))
        self.active_hours.setText(hours_text(privacy.active_hours))
        self.set_number("privacy.idle_threshold_seconds", privacy.idle_threshold_seconds)

    def set_autostart(self, enabled: bool) -> None:
        """Show the platform's current start-at-login state (read off the GUI thread)."""
        blocked = self.autostart.blockSignals(True)
        self.autostart.setChecked(enabled)
        self.autostart.blockSignals(blocked)

    def collect(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        problems: dict[str, str] = {}
        capture: dict[str, Any] = {
            "interval_seconds": self.number("capture.interval_seconds"),
            "image_format": self.image_format.currentData(),
            "quality": self.number("capture.quality"),
        }
        try:
            capture["monitors"] = parse_monitors(self.monitors.text())
        except ValueError as exc:
            problems["capture.monitors"] = str(exc)
        privacy: dict[str, Any] = {
            "idle_threshold_seconds": self.number("privacy.idle_threshold_seconds"),
        }
        try:
            privacy["active_hours"] = parse_hours(self.active_hours.text())
        except ValueError as exc:
            problems["privacy.active_hours"] = str(exc)
        return {"capture": capture, "privacy": privacy}, problems
