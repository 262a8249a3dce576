"""What the result page shows: the photo with every hand drawn on it (as a data URL: nothing is written to
disk), a coordinate table per hand and the predict JSON as a download link."""
from __future__ import annotations

import base64
import json

import cv2
import numpy as np

from ...draw import draw_hand
from ...skeleton import BONES, JOINT_NAMES, bone_color, joint_color


def display_scale(width: int, height: int, smallest: int = 512, largest: int = 1024) -> float:
    """Scale for the drawn picture: small crops are enlarged so the bones stay crisp, big photos shrunk so the
    page stays light. The coordinates in the table and the JSON are always in the original pixels."""
    longest = max(width, height)
    return min(max(longest, smallest), largest) / longest


def drawn_data_url(rgb: np.ndarray, hands: list, quality: int = 90) -> str:
    h, w = rgb.shape[:2]
    s = display_scale(w, h)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if s != 1.0:
        size = (max(1, round(w * s)), max(1, round(h * s)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    for hand in hands:
        draw_hand(bgr, hand.keypoints * s, hand.scores, box=np.asarray(hand.box) * s, label=hand.label)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode("ascii")


def json_data_url(result: dict) -> str:
    text = json.dumps(result, indent=1) + "\n"
    return "data:application/json;base64," + base64.b64encode(text.encode()).decode("ascii")


def table_rows(hand_json: dict) -> list[dict]:
    return [{"index": i, "name": JOINT_NAMES[i], "x": x, "y": y, "score": s, "color": css_color(joint_color(i))}
            for i, (x, y, s) in enumerate(hand_json["keypoints"])]


def css_color(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


def skeleton_json() -> dict:
    """The layout a client needs to draw a hand itself (the live camera mode)."""
    return {
        "joints": list(JOINT_NAMES),
        "bones": [list(b) for b in BONES],
        "bone_colors": [css_color(bone_color(i)) for i in range(len(BONES))],
        "joint_colors": [css_color(joint_color(i)) for i in range(len(JOINT_NAMES))],
    }
