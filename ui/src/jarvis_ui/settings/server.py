"""The Server tab: the URL, a token field that only writes to the keyring, Test connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from jarvis_agent.config import AgentConfig
from jarvis_agent.config_fields import field_spec
from jarvis_sync.credentials import check_token
from jarvis_sync.errors import CredentialsError
from jarvis_ui.connection import ConnectionResult
from jarvis_ui.settings.page import SettingsPage
from jarvis_ui.workers import Worker

TOKEN_KEY = "token"  # noqa: S105 - a field name; the keyring holds the token
NO_TOKEN = "No token stored yet: paste the device token here"  # noqa: S105 - placeholder text
HAS_TOKEN = "A token is stored in the keyring; paste a new one to replace it"  # noqa: S105 - placeholder text

# (url, token typed into the field or None for the stored one) -> result; runs on a worker.
ConnectionCheck = Callable[[str, str | None], ConnectionResult]


class ServerPage(SettingsPage):
    title = "Server"

    def __init__(
        self,
        worker: Worker,
        check: ConnectionCheck | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._worker = worker
        self._check = check
        self.url = QLineEdit(self)
        self.url.setPlaceholderText("https://jarvis.example.com")
        self.add_row(
            "server.url",
            "Server URL",
            self.url,
            field_spec("server.url").description
            + " Empty: captures are kept in the local encrypted outbox until a server is set.",
        )
        self.token = QLineEdit(self)
        # The stored token is never loaded into this field: it can only be replaced.
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(NO_TOKEN)
        self.add_row(TOKEN_KEY, "Device token", self.token)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection", self)
        self.test_button.clicked.connect(self.test_connection)
        self.test_button.setEnabled(check is not None)
        row.addWidget(self.test_button)
        row.addStretch(1)
        self.form.addRow("", row)
        self.result = QLabel(self)
        self.result.setWordWrap(True)
        self.result.setObjectName("connection-result")
        self.form.addRow("", self.result)
        self.url.textEdited.connect(self.changed)
        self.token.textEdited.connect(self.changed)
        # A result speaks of the address and token it was run with: once either changes it no
        # longer holds (a green "token valid" must not stay under a new address).
        self._checks = 0
        self.url.textChanged.connect(self.clear_result)
        self.token.textChanged.connect(self.clear_result)

    def clear_result(self) -> None:
        """Forget the last result, and any check still running for the old values."""
        self._checks += 1
        self.result.clear()
        self.result.setStyleSheet("")
        self.test_button.setEnabled(self._check is not None)

    def set_token_stored(self, stored: bool) -> None:
        self.token.setPlaceholderText(HAS_TOKEN if stored else NO_TOKEN)

    def typed_token(self) -> str | None:
        value = self.token.text().strip()
        return value or None

    def token_saved(self) -> None:
        """The typed token is in the keyring now: forget it here."""
        self.token.clear()
        self.set_token_stored(True)

    def test_connection(self) -> None:
        if self._check is None:
            return
        url = self.url.text().strip()
        if not url:
            self.result.setText("Enter the server URL first.")
            return
        check, token = self._check, self.typed_token()
        self._checks += 1
        this = self._checks
        self.test_button.setEnabled(False)
        self.result.setStyleSheet("")
        self.result.setText(f"Testing {url}…")
        self._worker.submit(
            lambda: check(url, token),
            lambda result: self._tested(result) if this == self._checks else None,
            lambda exc: self._test_failed(exc) if this == self._checks else None,
        )

    def _tested(self, result: object) -> None:
        self.test_button.setEnabled(True)
        assert isinstance(result, ConnectionResult)
        colour = "#2e7d32" if result.ok else "#c62828"
        self.result.setStyleSheet(f"color: {colour};")
        self.result.setText(result.message)

    def _test_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.result.setStyleSheet("color: #c62828;")
        self.result.setText(f"The check itself failed: {type(exc).__name__}: {exc}")

    def load(self, config: AgentConfig) -> None:
        self.url.setText(config.server.url or "")

    def collect(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        url = self.url.text().strip()
        problems = {}
        token = self.typed_token()
        if token is not None:
            try:
                check_token(token)
            except CredentialsError as exc:
                problems[TOKEN_KEY] = str(exc)
        return {"server": {"url": url or None}}, problems
