"""Dataset formats -> hand records -> HandDataset."""
from ..calibration import FRAME_JOINTS, Calibration
from .base import MINI_EXAMPLE, HandDataset, HandRecord, read_rgb
from .coco import load_coco
from .freihand import load_freihand, split_by_pose
from .hand_free import HandFreeCrops

__all__ = ["MINI_EXAMPLE", "HandDataset", "HandRecord", "read_rgb", "load_coco", "load_freihand", "split_by_pose", "load_records", "HandFreeCrops", "MIX_KEYS"]


# Keys of a data.train entry that say how it is mixed with the others, not how it is read.
MIX_KEYS = ("name", "weight", "cap", "handedness")  # how training uses a source, not how it is read


def load_records(spec: dict) -> list[HandRecord]:
    """Records from a config entry: ``{format: freihand, root: ..., split: training, box: image}`` or
    ``{format: coco, annotations: ..., images: ...}``. ``calibration: FILE`` (``handpose label
    --fit-calibration``) moves a teacher-labelled set's joints to where hand labellers put them."""
    from ...errors import DatasetError

    spec = {k: v for k, v in spec.items() if k not in MIX_KEYS}
    calibration = spec.pop("calibration", None)
    fmt = spec.pop("format", None)
    if fmt == "freihand":
        records = load_freihand(spec.pop("root"), **spec)
    elif fmt == "coco":
        records = load_coco(spec.pop("annotations"), spec.pop("images", None), spec.pop("sources", None),
                            spec.pop("exclude_sources", None), **spec)
    else:
        raise DatasetError(f"dataset format must be 'freihand' or 'coco', got {fmt!r}")
    if calibration is not None:
        cal = Calibration.load(calibration, "calibration:")
        for r in records:  # a record lacking a joint of the hand frame stays as labelled
            if (r.visibility[list(FRAME_JOINTS)] > 0).all():
                r.keypoints = cal.apply(r.keypoints)
    return records
