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
    recrops: int = 2  # pose passes re-cropped from the keypoints after a detection (MediaPipe's second ROI)
    # Crops made from keypoints (re-crops, tracking) turned so the hand points up, as the pose model saw most
    # hands in training (docs/predict.md; for video, docs/realdata.md).
    upright: bool = True


# Photos: int8 with the flip test and one re-crop, chosen stage by stage on the first half of hgc_dev's photos
# and reported on the second (bench/predict_path.py; docs/predict.md has the table): the flip test paid there,
# int8 and a second re-crop did not.
PHOTO = Defaults(backend="onnx-int8", flip_test=True, recrops=1)  # upright re-crop: chosen the same way
# Video: int8 with the head quantised too, no flip test: about twice the frames a second on two hands. Tracking
# crops are not turned: a turn taken frame after frame from last frame's keypoints found fewer hands on the
# training clips than crops in the frame's own orientation (docs/realdata.md), unlike photos' single re-crop.
# A new hand gets one re-crop: on the training clips none found fewer hands and two no more, at more cost per search.
VIDEO = Defaults(backend="onnx-int8", flip_test=False, recrops=1, upright=False)
