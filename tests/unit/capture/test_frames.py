"""Frame processing without a screen: redaction, change check, encoding, capture ids."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from jarvis_agent.capture.change import ChangeDetector, sample_pixels
from jarvis_agent.capture.encode import encode_frame, make_thumbnail
from jarvis_agent.capture.ids import new_capture_id
from jarvis_agent.capture.pipeline import PipelineOptions
from jarvis_agent.capture.redact import redact
from jarvis_platform import Rect

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def white_frame(width: int = 640, height: int = 400) -> np.ndarray:
    return np.full((height, width, 4), 255, dtype=np.uint8)


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_redaction_blacks_out_exactly_the_rectangles_clipped_to_the_frame() -> None:
    """Redacted rectangles are pure black; pixels outside them are untouched."""
    frame = white_frame()
    count = redact(frame, [Rect(10, 20, 30, 40), Rect(600, 380, 100, 100), Rect(900, 900, 5, 5)])
    assert count == 2
    assert (frame[20:60, 10:40, :3] == 0).all()
    assert (frame[380:, 600:, :3] == 0).all()
    assert (frame[0:20, :, :3] == 255).all()
    assert int((frame[:, :, :3] == 0).all(axis=2).sum()) == 30 * 40 + 40 * 20


def test_unchanged_frame_is_skipped_until_the_maximum_gap() -> None:
    """The same picture again is skipped; after max_gap_seconds it is captured anyway."""
    detector = ChangeDetector()
    frame = white_frame()
    verdict, sample = detector.check(0, frame, NOW, threshold=0.001, max_gap_seconds=60)
    assert verdict.capture
    detector.accept(0, sample, NOW)
    again, _ = detector.check(
        0, frame.copy(), NOW + timedelta(seconds=15), threshold=0.001, max_gap_seconds=60
    )
    assert not again.capture
    assert "unchanged" in again.reason
    late, _ = detector.check(
        0, frame, NOW + timedelta(seconds=60), threshold=0.001, max_gap_seconds=60
    )
    assert late.capture
    assert "60 s since the last capture" in late.reason


def test_a_changed_line_of_text_is_a_change_and_small_changes_add_up() -> None:
    """A new 200x16 px line of text is a change; the reference is the last captured frame."""
    detector = ChangeDetector()
    frame = white_frame(1920, 1080)
    _, sample = detector.check(0, frame, NOW, threshold=0.001, max_gap_seconds=600)
    detector.accept(0, sample, NOW)
    typed = frame.copy()
    typed[500:516, 100:300, :3] = 0
    verdict, _ = detector.check(0, typed, NOW, threshold=0.001, max_gap_seconds=600)
    assert verdict.capture
    tiny = frame.copy()
    tiny[500:516, 100:108, :3] = 0  # one character: below the threshold
    verdict, _ = detector.check(0, tiny, NOW, threshold=0.001, max_gap_seconds=600)
    assert not verdict.capture


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080), (3840, 2160)])
def test_one_changed_character_is_seen_at_every_resolution(width: int, height: int) -> None:
    """With threshold 0 a single changed 8x16 px character is a change wherever it is drawn,
    on a laptop screen, at 1080p and at 4K (the sample gets coarser as the screen grows)."""
    detector = ChangeDetector()
    frame = white_frame(width, height)
    _, sample = detector.check(0, frame, NOW, threshold=0.0, max_gap_seconds=600)
    detector.accept(0, sample, NOW)
    for x, y in [(0, 0), (width // 2 + 1, height // 3 + 2), (width - 8, height - 16)]:
        typed = frame.copy()
        typed[y : y + 16, x : x + 8, :3] = 0
        verdict, _ = detector.check(0, typed, NOW, threshold=0.0, max_gap_seconds=600)
        assert verdict.capture, (x, y)


def test_change_state_is_per_monitor_and_force_always_captures() -> None:
    """Each monitor has its own reference; force captures regardless."""
    detector = ChangeDetector()
    frame = white_frame()
    _, sample = detector.check(0, frame, NOW, threshold=0.0, max_gap_seconds=600)
    detector.accept(0, sample, NOW)
    assert detector.check(1, frame, NOW, threshold=0.0, max_gap_seconds=600)[0].capture
    forced, _ = detector.check(0, frame, NOW, threshold=0.0, max_gap_seconds=600, force=True)
    assert forced.capture


@pytest.mark.parametrize(
    ("image_format", "mime"),
    [("jpeg", "image/jpeg"), ("webp", "image/webp"), ("png", "image/png")],
)
def test_encoded_image_decodes_to_the_frame_with_its_hash(image_format: str, mime: str) -> None:
    """Every format decodes back to the frame's picture; sha256/byte_size describe the bytes."""
    frame = white_frame()
    frame[100:200, 100:300, :3] = (0, 0, 255)  # BGRA: red
    encoded = encode_frame(frame, image_format)  # type: ignore[arg-type]
    assert encoded.mime_type == mime
    assert encoded.sha256 == hashlib.sha256(encoded.data).hexdigest()
    assert encoded.byte_size == len(encoded.data)
    image = decode(encoded.data)
    assert image.size == (640, 400)
    red = image.getpixel((200, 150))
    assert red[0] > 230
    assert max(red[1], red[2]) < 30
    assert min(image.getpixel((10, 10))) > 240


