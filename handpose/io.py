"""Atomic file writes: a reader (or a crash) never sees half a file."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def atomic_write_image(path: str | Path, image_bgr) -> None:
    import cv2

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, image_bgr):
            raise OSError(f"{path}: could not encode image")

    atomic_write(path, write)


def content_hash(paths: Iterable[str | Path]):
    """A SHA-256 object fed the bytes of each of ``paths`` that is a file, in order (1 MiB at a time): what a
    cache keys a model file by, so that a file rewritten in place is another model."""
    digest = hashlib.sha256()
    for p in map(Path, paths):
        if p.is_file():
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest
