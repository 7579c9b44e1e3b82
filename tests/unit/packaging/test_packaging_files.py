"""The static packaging files agree with the code that writes the same things at run time."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import plistlib
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from jarvis_agent.autostart import LAUNCH_AGENT_LABEL, desktop_entry
from jarvis_agent.autostart.macos import launch_agent, render

ROOT = Path(__file__).resolve().parents[3]
PACKAGING = ROOT / "packaging"


def _bundle_support() -> ModuleType:
    path = PACKAGING / "pyinstaller" / "bundle_support.py"
    spec = importlib.util.spec_from_file_location("bundle_support", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def test_info_plist_makes_a_menu_bar_app_with_the_bundle_id() -> None:
    """Jarvis.app has the bundle id org.jarvis.Jarvis, runs `jarvis`, and has no Dock icon."""
    with (PACKAGING / "macos" / "Info.plist").open("rb") as fh:
        info = plistlib.load(fh)
    assert info["CFBundleIdentifier"] == "org.jarvis.Jarvis"
    assert info["CFBundleExecutable"] == "jarvis"
    assert info["CFBundlePackageType"] == "APPL"
    assert info["LSUIElement"] is True
    assert info["NSScreenCaptureUsageDescription"]


def test_launch_agent_example_is_what_autostart_writes() -> None:
    """The LaunchAgent shipped for admins is byte for byte what `jarvis autostart enable` writes
    for an app in /Applications."""
    shipped = (PACKAGING / "macos" / f"{LAUNCH_AGENT_LABEL}.plist").read_bytes()
    app = "/Applications/Jarvis.app/Contents/MacOS/jarvis"
    assert shipped == render(launch_agent([app]))


def test_autostart_template_matches_the_writer() -> None:
    """install.sh's autostart template has the same keys and values as the Python writer's entry."""
    template = (PACKAGING / "linux" / "jarvis-autostart.desktop").read_text(encoding="utf-8")
    written = desktop_entry(["/opt/jarvis/jarvis"])
    assert _entry(template.replace("@EXEC@", "/opt/jarvis/jarvis")) == _entry(written)


def test_menu_entry_template_starts_jarvis_with_its_icon() -> None:
    """The menu entry runs the installed program with the jarvis icon and offers quick actions."""
    entry = _entry((PACKAGING / "linux" / "jarvis.desktop").read_text(encoding="utf-8"))
    assert entry["Exec"] == "@EXEC@"
    assert entry["Icon"] == "jarvis"
    assert entry["Type"] == "Application"
    assert entry["Actions"] == "CaptureNow;Pause;Resume;"


def test_user_unit_runs_the_headless_agent_in_the_graphical_session() -> None:
    """The systemd --user unit runs `jarvis run --headless`, restarts it on failure, and is tied
    to the graphical session (captures need its display)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / "linux" / "jarvis-agent.service")
    assert parser["Service"]["ExecStart"] == "@EXEC@ run --headless"
    assert parser["Service"]["Restart"] == "on-failure"
    assert parser["Install"]["WantedBy"] == "graphical-session.target"
    assert parser["Unit"]["PartOf"] == "graphical-session.target"


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_hicolor_icons_have_their_named_size(size: int) -> None:
    """Each hicolor PNG is a square RGBA image of the size its directory names."""
    path = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "jarvis.png"
    with Image.open(path) as image:
        assert image.size == (size, size)
        assert image.mode == "RGBA"


def test_windows_and_macos_icons_exist() -> None:
    """The .ico (Windows) and .icns (macOS) icons the spec names are there and readable."""
    with Image.open(PACKAGING / "icons" / "jarvis.ico") as ico:
        assert ico.format == "ICO"
    with Image.open(PACKAGING / "icons" / "jarvis.icns") as icns:
        assert icns.format == "ICNS"


def _module_file_exists(name: str) -> bool:
    """Whether module `name` exists in this environment, found on disk without importing it
    (pynput's backends connect to a display on import)."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    if not rest:
        return True
    locations = spec.submodule_search_locations
    assert locations is not None, f"{top} is not a package"
    base = Path(next(iter(locations)))
    *packages, last = rest
    for package in packages:
        base /= package
    return (
        (base / last).is_dir()
        or (base / f"{last}.py").is_file()
        or any(base.glob(f"{last}.*.so"))
        or any(base.glob(f"{last}.*.pyd"))
    )


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_named_hidden_imports_exist(platform: str) -> None:
    """Every backend the specs name for a platform (mss, pynput, keyring) is a real module, so a
    typo cannot silently leave a backend out of a bundle."""
    bs = _bundle_support()
    names = bs.mss_backends(platform) + bs.pynput_backends(platform)
    names += [n for n in bs.keyring_backends(platform) if n.startswith("keyring.")]
    assert names
    missing = [n for n in names if not _module_file_exists(n)]
    assert missing == []


def test_server_and_scheduler_imports_exist() -> None:
    """The uvicorn, database-driver and APScheduler modules the specs name all exist."""
    bs = _bundle_support()
    names = [n for n in bs.SERVER_IMPORTS + bs.APSCHEDULER_IMPORTS if n != "python_multipart"]
    missing = [n for n in names if not _module_file_exists(n)]
    assert missing == []


def test_only_windows_and_macos_bundles_are_windowed() -> None:
    """The tray bundle opens no console on Windows and macOS; on Linux it keeps one for the CLI."""
    bs = _bundle_support()
    assert bs.is_windowed("win32")
    assert bs.is_windowed("darwin")
    assert not bs.is_windowed("linux")


@pytest.mark.parametrize(
    ("version", "quad"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2.3rc1", (1, 2, 3, 0)), ("2.0.1.7", (2, 0, 1, 7))],
)
def test_windows_version_resource_carries_the_version(version: str, quad: tuple[int, ...]) -> None:
    """The .exe version resource holds the release numbers and the full version string, and is
    valid Python (PyInstaller evaluates it)."""
    text = _bundle_support().windows_version_file(
        version, program="jarvis", description="Jarvis desktop capture agent"
    )
    tree = ast.parse(text, mode="eval")
    assert isinstance(tree.body, ast.Call)
    assert f"filevers={quad}" in text
    assert f"StringStruct('ProductVersion', '{version}')" in text
    assert "StringStruct('OriginalFilename', 'jarvis.exe')" in text
