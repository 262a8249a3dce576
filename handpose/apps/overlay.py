"""What live draws over a frame: each tracked hand with its label, and a band with the frame rate and each
stage's milliseconds."""
from __future__ import annotations

import cv2
import numpy as np

from ..draw import draw_hand

STAGES = ("read", "find", "track", "side", "smooth", "gesture", "draw", "write")  # live's per-frame timings


def draw_overlay(bgr: np.ndarray, tracks, fps: float, ms: dict, found: bool, mirror: bool) -> np.ndarray:
    for tr in tracks:
        shown = tr.shown
        draw_hand(bgr, tr.keypoints, box=tr.hand.box, label=f"#{tr.id} {shown.label}")
    state = "finding" if found else "tracking"
    lines = [f"FPS {fps:5.1f}  {state}  hands {len(tracks)}" + ("  mirror" if mirror else ""),
             "  ".join(f"{s} {ms.get(s, 0.0):.1f}" for s in STAGES) + " ms"]
    scale = max(0.4, bgr.shape[0] / 900)
    height = int(22 * scale / 0.4 * 0.9)
    cv2.rectangle(bgr, (0, 0), (bgr.shape[1], height * len(lines) + 6), (0, 0, 0), -1)
    for i, text in enumerate(lines):
        cv2.putText(bgr, text, (6, height * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr
