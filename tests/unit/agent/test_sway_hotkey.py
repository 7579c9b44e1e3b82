"""The pause hotkey (pynput syntax) written as sway's bindsym."""

from __future__ import annotations

import pytest

from jarvis_agent.sway_hotkey import SwayHotkeyError, find_sway_binding, sway_binding, sway_combo


@pytest.mark.parametrize(
    ("spec", "combo"),
    [
        ("<ctrl>+<alt>+p", "Ctrl+Alt+p"),
        ("<alt>+<ctrl>+P", "Ctrl+Alt+p"),  # sway's order, keysym in lower case
        ("<cmd>+<shift>+<f9>", "Shift+Mod4+F9"),
        ("<ctrl>+<alt>+<page_down>", "Ctrl+Alt+Next"),
        ("<ctrl>+<alt>+<print_screen>", "Ctrl+Alt+Print"),
        ("<ctrl>+,", "Ctrl+comma"),
        ("<ctrl>+<alt>+1", "Ctrl+Alt+1"),
    ],
)
def test_hotkey_in_sway_syntax(spec: str, combo: str) -> None:
    """Each pynput combination becomes sway's modifiers and the key's xkb keysym."""
    assert sway_combo(spec) == combo


def test_binding_runs_the_toggle_with_a_quoted_path() -> None:
    """The line execs `pause --toggle` on the given program, quoted for sway's command parser."""
    assert sway_binding("<ctrl>+<alt>+p", "/opt/my apps/jarvis") == (
        "bindsym Ctrl+Alt+p exec '/opt/my apps/jarvis' pause --toggle"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("<ctrl>+<alt>+é", "'é' in the hotkey '<ctrl>+<alt>+é' has no sway key name"),
        ("<ctrl>+<hyper>", "'<hyper>' in the hotkey"),
        ("<ctrl>+a+b", "needs modifiers and exactly one key"),
        ("p", "needs modifiers and exactly one key"),
    ],
)
def test_hotkeys_sway_cannot_name_are_refused(spec: str, message: str) -> None:
    """A combination with no sway equivalent is refused naming the part and what to do."""
    with pytest.raises(SwayHotkeyError, match=message.replace("+", r"\+").replace("(", r"\(")):
        sway_combo(spec)


def test_binding_is_found_in_a_sway_config_as_sway_reads_it() -> None:
    """The pause binding is recognised with flags, other modifier names and order, any case;
    a binding of another combination or another command is not it."""
    config = "\n".join(
        [
            "set $mod Mod4",
            "bindsym $mod+Return exec foot",
            "  bindsym --to-code Mod1+Control+P exec /opt/jarvis/bin/jarvis pause --toggle",
        ]
    )
    found = find_sway_binding(config, "<ctrl>+<alt>+p")
    assert found == "bindsym --to-code Mod1+Control+P exec /opt/jarvis/bin/jarvis pause --toggle"
    assert find_sway_binding(config, "<ctrl>+<alt>+o") is None
    assert find_sway_binding("bindsym Ctrl+Alt+p exec jarvis pause 1h", "<ctrl>+<alt>+p") is None
