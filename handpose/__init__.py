"""handpose: 2D hand pose estimation (21 keypoints) with Simple Baselines."""
from .codec import HeatmapCodec
from .model import build_model
from .skeleton import BONES, JOINT_NAMES, NUM_JOINTS

__version__ = "0.1.0"
__all__ = ["HeatmapCodec", "build_model", "BONES", "JOINT_NAMES", "NUM_JOINTS"]
