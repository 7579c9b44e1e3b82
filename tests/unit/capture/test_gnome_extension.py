"""Jarvis's GNOME Shell extension in its two variants made from one source (43/44 as a script,
45-49 as an ES module): which one is picked for which GNOME, what their metadata declares, that
each parses as what its GNOME loads, and that both expose the same D-Bus interface. Only GNOME 43
runs in the tests; 45-49 are checked by source (node parses the JavaScript; CI has no gjs)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jarvis_platform import PlatformError
from jarvis_platform.gnome_setup import (
    EXTENSION_UUID,
    extension_files,
    extension_variant,
    install_extension,
)

SCRIPT = extension_files(43)
MODULE = extension_files(49)


def interface_xml(files: dict[str, str]) -> str:
    found = re.search(r"const IFACE = `(<node>.*?</node>)`;", files["extension.js"], re.DOTALL)
    assert found is not None, "no IFACE in extension.js"
    return found.group(1)


def node_check(source: str, suffix: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`node --check` on the text in a file named so node reads it as a script (.cjs) or module
    (.mjs)."""
    node = shutil.which("node")
    assert node is not None, "nodejs is not installed: run scripts/bootstrap.sh"
    copy = tmp_path / f"extension{suffix}"
    copy.write_text(source)
    return subprocess.run(
        [node, "--check", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("version", "variant"),
    [(43, "script"), (44, "script"), (45, "module"), (47, "module"), (49, "module")],
)
def test_the_variant_is_picked_by_gnome_shell_version(version: int, variant: str) -> None:
    """43/44 get the script, 45-49 the ES module; both are the same extension (uuid)."""
    assert extension_variant(version) == variant
    files = extension_files(version)
    assert sorted(files) == ["extension.js", "metadata.json"]
    assert json.loads(files["metadata.json"])["uuid"] == EXTENSION_UUID


@pytest.mark.parametrize("version", [42, 50])
def test_a_gnome_neither_copy_is_made_for_is_refused(version: int, tmp_path: Path) -> None:
    """No copy is installed for a GNOME the extension was not written for: a clear message."""
    extensions = tmp_path / "extensions"
    with pytest.raises(PlatformError, match=f"GNOME Shell {version} is not one"):
        install_extension(extensions, shell_version=version)
    assert not extensions.exists()


def test_metadata_lists_the_versions_each_copy_is_for() -> None:
    """GNOME loads an extension only for the shell versions its metadata lists."""
    script = json.loads(SCRIPT["metadata.json"])
    module = json.loads(MODULE["metadata.json"])
    assert script["shell-version"] == ["43", "44"]
    assert module["shell-version"] == ["45", "46", "47", "48", "49"]
    assert {k: v for k, v in script.items() if k != "shell-version"} == {
        k: v for k, v in module.items() if k != "shell-version"
    }


def test_both_variants_expose_the_identical_dbus_interface() -> None:
    """The agent talks to either copy the same way: the interface XML is the same text."""
    assert interface_xml(SCRIPT) == interface_xml(MODULE)
    assert "local.jarvis.Shell1" in interface_xml(MODULE)
    for text in (SCRIPT["extension.js"], MODULE["extension.js"]):
        assert "const BUS_NAME = 'local.jarvis.Shell';" in text
        assert "const OBJECT_PATH = '/local/jarvis/Shell';" in text


def test_the_45_copy_parses_as_an_es_module_and_the_43_copy_as_a_script(tmp_path: Path) -> None:
    """GNOME 45+ imports extension.js as an ES module with a default export class; 43/44 run it
    as a script with init(). Each parses as such, and the module is not a script."""
    module = MODULE["extension.js"]
    assert node_check(module, ".mjs", tmp_path).returncode == 0
    assert node_check(module, ".cjs", tmp_path).returncode != 0  # import statements
    assert re.search(r"^export default class \w+ extends Extension \{", module, re.M)
    assert "imports." not in module
    assert "//@" not in module
    script = SCRIPT["extension.js"]
    assert node_check(script, ".cjs", tmp_path).returncode == 0
    assert "function init()" in script
    assert "//@" not in script


def test_install_writes_the_chosen_variant(tmp_path: Path) -> None:
    """Installing for 48 puts the ES module in place, replacing a 43 script there before."""
    extensions = tmp_path / "extensions"
    install_extension(extensions, shell_version=43)
    target = install_extension(extensions, shell_version=48)
    assert target == extensions / EXTENSION_UUID
    assert "export default class" in (target / "extension.js").read_text()
    assert sorted(p.name for p in extensions.iterdir()) == [EXTENSION_UUID]
    assert {p.name: p.read_text() for p in target.iterdir()} == extension_files(48)
