"""Windows: a value under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run.

Explorer starts each value's command line at login. The command line is built by a pure function
(`run_value`, quoting per the Microsoft C runtime rules that programs use to split it back), and the
registry itself sits behind `RegistryStore`, so both are exercised on any platform.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Protocol

from jarvis_agent.autostart._base import AutostartError, AutostartStatus

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE_NAME = "Jarvis"


def run_value(argv: Sequence[str]) -> str:
    """The Run value (a command line) that starts `argv` exactly: quoted where needed."""
    if not argv:
        raise AutostartError("the command to start at login is empty")
    if any('"' in arg for arg in argv[:1]):
        raise AutostartError(f"a program path cannot contain a double quote: {argv[0]!r}")
    return subprocess.list2cmdline(list(argv))


def split_run_value(value: str) -> list[str]:
    """The argv a program sees for the command line `value` (CommandLineToArgvW's rules)."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    in_arg = False
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            run = 0
            while i < len(value) and value[i] == "\\":
                run += 1
                i += 1
            if i < len(value) and value[i] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * run)
            in_arg = True
            continue
        if ch == '"':
            in_quotes = not in_quotes
            in_arg = True
        elif ch in " \t" and not in_quotes:
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(ch)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(current))
    return args


class RegistryStore(Protocol):
    """String values of one registry key."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool: ...


class WinregStore:
    """The current user's Run key, through winreg (Windows only)."""

    def __init__(self, key: str = RUN_KEY) -> None:
        self._key = key

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise AutostartError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self._key) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(f"cannot read HKCU\\{self._key}\\{name}: {exc}") from exc
        if kind not in (winreg.REG_SZ, winreg.REG_EXPAND_SZ):
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise AutostartError("the Windows registry exists only on Windows")
        import winreg

        try:
            hkcu, access = winreg.HKEY_CURRENT_USER, winreg.KEY_SET_VALUE
            with winreg.CreateKeyEx(hkcu, self._key, 0, access) as key:
                winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)
        except OSError as exc:
            raise AutostartError(f"cannot write HKCU\\{self._key}\\{name}: {exc}") from exc

    def delete(self, name: str) -> bool:
        if sys.platform != "win32":
            raise AutostartError("the Windows registry exists only on Windows")
        import winreg

        try:
            hkcu, access = winreg.HKEY_CURRENT_USER, winreg.KEY_SET_VALUE
            with winreg.OpenKey(hkcu, self._key, 0, access) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise AutostartError(f"cannot delete HKCU\\{self._key}\\{name}: {exc}") from exc
        return True


class RunKeyAutostart:
    """The `Jarvis` value of the current user's Run key."""

    def __init__(self, store: RegistryStore | None = None, name: str = RUN_VALUE_NAME) -> None:
        self._store: RegistryStore = store if store is not None else WinregStore()
        self._name = name

    @property
    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{self._name}"

    def enable(self, command: Sequence[str]) -> AutostartStatus:
        self._store.set(self._name, run_value(command))
        return self.status()

    def disable(self) -> bool:
        return self._store.delete(self._name)

    def status(self) -> AutostartStatus:
        value = self._store.get(self._name)
        if not value:
            return AutostartStatus(enabled=False, location=self.location)
        return AutostartStatus(
            enabled=True, location=self.location, command=tuple(split_run_value(value))
        )
