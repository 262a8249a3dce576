"""What a hand shows, from its 21 keypoints: MediaPipe's canned gestures (None, Closed_Fist, Open_Palm,
Pointing_Up, Thumb_Down, Thumb_Up, Victory, ILoveYou) or a classifier trained on the user's own photos."""
from .classifier import DEFAULT_GESTURES, NONE, GestureClassifier, load_gestures

__all__ = ["DEFAULT_GESTURES", "NONE", "GestureClassifier", "load_gestures"]
