"""KWin's logical window geometry in frame pixels: each output's scale and place, outwards."""

from __future__ import annotations

from jarvis_platform.kwin_layout import windows_from_report
from jarvis_platform.sway_layout import layout_outputs
from jarvis_platform.types import Rect

VAULT = "9a0e5b4c-1111-4222-8333-944455556666"


def _outputs(*specs: tuple[int, int, int, int, float]) -> list[dict[str, object]]:
    return [
        {
            "name": f"Virtual-{n}",
            "active": True,
            "transform": "normal",
            "rect": {"x": x, "y": y, "width": w, "height": h},
            "scale": s,
            "current_mode": {"width": round(w * s), "height": round(h * s)},
        }
        for n, (x, y, w, h, s) in enumerate(specs)
    ]


def _window(x: float, y: float, width: float, height: float, **extra: object) -> dict[str, object]:
    return {"id": VAULT, "caption": "vault", "resourceClass": "KeePassXC", "x": x, "y": y} | {
        "width": width,
        "height": height,
        **extra,
    }


def test_fractional_geometry_at_scale_one_and_a_half_is_rounded_outwards() -> None:
    """A window at logical (101.3, 77) sized 301 x 203.1 covers device pixels 151.95 to 603.45
    and 115.5 to 420.15 at scale 1.5: it takes pixels 151-603 and 115-420, the half-covered
    edge pixels included."""
    outputs = layout_outputs(_outputs((0, 0, 1280, 720, 1.5)))
    [window] = windows_from_report({"windows": [_window(101.3, 77, 301, 203.1)]}, outputs)
    assert window.rect == Rect(151, 115, 604 - 151, 421 - 115)


def test_window_across_two_outputs_is_a_piece_on_each_in_their_own_pixels() -> None:
    """Two outputs at scale 2 side by side: a window across the seam is two pieces, each in its
    monitor's pixels (the second monitor starts at logical 960 times 2)."""
    outputs = layout_outputs(_outputs((0, 0, 960, 540, 2.0), (960, 0, 960, 540, 2.0)))
    pieces = windows_from_report({"windows": [_window(900, 10, 120, 50)]}, outputs)
    assert [p.rect for p in pieces] == [Rect(1800, 20, 120, 100), Rect(1920, 20, 120, 100)]
    assert {p.id for p in pieces} == {pieces[0].id}


def test_minimized_or_elsewhere_windows_are_hidden_and_cover_nothing() -> None:
    """A minimized window, one on another desktop and one off every output are listed hidden."""
    outputs = layout_outputs(_outputs((0, 0, 1920, 1080, 1.0)))
    report = {
        "windows": [
            _window(10, 10, 100, 100, minimized=True),
            _window(10, 10, 100, 100, onCurrent=False),
            _window(5000, 10, 100, 100),
        ]
    }
    found = windows_from_report(report, outputs)
    assert [(w.hidden, w.rect.empty) for w in found] == [(True, True)] * 3
