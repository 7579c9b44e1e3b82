"""Made-up screens with real text drawn at known places, to upload as captures (the timeline's
tests and its README screenshots)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw, ImageFont

_FONT: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_MONO: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


@dataclass(frozen=True)
class Screen:
    data: bytes  # JPEG
    width: int
    height: int
    words: dict[str, tuple[int, int, int, int]]  # word -> (x, y, w, h) in image pixels


def render_screen(
    title: str,
    lines: list[str],
    *,
    size: tuple[int, int] = (1280, 720),
    dark: bool = False,
    accent: tuple[int, int, int] = (43, 108, 176),
) -> Screen:
    """A window with a title bar and lines of text; where each word was drawn."""
    width, height = size
    background = (30, 32, 38) if dark else (250, 250, 248)
    ink = (220, 224, 230) if dark else (30, 34, 40)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 44), fill=accent)
    draw.text((16, 10), title, font=ImageFont.truetype(_FONT, 20), fill=(255, 255, 255))
    font = ImageFont.truetype(_MONO if dark else _FONT, 26)
    words: dict[str, tuple[int, int, int, int]] = {}
    y = 80
    for line in lines:
        x = 40
        for word in line.split():
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, font=font, fill=ink)
            words.setdefault(word, (left, top, right - left, bottom - top))
            x = right + int(font.getlength(" "))
        y += 44
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return Screen(out.getvalue(), width, height, words)
