"""Rendered screenshots with known text, for OCR tests and benchmarks/ocr.py.

Drawn with Pillow and Debian's DejaVu fonts (fonts-dejavu-core, which xterm and Xvfb bring), so
the words and where they were drawn are known exactly.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

FONTS: Final = Path("/usr/share/fonts/truetype/dejavu")
MONO: Final = FONTS / "DejaVuSansMono.ttf"
SANS: Final = FONTS / "DejaVuSans.ttf"
SERIF: Final = FONTS / "DejaVuSerif.ttf"

VOCABULARY: Final = [
    "invoice",
    "quarterly",
    "report",
    "kubernetes",
    "deployment",
    "meeting",
    "agenda",
    "budget",
    "customer",
    "release",
    "pipeline",
    "database",
    "migration",
    "server",
    "latency",
    "throughput",
    "approval",
    "contract",
    "signature",
    "schedule",
    "holiday",
    "vacation",
    "payment",
    "receipt",
    "shipping",
    "warehouse",
    "inventory",
    "monitor",
    "keyboard",
    "terminal",
    "session",
    "password",
    "reminder",
    "calendar",
    "weather",
    "forecast",
    "museum",
    "library",
    "novel",
    "chapter",
    "garden",
    "recipe",
    "tomato",
    "onion",
    "garlic",
    "pepper",
    "salmon",
    "orange",
    "purple",
    "yellow",
    "network",
    "router",
    "firewall",
    "backup",
    "restore",
    "archive",
    "journal",
    "editor",
    "compiler",
    "function",
    "variable",
]


@dataclass
class Screen:
    """An image and every word drawn on it with its box (x, y, w, h)."""

    image: Image.Image
    words: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)

    def encode(self, fmt: str = "JPEG") -> bytes:
        out = io.BytesIO()
        self.image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return out.getvalue()

    def box_of(self, word: str) -> tuple[int, int, int, int]:
        return next(box for w, box in self.words if w == word)


def _write(
    screen: Screen,
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    words: list[str],
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int],
) -> None:
    x, y = xy
    space = int(font.getlength(" "))
    for word in words:
        left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        draw.text((x, y), word, font=font, fill=fill)
        screen.words.append((word, (left, top, right - left, bottom - top)))
        x = right + space


def text_screen(
    lines: list[str],
    *,
    size: tuple[int, int] = (900, 300),
    dark: bool = False,
    font_size: int = 18,
) -> Screen:
    """A small terminal-like screen with these lines (for fast tests)."""
    ground, ink = ((24, 24, 24), (90, 230, 90)) if dark else ((255, 255, 255), (0, 0, 0))
    screen = Screen(Image.new("RGB", size, ground))
    draw = ImageDraw.Draw(screen.image)
    font = ImageFont.truetype(str(MONO), font_size)
    for i, line in enumerate(lines):
        _write(screen, draw, (16, 16 + i * int(font_size * 1.6)), line.split(), font, ink)
    return screen


def _lines(rng: random.Random, count: int, per_line: int) -> list[list[str]]:
    return [[rng.choice(VOCABULARY) for _ in range(per_line)] for _ in range(count)]


def terminal(seed: int, *, dark: bool) -> Screen:
    """A 1080p terminal full of text, light or dark."""
    rng = random.Random(seed)
    ground, ink = ((12, 12, 12), (80, 220, 80)) if dark else ((250, 250, 250), (30, 30, 30))
    screen = Screen(Image.new("RGB", (1920, 1080), ground))
    draw = ImageDraw.Draw(screen.image)
    font = ImageFont.truetype(str(MONO), 16)
    for i, words in enumerate(_lines(rng, 40, 10)):
        _write(screen, draw, (12, 12 + i * 26), words, font, ink)
    return screen


def browser(seed: int) -> Screen:
    """A 1080p web-article-like page: a dark header bar, a sidebar, and body paragraphs."""
    rng = random.Random(seed)
    screen = Screen(Image.new("RGB", (1920, 1080), (255, 255, 255)))
    draw = ImageDraw.Draw(screen.image)
    draw.rectangle((0, 0, 1920, 90), fill=(40, 44, 52))
    title = ImageFont.truetype(str(SANS), 30)
    body = ImageFont.truetype(str(SERIF), 19)
    side = ImageFont.truetype(str(SANS), 16)
    _write(
        screen, draw, (40, 25), [rng.choice(VOCABULARY) for _ in range(5)], title, (255, 255, 255)
    )
    draw.rectangle((1500, 90, 1920, 1080), fill=(236, 239, 244))
    for i, words in enumerate(_lines(rng, 22, 11)):
        _write(screen, draw, (80, 130 + i * 40), words, body, (20, 20, 20))
    for i, words in enumerate(_lines(rng, 24, 3)):
        _write(screen, draw, (1530, 130 + i * 36), words, side, (50, 60, 90))
    return screen


def table(seed: int) -> Screen:
    """A 1080p spreadsheet-like table with grid lines and a dark header row."""
    rng = random.Random(seed)
    screen = Screen(Image.new("RGB", (1920, 1080), (255, 255, 255)))
    draw = ImageDraw.Draw(screen.image)
    font = ImageFont.truetype(str(SANS), 17)
    columns, rows, cell_w, cell_h = 7, 26, 260, 40
    draw.rectangle((20, 20, 20 + columns * cell_w, 20 + cell_h), fill=(30, 60, 120))
    for r in range(rows):
        for c in range(columns):
            x, y = 20 + c * cell_w, 20 + r * cell_h
            draw.rectangle((x, y, x + cell_w, y + cell_h), outline=(190, 190, 190))
            ink = (255, 255, 255) if r == 0 else (20, 20, 20)
            word = rng.choice(VOCABULARY) if (r + c) % 3 else str(rng.randint(10, 99999))
            _write(screen, draw, (x + 10, y + 10), [word], font, ink)
    return screen


def benchmark_set() -> list[tuple[str, Screen]]:
    """The fixed set benchmarks/ocr.py measures: terminals light and dark, a page, a table."""
    return [
        ("terminal-light", terminal(1, dark=False)),
        ("terminal-dark", terminal(2, dark=True)),
        ("browser-page", browser(3)),
        ("table", table(4)),
    ]
