"""Text extraction from one image: Tesseract 5 through tesserocr, with Debian's language data.

Page segmentation 11 (sparse text: a screenshot is not a page) finds words anywhere, and dark
regions are inverted first: Tesseract reads dark text on light ground, and without the inversion
a light-on-dark terminal is lost whole (measured on the testbed: 98.6 % of the words with it,
79 % without; benchmarks/ocr.py measures it again on rendered screenshots).

One `OcrEngine` holds one Tesseract instance, which is not thread-safe. The text worker runs it in
a child process of its own at the lowest CPU priority (`init_child`, `read_in_child`): uploads
and the event loop never share a GIL with it, and on a busy machine the kernel gives them the
CPU first (measured by benchmarks/ingest.py, with and without the worker).
"""

from __future__ import annotations

import ctypes
import io
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from jarvis_server.errors import JarvisServerError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "OcrEngine",
    "OcrError",
    "OcrWord",
    "init_child",
    "installed_languages",
    "preprocess",
    "read_in_child",
]

# Page segmentation mode 11: "sparse text, find as much text as possible in no particular order".
_PSM_SPARSE: Final = 11
# Below this grey level (after a wide blur) a region counts as dark ground and is inverted.
_DARK_BELOW: Final = 110
_BLUR_RADIUS: Final = 20
# Tesseract's own confidence below which a "word" is almost always noise (icons, borders).
_MIN_CONFIDENCE: Final = 30.0


class OcrError(JarvisServerError):
    """The image could not be read or recognised; the message says why."""


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One recognised word and its box in image pixels."""

    text: str
    x: int
    y: int
    w: int
    h: int
    line: int  # words of one text line share the number, in reading order


def installed_languages(tessdata: Path) -> set[str]:
    """The languages whose traineddata is in `tessdata` (e.g. {"eng", "osd"})."""
    if not tessdata.is_dir():
        return set()
    return {p.stem for p in tessdata.glob("*.traineddata")}


def preprocess(image: Image.Image) -> Image.Image:
    """Grey, with every dark region inverted so that all text is dark on light."""
    from PIL import ImageFilter, ImageOps

    grey = ImageOps.grayscale(image)
    ground = grey.filter(ImageFilter.BoxBlur(_BLUR_RADIUS))
    mask = ground.point(lambda v: 255 if v < _DARK_BELOW else 0)
    inverted = ImageOps.invert(grey)
    grey.paste(inverted, (0, 0), mask)
    return grey


class OcrEngine:
    """Tesseract with the given languages ("eng", "eng+deu"); create and use in one thread."""

    def __init__(self, tessdata: Path, languages: str) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        # tesserocr wants the directory with a trailing separator.
        self._api = tesserocr.PyTessBaseAPI(
            path=str(tessdata).rstrip("/") + "/",
            lang=languages,
            psm=tesserocr.PSM.SPARSE_TEXT,
        )
        assert int(tesserocr.PSM.SPARSE_TEXT) == _PSM_SPARSE

    def close(self) -> None:
        self._api.End()

    def read(self, data: bytes) -> list[OcrWord]:
        """The words of an encoded image (JPEG, PNG, WebP), in reading order."""
        # Imported here, in the OCR process: the server imports this module before it listens.
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = preprocess(opened)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise OcrError(f"the image cannot be decoded ({exc})") from exc
        return self.read_image(image)

    def read_image(self, image: Image.Image) -> list[OcrWord]:
        ril = self._tesserocr.RIL
        api = self._api
        api.SetImage(image)
        if not api.Recognize():
            raise OcrError("Tesseract could not recognise the image")
        words: list[OcrWord] = []
        iterator = api.GetIterator()
        line = -1
        if iterator is None:
            return words
        while True:
            if iterator.IsAtBeginningOf(ril.TEXTLINE):
                line += 1
            text = iterator.GetUTF8Text(ril.WORD)
            box = iterator.BoundingBox(ril.WORD)
            if text and box is not None and iterator.Confidence(ril.WORD) >= _MIN_CONFIDENCE:
                text = "".join(text.split())  # a "word" never holds whitespace
                x1, y1, x2, y2 = box
                if text:
                    words.append(OcrWord(text, x1, y1, x2 - x1, y2 - y1, max(line, 0)))
            if not iterator.Next(ril.WORD):
                break
        api.Clear()
        return words


_child_engine: OcrEngine | None = None
_LOWEST_PRIORITY: Final = 19
_PR_SET_PDEATHSIG: Final = 1


def init_child(tessdata: Path, languages: str, server_pid: int) -> None:
    """Start-up of the OCR process (a child of the server `server_pid`): the lowest CPU
    priority, and one engine for its life."""
    global _child_engine
    if sys.platform == "linux":
        # Ends with the server however the server ends (even kill -9): an orphan would wait
        # for work forever.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # A server killed while this process started, before the line above, sends nothing.
        if os.getppid() != server_pid:
            os._exit(0)
    if hasattr(os, "nice"):
        os.nice(_LOWEST_PRIORITY - os.nice(0))
    _child_engine = OcrEngine(tessdata, languages)


def read_in_child(data: bytes) -> list[OcrWord]:
    """The words of one encoded image, read in the OCR process."""
    if _child_engine is None:
        raise OcrError("the OCR process was not started with init_child")
    return _child_engine.read(data)
