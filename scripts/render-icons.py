"""Render packaging/icons/jarvis.svg into the PNG, ICO and ICNS files the packages ship.

Run after editing the SVG: `uv run python scripts/render-icons.py`. Uses Qt's SVG renderer
(offscreen, no display needed) and Pillow for the Windows and macOS icon containers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "packaging" / "icons"
SVG = ICONS / "jarvis.svg"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_APP: list[object] = []


def render_png(size: int, target: Path) -> None:
    """Draw the SVG into a transparent size x size PNG."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        _APP.append(QGuiApplication([]))  # Qt needs an application object while it paints
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(target), "PNG"):
        raise SystemExit(f"could not write {target}")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    hicolor = ICONS / "hicolor"
    for size in HICOLOR_SIZES:
        render_png(size, hicolor / f"{size}x{size}" / "apps" / "jarvis.png")
    big = ICONS / "jarvis-1024.png"
    render_png(1024, big)
    with Image.open(big) as image:
        image.save(ICONS / "jarvis.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
        image.save(ICONS / "jarvis.icns")
    big.unlink()
    render_png(256, ICONS / "jarvis-256.png")
    print(f"rendered {len(HICOLOR_SIZES)} hicolor sizes, jarvis.ico and jarvis.icns into {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
