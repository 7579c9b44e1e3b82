"""The Windows Run key value: the command line Explorer starts at login."""

from __future__ import annotations

import pytest

from jarvis_agent.autostart import (
    AutostartError,
    RunKeyAutostart,
    autostart_for_platform,
    run_value,
    split_run_value,
)


class DictStore:
    """The Run key as a dictionary: the registry seam, standing in on Linux."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([r"C:\Jarvis\jarvis.exe"], r"C:\Jarvis\jarvis.exe"),
        (
            [r"C:\Program Files\Jarvis\jarvis.exe"],
            r'"C:\Program Files\Jarvis\jarvis.exe"',
        ),
        (
            [r"C:\Users\Ann Lee\AppData\Local\Jarvis\jarvis.exe", "run", "--headless"],
            r'"C:\Users\Ann Lee\AppData\Local\Jarvis\jarvis.exe" run --headless',
        ),
    ],
)
def test_run_value_quotes_paths_with_spaces(argv: list[str], expected: str) -> None:
    """A program path with spaces is double-quoted, so Windows does not run `C:\\Program`."""
    assert run_value(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [r"C:\Program Files\Jarvis\jarvis.exe"],
        [r"C:\a b\jarvis.exe", "run", "--headless"],
        [r"C:\x\jarvis.exe", 'say "hi"', "trailing\\", "", r"back\\slashes\"q"],
    ],
)
def test_run_value_round_trips(argv: list[str]) -> None:
    """The program splits the command line back into exactly the argv written."""
    assert split_run_value(run_value(argv)) == argv


def test_quote_in_program_path_is_refused() -> None:
    """A double quote cannot appear in a Windows path; the builder says so."""
    with pytest.raises(AutostartError, match="double quote"):
        run_value(['C:\\odd"\\jarvis.exe'])


def test_enable_writes_the_jarvis_value() -> None:
    """enable stores the quoted command under the value name `Jarvis`; status reads it back."""
    store = DictStore()
    writer = RunKeyAutostart(store)
    status = writer.enable([r"C:\Program Files\Jarvis\jarvis.exe"])
    assert store.values == {"Jarvis": r'"C:\Program Files\Jarvis\jarvis.exe"'}
    assert status.enabled
    assert status.command == (r"C:\Program Files\Jarvis\jarvis.exe",)
    assert status.location.endswith(r"Software\Microsoft\Windows\CurrentVersion\Run\Jarvis")


def test_disable_deletes_only_the_jarvis_value() -> None:
    """disable removes the Jarvis value and leaves other programs' values alone."""
    store = DictStore()
    store.values["OneDrive"] = r'"C:\OneDrive\OneDrive.exe" /background'
    writer = RunKeyAutostart(store)
    writer.enable([r"C:\J\jarvis.exe"])
    assert writer.disable() is True
    assert store.values == {"OneDrive": r'"C:\OneDrive\OneDrive.exe" /background'}
    assert writer.disable() is False
    assert not writer.status().enabled


def test_registry_is_refused_off_windows() -> None:
    """Off Windows the real registry store says it exists only on Windows, not a stack trace."""
    writer = autostart_for_platform("win32", {})
    with pytest.raises(AutostartError, match="only on Windows"):
        writer.status()