def test_max_dimension_bounds_the_longest_side_and_keeps_the_aspect() -> None:
    """With max_dimension 1280 a 1920x1080 frame becomes 1280x720."""
    encoded = encode_frame(white_frame(1920, 1080), "jpeg", max_dimension=1280)
    assert (encoded.width, encoded.height) == (1280, 720)
    assert decode(encoded.data).size == (1280, 720)
    small = encode_frame(white_frame(640, 400), "jpeg", max_dimension=1280)
    assert (small.width, small.height) == (640, 400)


def test_thumbnail_is_a_small_jpeg() -> None:
    """The tray's thumbnail is a JPEG at most 320 px on its longest side."""
    thumb = decode(make_thumbnail(white_frame(1920, 1080)))
    assert max(thumb.size) <= 320


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160), (1366, 768)])
def test_thumbnail_from_the_change_sample_shows_the_redacted_picture(
    width: int, height: int
) -> None:
    """The thumbnail made from the change check's sample is 320 px wide, in the frame's aspect,
    with the frame's colours where they are and its redacted area black."""
    frame = white_frame(width, height)
    frame[: height // 2, : width // 2, :3] = (0, 0, 255)  # BGRA: red top-left quarter
    redact(frame, [Rect(width // 2, height // 2, width // 2, height // 2)])
    _, sample = ChangeDetector().check(0, frame, NOW, threshold=0.001, max_gap_seconds=60)
    thumb = decode(make_thumbnail(sample_pixels(sample)))
    assert thumb.width == 320
    assert abs(thumb.height - round(320 * height / width)) <= 1
    w, h = thumb.size
    red = thumb.getpixel((w // 4, h // 4))
    assert red[0] > 230
    assert max(red[1], red[2]) < 30
    assert max(thumb.getpixel((w * 3 // 4, h * 3 // 4))) < 20  # redacted: black
    assert min(thumb.getpixel((w * 3 // 4, h // 4))) > 230  # untouched: white


def test_capture_ids_are_uuid7_and_increase() -> None:
    """Capture ids are version-7 UUIDs and sort in creation order."""
    ids = [new_capture_id() for _ in range(50)]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"image_format": "gif"}, 'capture.image_format = "gif" is not one of the choices.*webp'),
        ({"quality": 0}, "capture.quality = 0 is too small; use a whole number from 1 to 100"),
        ({"max_dimension": 10}, "capture.max_dimension = 10 is too small.*from 256"),
        ({"change_threshold": 1.5}, "capture.change_threshold = 1.5 is too large.*below 1"),
        ({"max_gap_seconds": 0}, "capture.max_gap_seconds = 0 is too small.*above 0"),
        ({"monitors": frozenset({-1})}, "capture.monitors.0 = -1 is too small"),
    ],
)
def test_bad_pipeline_options_name_the_option_and_the_allowed_values(
    changes: dict[str, object], fragment: str
) -> None:
    """Invalid options are refused with a message naming the option and what is allowed: the
    config's own bounds (`CaptureSettings`), not a second copy."""
    with pytest.raises(ValueError, match=fragment):
        PipelineOptions(**changes)  # type: ignore[arg-type]
