"""install.sh / uninstall.sh against a private HOME: what a user gets, and what they get back."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jarvis_agent.autostart import XdgAutostart, exec_unquote

ROOT = Path(__file__).resolve().parents[3]
INSTALL = ROOT / "packaging" / "linux" / "install.sh"
ICON_SIZES = ("16x16", "24x24", "32x32", "48x48", "64x64", "128x128", "256x256", "512x512")

Snapshot = dict[str, tuple[str, bytes | str | None, int]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME with a space in its path and some of the user's own files already there."""
    home = tmp_path / "home of ann"
    for rel, text in {
        ".config/other-app/settings.ini": "[x]\ny=1\n",
        ".config/autostart/other.desktop": "[Desktop Entry]\nType=Application\nExec=other\n",
        ".local/share/applications/other.desktop": "[Desktop Entry]\nType=Application\n",
        ".local/share/icons/hicolor/48x48/apps/other.png": "png",
        ".local/bin/other-tool": "#!/bin/sh\n",
        "notes.txt": "mine",
    }.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return home


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for the PyInstaller bundle: a runnable `jarvis` and its libraries."""
    folder = tmp_path / "dist" / "jarvis"
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "base_library.zip").write_bytes(b"PK")
    program = folder / "jarvis"
    program.write_text('#!/bin/sh\necho "jarvis 9.9.9 $*"\n')
    program.chmod(0o755)
    return folder


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "JARVIS_"))}
    env["HOME"] = str(home)
    return env


def _script(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _install(home: Path, bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = _script(INSTALL, home, "--bundle", str(bundle), *args)
    assert result.returncode == 0, result.stderr
    return result


def _uninstall(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = _script(home / ".local" / "lib" / "jarvis" / "uninstall.sh", home, *args)
    assert result.returncode == 0, result.stderr
    return result


def _snapshot(root: Path) -> Snapshot:
    """Every path under root with its kind, content (or link target) and mtime."""
    tree: Snapshot = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        stat = path.lstat()
        if path.is_symlink():
            tree[rel] = ("link", os.readlink(path), stat.st_mtime_ns)
        elif path.is_dir():
            tree[rel] = ("dir", None, 0)  # a directory's mtime changes when a child comes and goes
        else:
            tree[rel] = ("file", path.read_bytes(), stat.st_mtime_ns)
    return tree


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["Desktop Entry"]


def test_install_puts_bundle_launcher_menu_entry_and_icons(home: Path, bundle: Path) -> None:
    """After install, `~/.local/bin/jarvis` runs the bundle, the menu entry starts it with the
    Jarvis icon in every hicolor size, and nothing starts at login unless asked."""
    result = _install(home, bundle)
    program = home / ".local" / "lib" / "jarvis" / "jarvis"
    assert (home / ".local" / "lib" / "jarvis" / "_internal" / "base_library.zip").is_file()
    launcher = home / ".local" / "bin" / "jarvis"
    run = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "jarvis 9.9.9 --version"
    assert "installed jarvis 9.9.9" in result.stdout

    menu = home / ".local" / "share" / "applications" / "jarvis.desktop"
    entry = _entry(menu)
    assert exec_unquote(entry["Exec"]) == [str(program)]
    assert entry["TryExec"] == str(program)
    assert entry["Icon"] == "jarvis"
    for size in ICON_SIZES:
        assert (home / f".local/share/icons/hicolor/{size}/apps/jarvis.png").is_file()
    assert (home / ".local/share/icons/hicolor/scalable/apps/jarvis.svg").is_file()
    assert not (home / ".config" / "autostart" / "jarvis.desktop").exists()
    assert not (home / ".config" / "systemd").exists()


def test_menu_entry_passes_desktop_file_validate(home: Path, bundle: Path) -> None:
    """The installed menu entry is valid by freedesktop's own validator."""
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    _install(home, bundle, "--autostart")
    for path in (
        home / ".local/share/applications/jarvis.desktop",
        home / ".config/autostart/jarvis.desktop",
    ):
        check = subprocess.run([validator, str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout == ""


def test_install_with_autostart_is_what_jarvis_autostart_reads(home: Path, bundle: Path) -> None:
    """`--autostart` writes the entry `jarvis autostart status` reports as enabled, running the
    installed program (quoted correctly although HOME has spaces)."""
    _install(home, bundle, "--autostart")
    status = XdgAutostart(home / ".config" / "autostart").status()
    assert status.enabled
    assert status.command == (str(home / ".local" / "lib" / "jarvis" / "jarvis"),)


def test_headless_autostart_and_systemd_unit(home: Path, bundle: Path) -> None:
    """`--autostart --headless --systemd` starts `jarvis run --headless` at login and installs a
    systemd --user unit whose ExecStart runs the same, which systemd-analyze accepts."""
    _install(home, bundle, "--autostart", "--headless", "--systemd")
    program = str(home / ".local" / "lib" / "jarvis" / "jarvis")
    status = XdgAutostart(home / ".config" / "autostart").status()
    assert status.command == (program, "run", "--headless")
    unit = home / ".config" / "systemd" / "user" / "jarvis-agent.service"
    assert f'ExecStart="{program}" run --headless' in unit.read_text().splitlines()
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        check = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        assert str(unit) not in check.stderr, check.stderr


def test_uninstall_removes_every_added_file_and_touches_nothing_else(
    home: Path, bundle: Path
) -> None:
    """install (with every option) then uninstall leaves HOME exactly as it was: same paths,
    same contents, same modification times."""
    before = _snapshot(home)
    _install(home, bundle, "--autostart", "--systemd")
    assert _snapshot(home) != before
    result = _uninstall(home)
    assert "uninstalled" in result.stdout
    assert _snapshot(home) == before


def test_uninstall_keeps_the_users_data_unless_purged(home: Path, bundle: Path) -> None:
    """Settings and captures survive a plain uninstall; `--purge` removes them too."""
    data = home / ".local" / "share" / "jarvis" / "outbox" / "capture.bin"
    config = home / ".config" / "jarvis" / "config.toml"
    for path in (data, config):
        path.parent.mkdir(parents=True)
        path.write_text("x")
    _install(home, bundle)
    _uninstall(home)
    assert data.is_file()
    assert config.is_file()
    _install(home, bundle)
    _uninstall(home, "--purge")
    assert not (home / ".local" / "share" / "jarvis").exists()
    assert not (home / ".config" / "jarvis").exists()
    assert (home / "notes.txt").read_text() == "mine"


def test_upgrade_replaces_the_bundle_and_keeps_start_at_login(
    home: Path, bundle: Path, tmp_path: Path
) -> None:
    """Installing a newer bundle over an old one replaces it and keeps the autostart choice;
    a later uninstall still leaves nothing behind."""
    before = _snapshot(home)
    _install(home, bundle, "--autostart", "--headless")
    newer = tmp_path / "newer" / "jarvis"
    newer.mkdir(parents=True)
    (newer / "jarvis").write_text('#!/bin/sh\necho "jarvis 10.0.0"\n')
    (newer / "jarvis").chmod(0o755)
    _install(home, newer)
    launcher = home / ".local" / "bin" / "jarvis"
    run = subprocess.run([str(launcher)], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "jarvis 10.0.0"
    assert not (home / ".local" / "lib" / "jarvis" / "_internal").exists()
    status = XdgAutostart(home / ".config" / "autostart").status()
    assert status.enabled
    assert status.command is not None
    assert status.command[1:] == ("run", "--headless")
    _uninstall(home)
    assert _snapshot(home) == before


def test_install_refuses_to_overwrite_a_foreign_file(home: Path, bundle: Path) -> None:
    """A `jarvis` in ~/.local/bin that install.sh did not put there is kept, with a message."""
    foreign = home / ".local" / "bin" / "jarvis"
    foreign.write_text("#!/bin/sh\necho someone else\n")
    before = _snapshot(home)
    result = _script(INSTALL, home, "--bundle", str(bundle))
    assert result.returncode == 1
    assert f"{foreign} exists and was not installed by Jarvis" in result.stderr
    assert _snapshot(home) == before  # nothing half-installed


def test_install_without_a_bundle_says_how_to_build_one(home: Path, tmp_path: Path) -> None:
    """Pointing install.sh at a folder without a bundle fails with a message naming the fix."""
    result = _script(INSTALL, home, "--bundle", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "scripts/build-bundles.sh" in result.stderr
    assert not (home / ".local" / "lib" / "jarvis").exists()


def test_uninstall_without_an_install_says_so(home: Path) -> None:
    """uninstall.sh with nothing installed fails with a message and removes nothing."""
    before = _snapshot(home)
    script = ROOT / "packaging" / "linux" / "uninstall.sh"
    result = _script(script, home, "--prefix", str(home / ".local"))
    assert result.returncode == 1
    assert "Jarvis is not installed" in result.stderr
    assert _snapshot(home) == before


def test_shell_scripts_pass_shellcheck() -> None:
    """install.sh, uninstall.sh and build-bundles.sh have no shellcheck findings."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [
        ROOT / "packaging" / "linux" / "install.sh",
        ROOT / "packaging" / "linux" / "uninstall.sh",
        ROOT / "scripts" / "build-bundles.sh",
    ]
    check = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
