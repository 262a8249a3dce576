"""The 21-joint hand layout (FreiHAND / MediaPipe order): the one source every other module reads."""
from __future__ import annotations

FINGERS = ("thumb", "index", "middle", "ring", "little")

JOINT_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger, parts in zip(FINGERS, [("cmc", "mcp", "ip", "tip")] + [("mcp", "pip", "dip", "tip")] * 4)
    for part in parts
)
NUM_JOINTS = len(JOINT_NAMES)  # 21

# Each finger is a chain wrist -> base -> ... -> tip: 4 bones a finger, 20 in all.
BONES: tuple[tuple[int, int], ...] = tuple(
    pair
    for f in range(5)
    for pair in zip((0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f), (1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f))
)

# The "categories" entry of every COCO keypoints file the project writes (COCO skeletons are 1-based).
COCO_CATEGORIES = [{"id": 1, "name": "hand", "supercategory": "hand", "keypoints": list(JOINT_NAMES),
                    "skeleton": [[a + 1, b + 1] for a, b in BONES]}]

# Index of the finger (0 thumb .. 4 little) each joint belongs to; the wrist is drawn in the palm colour.
JOINT_FINGER: tuple[int, ...] = (-1,) + tuple(f for f in range(5) for _ in range(4))

# BGR colours for drawing (OpenCV order), one per finger, then the wrist/palm.
FINGER_COLORS_BGR: tuple[tuple[int, int, int], ...] = (
    (0, 0, 255),  # thumb: red
    (0, 165, 255),  # index: orange
    (0, 220, 0),  # middle: green
    (255, 128, 0),  # ring: blue
    (255, 0, 200),  # little: magenta
)
PALM_COLOR_BGR = (200, 200, 200)


def joint_color(joint: int) -> tuple[int, int, int]:
    finger = JOINT_FINGER[joint]
    return PALM_COLOR_BGR if finger < 0 else FINGER_COLORS_BGR[finger]


def bone_color(bone: int) -> tuple[int, int, int]:
    return FINGER_COLORS_BGR[bone // 4]
