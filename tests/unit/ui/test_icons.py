"""The tray icon set: every state is distinguishable and visible on light and dark panels."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from jarvis_ui.icons import ICON_SIZES, TrayState, render_icon, state_icon

LIGHT_PANEL = QColor("#f2f2f2")
DARK_PANEL = QColor("#1f1f1f")


def _on_panel(image: QImage, panel: QColor) -> QImage:
    out = QImage(image.size(), QImage.Format.Format_RGB32)
    out.fill(panel)
    painter = QPainter(out)
    painter.drawImage(0, 0, image)
    painter.end()
    return out


def _pixels(image: QImage) -> list[tuple[int, int, int]]:
    return [
        image.pixelColor(x, y).getRgb()[:3]
        for y in range(image.height())
        for x in range(image.width())
    ]


def _changed_fraction(image: QImage, panel: QColor) -> float:
    """Share of pixels clearly different from the bare panel (what the eye sees as 'icon')."""
    bg = panel.getRgb()[:3]
    pixels = _pixels(_on_panel(image, panel))
    changed = [p for p in pixels if sum(abs(a - b) for a, b in zip(p, bg, strict=True)) > 90]
    return len(changed) / len(pixels)


@pytest.mark.parametrize("size", [16, 22, 32])
@pytest.mark.parametrize("state", list(TrayState))
def test_icon_stands_out_on_light_and_dark_panels(
    qapp: QApplication, state: TrayState, size: int
) -> None:
    """At panel sizes, a good part of every icon contrasts with both a light and a dark panel."""
    image = render_icon(state, size)
    for panel in (LIGHT_PANEL, DARK_PANEL):
        assert _changed_fraction(image, panel) > 0.25, (state, size, panel.name())


@pytest.mark.parametrize("size", [16, 32])
def test_states_look_different_from_each_other(qapp: QApplication, size: int) -> None:
    """No two states share an icon: each pair differs in many pixels, even at 16 px."""
    images = {s: _pixels(_on_panel(render_icon(s, size), DARK_PANEL)) for s in TrayState}
    states = list(TrayState)
    for i, a in enumerate(states):
        for b in states[i + 1 :]:
            differing = sum(
                1
                for pa, pb in zip(images[a], images[b], strict=True)
                if sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) > 90
            )
            assert differing / (size * size) > 0.1, (a, b, size)


def test_icon_holds_every_panel_size(qapp: QApplication) -> None:
    """The QIcon offers a crisp pixmap at each size panels ask for, not a blurry rescale."""
    icon = state_icon(TrayState.PAUSED)
    available = {s.width() for s in icon.availableSizes()}
    assert available >= set(ICON_SIZES)


def test_every_state_has_a_label() -> None:
    """Each state has a short human label used in the tooltip and status window."""
    assert TrayState.PAUSED.label == "Paused"
    assert all(state.label for state in TrayState)
