"""The settings dialog: four tabs over the same config file the CLI uses, OK/Apply/Cancel.

Apply validates every tab (messages appear beside the fields; nothing is written while any is
wrong), then writes the file, the token and the login item on a worker thread, and hands the new
config to the running agent, which applies it without a restart. OK is Apply, then close. Cancel
closes without writing what was changed since the last Apply.

The dialog may stay open for minutes while `jarvis exclusions add` or `jarvis config set` write
the same file. Apply therefore writes only what the user changed here (`ConfigPatch.between` the
config the dialog loaded and the one its tabs describe), applied to the file as it is then: a rule
or value written elsewhere meanwhile stays, and the tabs show it after the Apply. Merging rather
than asking is what users expect of two independent edits; both are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from jarvis_agent.config import AgentConfig, ConfigError, ConfigPatch
from jarvis_sync.errors import CredentialsError
from jarvis_ui.settings.backend import SettingsBackend
from jarvis_ui.settings.general import GeneralPage
from jarvis_ui.settings.hotkey import HotkeyPage
from jarvis_ui.settings.page import SettingsPage
from jarvis_ui.settings.privacy import PrivacyPage
from jarvis_ui.settings.server import TOKEN_KEY, ServerPage
from jarvis_ui.workers import Worker


def _error_key(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p)]
    return ".".join(parts[:2]) if len(parts) >= 2 else ".".join(parts)


class SettingsDialog(QDialog):
    """The dialog; `applied` carries each config that was written and handed to the agent."""

    applied = Signal(object)

    def __init__(self, backend: SettingsBackend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The title bar appends the application's display name: "Settings — Jarvis".
        self.setWindowTitle("Settings")
        self.backend = backend
        self.worker = Worker(self)
        self._busy = False
        self._close_after_apply = False
        self._autostart: bool | None = None

        self.general = GeneralPage(self)
        self.privacy = PrivacyPage(backend.list_windows, self)
        self.server = ServerPage(self.worker, backend.check_connection, self)
        self.hotkey = HotkeyPage(self)
        self.pages: list[SettingsPage] = [self.general, self.privacy, self.server, self.hotkey]
        self.tabs = QTabWidget(self)
        for page in self.pages:
            self.tabs.addTab(page, page.title)
            page.changed.connect(self._changed)

        self.status = QLabel(self)
        self.status.setObjectName("settings-status")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        self.buttons.accepted.connect(self.ok)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(980, 620)  # the Privacy table shows each rule whole
        self.reload()

    @property
    def apply_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Apply)

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    @property
    def busy(self) -> bool:
        """True while a write runs on the worker thread."""
        return self._busy

    def show_page(self, page: SettingsPage) -> None:
        self.tabs.setCurrentWidget(page)

    # loading

    def reload(self) -> None:
        """Fill every tab from the config file (errors in the file are shown, not raised)."""
        try:
            self.config = self.backend.store.load()
        except ConfigError as exc:
            self.config = AgentConfig()
            self.status.setText(f"The config file has problems; showing defaults. {exc}")
        for page in self.pages:
            page.load(self.config)
            page.clear_errors()
        self.apply_button.setEnabled(False)
        token_stored, autostart = self.backend.token_stored, self.backend.autostart_enabled
        status, spec = self.backend.hotkey_status, self.config.ui.pause_hotkey
        hotkey_status = None if status is None else (lambda: status(spec))
        # Until the platform's login item is read, the box shows nothing true: it stays off, and
        # an apply meanwhile leaves the login item alone.
        self.general.autostart.setEnabled(False)

        # Three jobs, not one: a keyring that waits for its password prompt must not hold back
        # the hotkey line or the login-item box.
        self.worker.submit(lambda: _quietly(hotkey_status), self._hotkey_read)
        self.worker.submit(lambda: _quietly(autostart), self._autostart_read)
        self.worker.submit(lambda: _quietly(token_stored), self._token_read)

    def _hotkey_read(self, hotkey: object) -> None:
        if hotkey is not None:
            self.hotkey.set_mechanism(str(hotkey))

    def _autostart_read(self, autostart: object) -> None:
        if autostart is not None:
            self._autostart = bool(autostart)
            self.general.set_autostart(bool(autostart))
        self.general.autostart.setEnabled(self.backend.set_autostart is not None)

    def _token_read(self, stored: object) -> None:
        if stored is not None:
            self.server.set_token_stored(bool(stored))

    # validating

    def _changed(self) -> None:
        if not self._busy:
            self.apply_button.setEnabled(True)
            self.status.setText("")

    def validate(self) -> AgentConfig | None:
        """The config the tabs describe, or None after showing each problem beside its field."""
        data = self.config.model_dump(mode="json")
        problems: dict[str, str] = {}
        for page in self.pages:
            page.clear_errors()
            updates, local = page.collect()
            problems.update(local)
            for section, values in updates.items():
                data[section].update(values)
        config: AgentConfig | None = None
        if not problems:
            try:
                config = AgentConfig.model_validate(data)
            except ValidationError as exc:
                for err in exc.errors():
                    key = _error_key(tuple(err["loc"]))
                    message = err["msg"].removeprefix("Value error, ")
                    problems[key] = f"{problems[key]}; {message}" if key in problems else message
        first: SettingsPage | None = None
        for key, message in problems.items():
            page = next((p for p in self.pages if p.owns(key)), self.general)
            page.show_error(key, message)
            first = first or page
        if first is not None:
            self.tabs.setCurrentWidget(first)
            self.status.setText("Nothing was saved: fix the fields marked in red.")
            return None
        return config

    # writing

    def apply(self) -> bool:
        """Validate, then write on a worker; False (and nothing written) if a field is wrong."""
        if self._busy:
            return False
        config = self.validate()
        if config is None:
            self._close_after_apply = False
            return False
        token = self.server.typed_token()
        autostart = self.general.autostart.isChecked()
        known = self.general.autostart.isEnabled()
        autostart_change = autostart if known and autostart != self._autostart else None
        backend = self.backend
        patch = ConfigPatch.between(self.config, config)

        def write() -> AgentConfig:
            written = backend.store.update(patch, where="Settings") if patch else None
            if token is not None and backend.store_token is not None:
                backend.store_token(token)
            if autostart_change is not None and backend.set_autostart is not None:
                backend.set_autostart(autostart_change)
            return written if written is not None else backend.store.load()

        self._set_busy(True)
        self.status.setText("Saving…")
        self.worker.submit(
            write,
            lambda written: self._written(written, token, autostart_change),
            self._write_failed,
        )
        return True

    def _written(self, config: AgentConfig, token: str | None, autostart: bool | None) -> None:
        self._set_busy(False)
        self.config = config
        for page in self.pages:  # show what the file holds now, others' changes included
            page.load(config)
        if token is not None:
            self.server.token_saved()
        if autostart is not None:
            self._autostart = autostart
        self.apply_button.setEnabled(False)
        if self.backend.apply_config is not None:
            self.backend.apply_config(config)
        self.applied.emit(config)
        self.status.setText("Saved; the agent uses the new settings now.")
        if self._close_after_apply:
            self._close_after_apply = False
            self.accept()

    def _write_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._close_after_apply = False
        message = f"Could not save: {exc}"
        if isinstance(exc, CredentialsError):
            self.server.show_error(TOKEN_KEY, f"The token was not stored: {exc}")
            self.tabs.setCurrentWidget(self.server)
        self.status.setText(message)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.ok_button.setEnabled(not busy)
        if busy:
            self.apply_button.setEnabled(False)

    def ok(self) -> None:
        """Apply, then close once written; stay open when something is wrong."""
        if not self.apply_button.isEnabled() and not self._busy:
            self.accept()
            return
        self._close_after_apply = True
        self.apply()


def _quietly(read: Any) -> Any:
    if read is None:
        return None
    try:
        return read()
    except Exception:  # the tab then simply shows no stored state; the write reports errors
        return None
