"""Where live frames come from: every frame of a video file in order, decoded one step ahead on a thread, or
the newest frame of a camera or stream, read on a capture thread that drops what the loop had no time for
(so a slow frame never builds up lag)."""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import HandposeError


@dataclass
class Frame:
    index: int
    time: float  # seconds: position in a file, capture time since start for a camera
    bgr: np.ndarray


class FileSource:
    """Every frame of a video file, in order, decoded one step ahead on a thread."""

    live = False

    def __init__(self, path: str):
        if not Path(path).is_file():
            raise HandposeError(f"{path}: video file not found")
        self.cap = cv2.VideoCapture(path)
        if not self.cap.isOpened():
            raise HandposeError(f"{path}: not a readable video")
        self.name = path
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._decode, daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        i = 0
        while not self._stop.is_set():
            ok, bgr = self.cap.read()
            item = Frame(i, i / self.fps, bgr) if ok else None
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item is None:
                return
            i += 1

    def read(self) -> Frame | None:
        return self._queue.get()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.cap.release()


class CameraSource:
    """A camera index or a stream URL, read on a thread that keeps only the newest frame."""

    live = True

    def __init__(self, spec: str):
        self.name = f"camera {spec}" if spec.isdigit() else f"stream {spec}"
        try:  # OpenCV's own warnings about a missing device would bury our message
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except AttributeError:
            pass
        self.cap = cv2.VideoCapture(int(spec) if spec.isdigit() else spec)
        ok, bgr = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok:
            self.cap.release()
            raise HandposeError(
                f"{self.name}: cannot be opened or gives no frames (no camera here, or it is in use). "
                "To run on a video file instead, pass --source FILE (e.g. --source hand.mp4)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and 1 <= fps <= 240 else 30.0
        self.start = time.perf_counter()
        self.dropped = 0  # frames overwritten before anyone read them
        self._latest: Frame | None = Frame(0, 0.0, bgr)
        self._count = 1
        self._done = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._capture, daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        while True:
            ok, bgr = self.cap.read()
            with self._cond:
                if self._done or not ok:
                    self._done = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1
                self._latest = Frame(self._count, time.perf_counter() - self.start, bgr)
                self._count += 1
                self._cond.notify_all()

    def read(self) -> Frame | None:
        """The newest frame not yet handed out (waits for one); None when the camera stops."""
        with self._cond:
            while self._latest is None and not self._done:
                self._cond.wait()
            frame, self._latest = self._latest, None
            return frame

    def close(self) -> None:
        with self._cond:
            self._done = True
        self._thread.join(timeout=2)
        self.cap.release()


def open_source(spec: str) -> FileSource | CameraSource:
    if spec.isdigit() or "://" in spec or spec.startswith("/dev/video"):
        return CameraSource(spec)
    return FileSource(spec)
