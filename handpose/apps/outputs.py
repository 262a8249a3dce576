"""What live writes: an annotated video and JSON lines, each under a temporary name renamed into place only
when the run ends well (an interrupted file run leaves nothing half written)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..errors import HandposeError


class AtomicOutput:
    """A file written under a temporary name beside its destination and renamed into place on commit."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp" + self.path.suffix, dir=self.path.parent)
        os.close(fd)

    def finish(self, commit: bool) -> None:
        if commit:
            os.replace(self.tmp, self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)


class VideoOutput(AtomicOutput):
    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        super().__init__(path)
        self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            self.finish(False)
            raise HandposeError(f"{path}: cannot write a video here (use an .mp4 name)")

    def write(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)

    def finish(self, commit: bool) -> None:
        if hasattr(self, "writer"):
            self.writer.release()
        super().finish(commit)


class JsonlOutput(AtomicOutput):
    def __init__(self, path: str | Path):
        super().__init__(path)
        self.file = open(self.tmp, "w")

    def write(self, obj: dict) -> None:
        self.file.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def finish(self, commit: bool) -> None:
        self.file.close()
        super().finish(commit)
