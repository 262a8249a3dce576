"""handpose: 2D hand pose estimation (21 keypoints) with Simple Baselines, hand finding, left/right and gestures.

``HandPipeline.create()(photo)`` gives the hands ``handpose predict photo`` gives (defaults.PHOTO)."""
from .pipeline import HandPipeline
from .codec import HeatmapCodec
from .pose.inference import Hand, PoseEstimator
from .pose.model import build_model
from .skeleton import BONES, JOINT_NAMES, NUM_JOINTS

__version__ = "0.1.0"
__all__ = ["HandPipeline", "PoseEstimator", "Hand", "HeatmapCodec", "build_model", "BONES", "JOINT_NAMES",
           "NUM_JOINTS"]
