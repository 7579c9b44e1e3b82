"""The Server tab against a real keyring (Secret Service) and a real server over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from jarvis_agent.config import ConfigStore
from jarvis_sync import credentials
from jarvis_ui.settings import SettingsDialog, default_backend
from jarvis_ui.settings.server import HAS_TOKEN, NO_TOKEN
from tests.support.keyring import SecretService
from tests.support.server import LiveServer

pytestmark = pytest.mark.keyring

STORED = "stored-token-0123456789abcdef"


@pytest.fixture
def keyring_token(secret_service: SecretService) -> None:
    """A device token stored in the real keyring, removed afterwards."""
    credentials.store_token(STORED)
    yield
    credentials.delete_token()


@pytest.fixture
def dialog(qtbot: QtBot, jarvis_home: Path) -> SettingsDialog:
    widget = SettingsDialog(default_backend(ConfigStore()))
    qtbot.addWidget(widget)
    widget.show()
    widget.show_page(widget.server)
    return widget


def _visible_texts(dialog: SettingsDialog) -> list[str]:
    texts = [w.text() for w in dialog.findChildren(QLineEdit)]
    texts += [w.placeholderText() for w in dialog.findChildren(QLineEdit)]
    texts += [w.text() for w in dialog.findChildren(QLabel)]
    return texts


def test_stored_token_is_never_shown(
    qtbot: QtBot, keyring_token: None, dialog: SettingsDialog
) -> None:
    """With a token in the keyring the field stays empty and only says that one is stored."""
    qtbot.waitUntil(lambda: dialog.server.token.placeholderText() == HAS_TOKEN)
    assert dialog.server.token.text() == ""
    assert dialog.server.token.echoMode() == QLineEdit.EchoMode.Password
    assert not any(STORED in text for text in _visible_texts(dialog))


def test_typed_token_goes_to_the_keyring_and_leaves_the_field(
    qtbot: QtBot, secret_service: SecretService, dialog: SettingsDialog
) -> None:
    """A pasted token is written to the keyring on Apply, then the field is cleared."""
    credentials.delete_token()
    qtbot.waitUntil(lambda: dialog.server.token.placeholderText() == NO_TOKEN)
    dialog.server.token.setText("  fresh-token-abc  ")
    dialog.server.token.textEdited.emit("  fresh-token-abc  ")
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.busy)
    try:
        assert credentials.load_token() == "fresh-token-abc"
        assert dialog.server.token.text() == ""
        assert dialog.server.token.placeholderText() == HAS_TOKEN
        # Only the token changed: the config file is not written at all.
        assert "fresh-token-abc" not in ConfigStore().read_text()
    finally:
        credentials.delete_token()


def test_malformed_token_is_refused_beside_the_field(
    qtbot: QtBot, keyring_token: None, dialog: SettingsDialog
) -> None:
    """A token with spaces inside is named as wrong; the stored token is kept."""
    dialog.server.token.setText("two words")
    dialog.server.token.textEdited.emit("two words")
    assert dialog.apply() is False
    assert "spaces" in dialog.server.error_text("token")
    assert credentials.load_token() == STORED


def test_connection_check_reports_reachable_and_token_valid(
    qtbot: QtBot, secret_service: SecretService, live_server: LiveServer, dialog: SettingsDialog
) -> None:
    """Test connection with a real token: reachable, latency shown, token valid."""
    token = live_server.create_token("dialog-test")
    dialog.server.url.setText(live_server.url)
    dialog.server.token.setText(token)
    dialog.server.test_button.click()
    qtbot.waitUntil(lambda: dialog.server.test_button.isEnabled())
    text = dialog.server.result.text()
    assert "reachable" in text
    assert " ms" in text
    assert "token valid" in text
    assert token not in text


def test_connection_check_reports_a_revoked_token(
    qtbot: QtBot, keyring_token: None, live_server: LiveServer, dialog: SettingsDialog
) -> None:
    """With the stored (unknown to this server) token, the check says the token was refused."""
    dialog.server.url.setText(live_server.url)
    dialog.server.test_button.click()
    qtbot.waitUntil(lambda: dialog.server.test_button.isEnabled())
    assert "token was refused" in dialog.server.result.text()
    assert STORED not in dialog.server.result.text()


def test_connection_check_reports_an_unreachable_server(
    qtbot: QtBot, secret_service: SecretService, dialog: SettingsDialog
) -> None:
    """Nothing listening: the check says the server cannot be reached and what to check."""
    dialog.server.url.setText("http://127.0.0.1:9")
    dialog.server.test_button.click()
    qtbot.waitUntil(lambda: dialog.server.test_button.isEnabled())
    assert "Cannot reach http://127.0.0.1:9" in dialog.server.result.text()


def test_a_result_is_cleared_when_the_address_or_token_changes(
    qtbot: QtBot, secret_service: SecretService, live_server: LiveServer, dialog: SettingsDialog
) -> None:
    """A green "token valid" disappears the moment the address or the token is edited, and a
    check still running for the old address never writes its answer under the new one."""
    token = live_server.create_token("dialog-clear")
    server = dialog.server
    server.url.setText(live_server.url)
    server.token.setText(token)
    server.test_button.click()
    qtbot.waitUntil(lambda: server.test_button.isEnabled())
    assert "token valid" in server.result.text()
    qtbot.keyClicks(server.url, "x")
    assert server.result.text() == ""
    server.url.setText(live_server.url)
    server.test_button.click()
    qtbot.waitUntil(lambda: server.test_button.isEnabled())
    assert "token valid" in server.result.text()
    qtbot.keyClicks(server.token, "x")
    assert server.result.text() == ""
    # A check under way for one address, then the address changes: its answer is dropped.
    server.token.setText(token)
    server.url.setText("http://127.0.0.1:9")
    server.test_button.click()
    server.url.setText(live_server.url)
    assert server.result.text() == ""
    dialog.worker.wait()  # the dropped check has finished and posted its answer
    # A new check's answer comes after the old one's in the GUI thread's queue.
    server.test_button.click()
    qtbot.waitUntil(lambda: "token valid" in server.result.text())
    assert "Cannot reach" not in server.result.text()
