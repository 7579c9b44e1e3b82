"""Grabbing monitors with mss: one mss.MSS per thread, frames as writable BGRA numpy arrays.

On a local X server, frames are grabbed with MIT-SHM straight into a shared-memory buffer this
module maps read-write, one per monitor, and the frame is a view of that buffer: mss's own grab
copies its (read-only) buffer into a new bytearray first, 8 MB and 0.6 ms of a core per 1080p
frame. The X requests go through mss's XCB bindings on mss's own connection. Where MIT-SHM is
missing (a remote display) or anything about it fails, frames come from mss.MSS.grab as before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from typing import Any

import mss
import numpy as np

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import Frame, Monitor, Pixels, Rect

__all__ = ["Frame", "Grabber"]


class _SharedBuffer:
    """A read-write memory segment the X server writes one monitor's pixels into."""

    def __init__(self, xcb: Any, conn: Any, size: int) -> None:
        fd = os.memfd_create("jarvis-frame", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            self.memory = mmap.mmap(fd, size, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        self.size = size
        self.segment = xcb.ShmSeg(xcb.generate_id(conn).value)
        try:
            xcb.shm_attach_fd(conn, self.segment, fd, read_only=False)  # XCB closes fd either way
        except BaseException:
            self.memory.close()
            raise

    def release(self) -> None:
        """Hand the pages back to the system; the next grab fills the segment anew."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.memory.madvise(mmap.MADV_REMOVE)

    def close(self, xcb: Any, conn: Any) -> None:
        with contextlib.suppress(Exception):
            xcb.shm_detach(conn, self.segment)
        # A frame still viewing the memory keeps it mapped until the frame is gone.
        with contextlib.suppress(BufferError):
            self.memory.close()


class _ShmGrabs:
    """MIT-SHM grabs into writable per-monitor buffers on one mss instance's X connection."""

    def __init__(self, impl: Any, xcb: Any, all_planes: int) -> None:
        self._impl, self._xcb, self._all_planes = impl, xcb, all_planes
        self._buffers: dict[int, _SharedBuffer] = {}

    @classmethod
    def attach(cls, sct: Any) -> _ShmGrabs | None:
        """Grabs for `sct`, or None where its backend is not XShmGetImage on a local server."""
        try:  # Linux-only modules of mss; elsewhere (and should mss change them) mss grabs
            from mss.linux import xcb
            from mss.linux.base import ALL_PLANES
            from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus
        except ImportError:
            return None
        impl = getattr(sct, "_impl", None)
        if not isinstance(impl, MSSImplXShmGetImage) or not hasattr(os, "memfd_create"):
            return None
        if impl.shm_status == ShmStatus.UNAVAILABLE:
            return None
        return cls(impl, xcb, ALL_PLANES)

    def grab(self, monitor: Monitor) -> Pixels:
        """Pixels of `monitor`, in its buffer; raises when the server refuses (no fallback here)."""
        rect, xcb, impl = monitor.rect, self._xcb, self._impl
        size = rect.width * rect.height * 4
        buffer = self._buffers.get(monitor.index)
        if buffer is None or buffer.size != size:
            if buffer is not None:
                buffer.close(xcb, impl.conn)
            buffer = self._buffers[monitor.index] = _SharedBuffer(xcb, impl.conn, size)
        reply = xcb.shm_get_image(
            impl.conn,
            impl.drawable,
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            self._all_planes,
            xcb.ImageFormat.ZPixmap,
            buffer.segment,
            0,
        )
        if reply.depth != impl.drawable_depth or reply.visual != impl.drawable_visual_id:
            raise PlatformError(
                f"the X server returned monitor {monitor.index} in depth {reply.depth}, not the "
                f"screen's {impl.drawable_depth}"
            )
        pixels = np.frombuffer(buffer.memory, dtype=np.uint8, count=size)
        return pixels.reshape(rect.height, rect.width, 4)

    def release(self) -> None:
        for buffer in self._buffers.values():
            buffer.release()

    def close(self) -> None:
        for buffer in self._buffers.values():
            buffer.close(self._xcb, self._impl.conn)
        self._buffers.clear()


class _Local(threading.local):
    sct: Any = None
    shm: _ShmGrabs | None = None


class Grabber:
    """The frame source of X11, macOS and Windows: mss grabs screen regions; each calling
    thread gets its own mss.MSS, created on first use."""

    def __init__(self) -> None:
        self._local = _Local()
        self._all: list[tuple[Any, _ShmGrabs | None]] = []
        self._lock = threading.Lock()

    def _mss(self) -> Any:
        local = self._local
        if local.sct is None:
            try:
                sct = mss.MSS()
            except mss.exception.ScreenShotError as exc:
                raise PlatformError(f"cannot open the screen for capture: {exc}") from exc
            local.sct, local.shm = sct, _ShmGrabs.attach(sct)
            with self._lock:
                self._all.append((sct, local.shm))
        return local.sct

    def monitors(self) -> list[Monitor]:
        """The monitors mss sees (0-based indices, as in capture metadata)."""
        found = self._mss().monitors[1:]
        return [
            Monitor(i, Rect(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"])))
            for i, m in enumerate(found)
        ]

    def grab(self, monitor: Monitor) -> Frame:
        sct = self._mss()
        shm = self._local.shm
        if shm is not None:
            try:
                return Frame(monitor, shm.grab(monitor))
            except Exception:
                shot = self._grab_copy(sct, monitor)  # raises when the request itself was bad
                # mss's own path works where ours did not (attach refused, segment lost): use it.
                shm.close()
                self._local.shm = None
        else:
            shot = self._grab_copy(sct, monitor)
        raw = shot.raw  # a bytearray the frame now owns, so redaction can write into it in place
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        if not pixels.flags.writeable:
            pixels = pixels.copy()
        return Frame(monitor, pixels)

    @staticmethod
    def _grab_copy(sct: Any, monitor: Monitor) -> Any:
        rect = monitor.rect
        region = {"left": rect.x, "top": rect.y, "width": rect.width, "height": rect.height}
        try:
            return sct.grab(region)
        except mss.exception.ScreenShotError as exc:
            raise PlatformError(f"could not grab monitor {monitor.index}: {exc}") from exc

    def release(self) -> None:
        """Free the frame buffers' memory until the next grab (call when no capture is running).

        Between two ticks of an agent that captures every few seconds no frame is kept: the
        last one's pixels are not left in memory, and 8 MB per 1080p monitor are not held.
        """
        with self._lock:
            grabs = [shm for _, shm in self._all if shm is not None]
        for shm in grabs:
            shm.release()

    def close(self) -> None:
        """Close every thread's mss instance (call when no capture is running)."""
        with self._lock:
            instances, self._all = self._all, []
        for sct, shm in instances:
            if shm is not None:
                shm.close()
            sct.close()
        self._local = _Local()
