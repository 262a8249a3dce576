"""The hand detector: CenterNet-style boxes (hands' keypoint boxes) with scores, for whole photos and frames."""
from .infer import Detection, HandDetector, load_detector

__all__ = ["Detection", "HandDetector", "load_detector"]
