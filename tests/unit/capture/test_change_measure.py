"""The line-of-text measure of the change check, on sample-sized masks."""

from __future__ import annotations

import numpy as np

from jarvis_agent.capture.change import text_extent


def mask() -> np.ndarray:
    return np.zeros((360, 640), dtype=bool)  # a 1080p sample (stride 3)


def test_cursor_and_a_stray_tile_of_noise_far_away_are_not_a_line() -> None:
    """A cursor cell (3x6 samples) and three noisy samples elsewhere are two areas, and neither
    spans a line: the blinking cursor on a slightly noisy screen stays unchanged."""
    diff = mask()
    diff[100:106, 50:53] = True
    diff[[300, 302, 305], [600, 603, 607]] = True
    across, down, count = text_extent(diff, 3)
    assert (across, down) == (9, 18)
    assert count == 18


def test_line_of_changed_characters_spans_its_width() -> None:
    """Ten changed characters in a row (every third sample column ink) span their width."""
    diff = mask()
    diff[200:204, 100:130:2] = True
    across, down, count = text_extent(diff, 3)
    assert across == 29 * 3
    assert down == 12
    assert count == 60
