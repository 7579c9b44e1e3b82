"""The Settings dialog's Privacy table leaves the interpreter able to exit cleanly.

PySide6 6.12.0 frees Python's None once too often when table items are destroyed: after the
Privacy table has been filled a few times the process aborts at exit ("Fatal Python error:
none_dealloc"), which a user sees as a crash when the tray quits, and which fails a test run
whose tests all passed. ui/pyproject.toml keeps PySide6 below 6.12 for it.
"""

from __future__ import annotations

import os
import subprocess
import sys

_PROGRAM = """
from PySide6.QtWidgets import QApplication
from jarvis_agent.capture.rules import default_rules
from jarvis_ui.settings.privacy import PrivacyPage

app = QApplication([])
page = PrivacyPage()
for _ in range(20):  # each round replaces (and so destroys) every row's items
    page.set_rules(default_rules())
    rules, problems = page.rules()
    assert not problems, problems
del page
import gc

gc.collect()
print(len(rules))
"""


def test_privacy_table_with_every_default_rule_exits_cleanly() -> None:
    """The table is filled with every default rule 20 times (each time destroying the previous
    rows' items), read back without problems, and the process exits 0, printing the count."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "none_dealloc" not in done.stderr
    assert int(done.stdout.strip()) > 10
