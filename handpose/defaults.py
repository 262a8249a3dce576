"""The one table of defaults every front door reads: the Python API (``HandPipeline.create``), ``predict``,
``serve``, ``demo`` and ``gesture`` use ``PHOTO``, so the same photo gives the same hands through each;
``live`` uses ``VIDEO``, which trades a little accuracy for speed (and says so in its help)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defaults:
    backend: str  # "torch" | "onnx" | "onnx-int8" (see pose/inference.py)
    flip_test: bool  # average each crop's heatmaps with its mirror image's
    max_hands: int = 2  # the most hands per photo or frame


# Photos: fp32 ONNX with the flip test (on hgc_dev's photos the flip test gave AUC 0.741 / EPE 7.29 px against
# 0.735 / 7.38 without, for 1.4x the time; the model card has the commands).
PHOTO = Defaults(backend="onnx", flip_test=True)
# Video: int8 with the head quantised too, no flip test: about twice the frames a second on two hands.
VIDEO = Defaults(backend="onnx-int8", flip_test=False)
