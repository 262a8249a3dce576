"""Which hand: the person's left or right, from a palm-side classifier and the keypoints' turning sense.

A 2D hand seen from its palm and the other hand seen from its back are mirror images, so the keypoints
alone cannot tell left from right; what can is which side of the hand faces the camera. ``PalmNet`` says
that (an appearance question: nails and knuckles or palm creases), and the keypoints' turning sense
(wrist -> index knuckle -> little-finger knuckle, ``chirality``) turns it into left or right.
"""
from .infer import SideClassifier, chirality, load_side_classifier, right_logit

__all__ = ["SideClassifier", "chirality", "load_side_classifier", "right_logit"]
