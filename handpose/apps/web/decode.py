"""Uploaded bytes -> an RGB array, or an `UploadError` carrying the HTTP status and a readable message.

The bytes decide what the upload is, not the file name or the declared type: browsers guess a part's type
from its extension. The pixel count is read from the header before any pixel is decoded, so a small file
that claims to be a huge image (a decompression bomb) is refused without allocating it.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from ...errors import HandposeError

SUPPORTED = {"JPEG", "PNG"}
# Magic numbers of image formats we recognise but do not accept (answered 415, not 400).
OTHER_IMAGES = {
    b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
    b"\x00\x00\x01\x00": "ICO", b"8BPS": "PSD",
}


class UploadError(HandposeError):
    """A request the server refuses: ``status`` is the HTTP status (400, 413, 415)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with ("JPEG", "PNG", "GIF", ...), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIC/AVIF"
    for magic, name in OTHER_IMAGES.items():
        if data.startswith(magic):
            return name
    return None


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def decode_image(data: bytes, name: str = "image", max_bytes: int = 1_000_000,
                 max_pixels: int = 16_000_000) -> np.ndarray:
    """JPEG or PNG bytes -> (H, W, 3) uint8 RGB, upright (EXIF orientation applied)."""
    if not data:
        raise UploadError(400, f"{name}: the upload is empty (0 bytes)")
    if len(data) > max_bytes:
        raise UploadError(413, f"{name}: the file is {megabytes(len(data))}; the limit is {megabytes(max_bytes)}")
    kind = sniff(data)
    if kind is None:
        raise UploadError(400, f"{name}: not an image (expected a JPEG or PNG photo)")
    if kind not in SUPPORTED:
        raise UploadError(415, f"{name}: {kind} images are not supported; send a JPEG or PNG")
    try:
        img = Image.open(io.BytesIO(data), formats=[kind])  # reads the header only
        w, h = img.size
        if w * h > max_pixels or w < 1 or h < 1:
            raise UploadError(400, f"{name}: {w}x{h} is too many pixels to decode (the limit is "
                                   f"{max_pixels / 1e6:.0f} megapixels)")
        img.load()  # decodes; raises on a truncated or corrupt stream
        img = ImageOps.exif_transpose(img)  # the photo as the camera held it
        rgb = np.asarray(img.convert("RGB"))
    except UploadError:
        raise
    except Image.DecompressionBombError as e:  # PIL's own header check, for sizes far above ours
        raise UploadError(400, f"{name}: too many pixels to decode ({e})") from None
    except Exception as e:  # noqa: BLE001 - whatever the decoder trips on, the bytes are at fault, not the server
        raise UploadError(400, f"{name}: a truncated or corrupt {kind} file ({e})") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise UploadError(400, f"{name}: cannot read the {kind} pixels")
    return np.ascontiguousarray(rgb)
