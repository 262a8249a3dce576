"""handpose: 2D hand pose estimation (21 keypoints) with Simple Baselines."""
from .pose.codec import HeatmapCodec
from .pose.model import build_model
from .skeleton import BONES, JOINT_NAMES, NUM_JOINTS

__version__ = "0.1.0"
__all__ = ["HeatmapCodec", "build_model", "BONES", "JOINT_NAMES", "NUM_JOINTS"]
