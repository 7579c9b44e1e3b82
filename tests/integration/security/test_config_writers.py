"""Trust review items 5 and 6: every config writer keeps what the others wrote, and every option
means in the Settings dialog, on the command line and at run time what its one declaration says.

The dialog is the real one on Qt's offscreen platform; the CLI is the real `jarvis` program; the
sync tests run the real agent service against a real server behind the fault proxy.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox
from pytestqt.qtbot import QtBot

from jarvis_agent.capture.rules import default_rules
from jarvis_agent.cli import _register, cli
from jarvis_agent.config import AgentConfig, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.service import AgentService
from jarvis_agent.runtime.state import AgentStatus
from jarvis_sync import credentials
from jarvis_ui.settings import SettingsBackend, SettingsDialog
from jarvis_ui.settings.privacy import NAME
from tests.support.desktop import Desktop
from tests.support.faultproxy import Delay, FaultProxy
from tests.support.keyring import SecretService
from tests.support.server import LiveServer, ServerFactory

JARVIS = str(Path(sys.executable).with_name("jarvis"))
# _OLD_CODE: the field walks import the option specs inside the test, so that the other tests of
# this module still run (and fail for what they check) against the code before the fix.
HANG_GUARD = 90.0  # a bound for a broken test, not a performance expectation


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    """pytest-qt builds its one QApplication on the offscreen platform."""
    return ["jarvis-security-tests", "-platform", "offscreen"]


def jarvis(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `jarvis` command line, in the test's JARVIS_HOME; fails the test if it fails."""
    done = subprocess.run([JARVIS, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"jarvis {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture
def dialog(qtbot: QtBot, jarvis_home: Path) -> SettingsDialog:
    """The Settings dialog, open, over the config file the CLI uses."""
    del jarvis_home
    widget = SettingsDialog(SettingsBackend(store=ConfigStore()))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def apply(qtbot: QtBot, dialog: SettingsDialog) -> None:
    assert dialog.apply() is True, dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.busy)
    assert "Saved" in dialog.status.text()


def rule_names(config: AgentConfig) -> list[str]:
    return [rule.name for rule in config.privacy.rules]


def table_names(dialog: SettingsDialog) -> list[str]:
    table = dialog.privacy.table
    return [table.item(row, NAME).text() for row in range(table.rowCount())]


# --- trust 5: Settings no longer overwrites what other writers saved ------------------------


def test_rule_added_with_the_cli_while_settings_is_open_survives_apply(
    qtbot: QtBot, dialog: SettingsDialog
) -> None:
    """With Settings open, `jarvis exclusions add` writes a rule; Apply of another field keeps
    the rule in the file, and the dialog shows it afterwards."""
    jarvis("exclusions", "add", "Bank", "--app", "bankapp", "--action", "skip")
    dialog.general.quality.setValue(55)
    apply(qtbot, dialog)
    config = ConfigStore().load()
    assert config.capture.quality == 55
    assert "Bank" in rule_names(config)
    assert "Bank" in table_names(dialog)


def test_value_set_with_the_cli_while_settings_is_open_survives_apply(
    qtbot: QtBot, dialog: SettingsDialog
) -> None:
    """With Settings open, `jarvis config set` changes a key the user does not touch in the
    dialog; Apply of another field keeps it."""
    jarvis("config", "set", "capture.interval_seconds", "45")
    jarvis("config", "set", "privacy.omit_app_names", "true")
    dialog.general.quality.setValue(33)
    apply(qtbot, dialog)
    config = ConfigStore().load()
    assert config.capture.quality == 33
    assert config.capture.interval_seconds == 45
    assert config.privacy.omit_app_names is True


def test_rule_edits_in_the_dialog_and_on_the_cli_are_both_kept(
    qtbot: QtBot, dialog: SettingsDialog
) -> None:
    """The dialog removes one rule and adds another while the CLI adds a third and removes a
    fourth: the file ends with both writers' changes, nothing undone."""
    first, second = default_rules()[0].name, default_rules()[1].name
    dialog.privacy.table.selectRow(0)  # the dialog removes the first default rule
    dialog.privacy.remove_selected()
    dialog.privacy.add_rule("notes-app", None)  # and adds one
    jarvis("exclusions", "add", "Payroll", "--title", "*payroll*")
    jarvis("exclusions", "remove", second)
    apply(qtbot, dialog)
    names = rule_names(ConfigStore().load())
    assert first not in names
    assert second not in names
    assert "Payroll" in names
    assert "Exclude notes-app" in names
    assert len(names) == len(default_rules()) - 2 + 2


def test_config_edit_does_not_overwrite_a_rule_added_while_the_editor_was_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jarvis config edit` whose file gains a rule (another `jarvis exclusions add`) while the
    editor is open saves nothing, keeps the rule, and keeps the edited text in a side file."""
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        f'"{JARVIS}" exclusions add Concurrent --app concurrent-app >/dev/null\n'
        'printf "[capture]\\nquality = 42\\n" > "$1"\n'
    )
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    done = subprocess.run(
        [JARVIS, "config", "edit"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "was changed by another program" in done.stderr
    assert "your text was not saved" in done.stderr
    config = ConfigStore().load()
    assert "Concurrent" in rule_names(config)
    assert config.capture.quality == 80
    kept = ConfigStore().path.with_name("config.toml.edited")
    assert "quality = 42" in kept.read_text()
    assert kept.stat().st_mode & 0o777 == 0o600


# --- trust 6: "never" stays never; every option's range is the model's ----------------------


def test_never_survives_a_dialog_round_trip(qtbot: QtBot, jarvis_home: Path) -> None:
    """Idle threshold 0 ("never") shows as "never" in Settings and is still 0 after Apply of
    another field."""
    del jarvis_home
    jarvis("config", "set", "privacy.idle_threshold_seconds", "0")
    dialog = SettingsDialog(SettingsBackend(store=ConfigStore()))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.general.idle.text() == "never"
    dialog.general.quality.setValue(70)
    apply(qtbot, dialog)
    assert ConfigStore().load().privacy.idle_threshold_seconds == 0


def test_an_untouched_fraction_is_not_rounded_by_apply(qtbot: QtBot, jarvis_home: Path) -> None:
    """A value the spin box cannot show exactly (interval 2.5 s) is kept when the user changes
    another field."""
    del jarvis_home
    jarvis("config", "set", "capture.interval_seconds", "2.5")
    dialog = SettingsDialog(SettingsBackend(store=ConfigStore()))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.general.quality.setValue(71)
    apply(qtbot, dialog)
    assert ConfigStore().load().capture.interval_seconds == 2.5


def _ui_widgets(dialog: SettingsDialog) -> dict[str, object]:
    widgets: dict[str, object] = {}
    for page in dialog.pages:
        widgets.update(page.fields)
    return widgets


def test_the_dialog_accepts_exactly_what_each_option_accepts(dialog: SettingsDialog) -> None:
    """For every option the dialog shows, its widget's range, choices and special value text are
    the declaration's: the smallest and largest values it offers are allowed, one step beyond is
    not, and a drop-down offers every declared choice and nothing else."""
    from jarvis_agent.config_fields import field_specs  # see _OLD_CODE

    widgets = _ui_widgets(dialog)
    specs = {spec.key: spec for spec in field_specs()}
    shown = {key for key in widgets if key in specs}
    assert {
        "capture.interval_seconds",
        "capture.image_format",
        "capture.quality",
        "privacy.idle_threshold_seconds",
        "privacy.omit_titles",
    } <= shown
    for key in sorted(shown):
        spec, widget = specs[key], widgets[key]
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            step = 1.0 if isinstance(widget, QSpinBox) else 10.0 ** -widget.decimals()
            low, high = widget.minimum(), widget.maximum()
            assert spec.allows(low), f"{key}: the dialog offers {low}, the config refuses it"
            assert spec.allows(high), f"{key}: the dialog offers {high}, the config refuses it"
            assert not spec.allows(low - step), f"{key}: the config allows less than {low}"
            assert not spec.allows(high + step), f"{key}: the config allows more than {high}"
            assert widget.specialValueText() == (spec.label(low) or ""), key
        elif isinstance(widget, QComboBox):
            offered = {widget.itemData(i) for i in range(widget.count())}
            assert offered == set(spec.choices or ()), key
        elif isinstance(widget, QCheckBox):
            assert spec.kind is bool, key


@pytest.fixture
def cli_runner() -> CliRunner:
    if "config" not in cli.commands:
        _register()
    return CliRunner()


def _cli_set(runner: CliRunner, key: str, value: str) -> bool:
    result = runner.invoke(cli, ["config", "set", "--", key, value], catch_exceptions=False)
    if result.exit_code != 0:
        assert key in result.output, result.output  # the refusal names the key
    return result.exit_code == 0


def test_the_cli_accepts_exactly_what_each_option_accepts(cli_runner: CliRunner) -> None:
    """For every option: `jarvis config set` takes each bound the model allows and refuses one
    step beyond, takes every declared choice and refuses another word, and stores what it took."""
    from jarvis_agent.config_fields import field_specs  # see _OLD_CODE

    checked = 0
    for spec in field_specs():
        if spec.choices is not None:
            for choice in spec.choices:
                assert _cli_set(cli_runner, spec.key, choice), (spec.key, choice)
            assert not _cli_set(cli_runner, spec.key, "no-such-choice"), spec.key
            checked += 1
        elif spec.kind is bool:
            assert _cli_set(cli_runner, spec.key, "false")
            assert not _cli_set(cli_runner, spec.key, "maybe"), spec.key
            checked += 1
        elif spec.kind in (int, float) and spec.minimum is not None and spec.maximum is not None:
            step = 1 if spec.kind is int else 0.001
            for bound, exclusive, outward in (
                (spec.minimum, spec.min_exclusive, -step),
                (spec.maximum, spec.max_exclusive, step),
            ):
                inside = bound - outward if exclusive else bound
                outside = bound if exclusive else bound + outward
                text = str(spec.kind(inside)) if spec.kind is int else repr(float(inside))
                assert _cli_set(cli_runner, spec.key, text), (spec.key, text)
                section, name = spec.key.split(".")
                stored = getattr(getattr(ConfigStore().load(), section), name)
                assert stored == pytest.approx(inside), spec.key
                bad = str(int(outside)) if spec.kind is int else repr(float(outside))
                assert not _cli_set(cli_runner, spec.key, bad), (spec.key, bad)
            checked += 1
    assert checked >= 20  # every bounded number, choice and switch of the config


# --- trust 6: the server time limits reach the sync worker -----------------------------------


@pytest.fixture
def agent_setup(
    x_windows: Desktop, secret_service: SecretService, server_factory: ServerFactory
) -> Iterator[tuple[LiveServer, FaultProxy, str]]:
    """A real server behind the fault proxy, a device token in the real keyring, and settings
    under which the agent captures once at start and nothing else gets in the way."""
    del x_windows, secret_service
    server = server_factory()  # started
    proxy = FaultProxy(server.port)
    device = "config-timeouts"
    credentials.store_token(server.create_token(device))
    store = ConfigStore()
    for key, value in {
        "capture.interval_seconds": "3600",
        "capture.jitter_seconds": "0",
        "capture.window_change_trigger": "false",
        "privacy.idle_threshold_seconds": "0",
        "server.url": proxy.url,
    }.items():
        store.set_value(key, value)
    try:
        yield server, proxy, device
    finally:
        proxy.close()
        credentials.delete_token()


def wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + HANG_GUARD
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.mark.x11
@pytest.mark.keyring
@pytest.mark.slow
@pytest.mark.parametrize("when", ["at-start", "changed-live"])
def test_server_timeout_setting_reaches_the_sync_worker(
    agent_setup: tuple[LiveServer, FaultProxy, str], when: str
) -> None:
    """server.timeout_seconds = 0.5, set before the agent starts or changed while it runs: a
    reply delayed 5 s times the upload out (it was waited for with the old fixed 60 s), the
    upload is retried, and the server holds the capture exactly once."""
    server, proxy, device = agent_setup
    store = ConfigStore()
    if when == "at-start":
        store.set_value("server.timeout_seconds", "0.5")
        proxy.plan(Delay(5.0))
    service = AgentService(store, paths=agent_paths(), configure_logs=False, control=False)
    service.start()
    try:
        wait_for(lambda: service.status().counters.captured >= 1, "the start-up capture")
        if when == "changed-live":
            wait_for(lambda: proxy.relayed >= 1, "the start-up capture's upload")
            server_settings = service.config.server.model_copy(update={"timeout_seconds": 0.5})
            service.apply_config(service.config.model_copy(update={"server": server_settings}))
            assert store.load().server.timeout_seconds == 0.5
            proxy.plan(Delay(5.0))
            outcome = service.capture_now(wait=60)
            assert outcome is not None
            assert outcome.captured == 1
        sent_before_the_delay = 0 if when == "at-start" else 1
        wait_for(
            lambda: proxy.requests >= sent_before_the_delay + 2,
            "the timed-out upload to be retried",
        )
        wait_for(lambda: service.status().sync.queued == 0, "the outbox to drain")
        stored = [r for r in server.captures() if r.device == device]
        assert len(stored) == service.status().counters.captured
        assert len({r.id for r in stored}) == len(stored)
        assert proxy.requests == sent_before_the_delay + 2  # one timed out, one retry
    finally:
        service.stop()


class SlowDoor:
    """A loopback port whose accept queue stays full for `hold` seconds (new connections hang
    in the handshake, as behind a congested link), then relays every connection to `upstream`."""

    def __init__(self, upstream: int, hold: float) -> None:
        self.upstream = upstream
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._filler = socket.create_connection(self._listener.getsockname())
        self._closed = False
        self._hold = hold
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        time.sleep(self._hold)
        self._filler.close()
        with contextlib.suppress(OSError):
            self._listener.accept()[0].close()  # the filler
        self._listener.settimeout(0.1)
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()


@pytest.mark.x11
@pytest.mark.keyring
@pytest.mark.slow
def test_connect_timeout_setting_reaches_the_sync_worker(
    agent_setup: tuple[LiveServer, FaultProxy, str],
) -> None:
    """server.connect_timeout_seconds = 0.5 against a server whose port takes 4 s to accept: the
    connection attempt gives up after the setting (the old fixed 10 s outlasted the wait and
    never gave up), the upload is retried once the port accepts, and the capture is stored once."""
    server, _proxy, device = agent_setup
    door = SlowDoor(server.port, hold=4.0)
    store = ConfigStore()
    store.set_value("server.url", door.url)
    store.set_value("server.connect_timeout_seconds", "0.5")
    errors: list[str] = []

    def listen(status: AgentStatus) -> None:
        if status.sync.last_error:
            errors.append(status.sync.last_error)

    service = AgentService(store, paths=agent_paths(), configure_logs=False, control=False)
    service.subscribe(listen)
    service.start()
    try:
        wait_for(lambda: service.status().counters.captured >= 1, "a capture")
        wait_for(lambda: [r for r in server.captures() if r.device == device], "the stored capture")
        wait_for(lambda: service.status().sync.queued == 0, "the outbox to drain")
        assert "connecting to the server timed out" in errors
        stored = [r for r in server.captures() if r.device == device]
        assert len(stored) == service.status().counters.captured
    finally:
        service.stop()
        door.close()
