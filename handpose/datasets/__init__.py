"""Dataset formats -> hand records -> HandDataset."""
from .base import MINI_EXAMPLE, HandDataset, HandRecord, read_rgb
from .coco import load_coco
from .freihand import load_freihand, split_by_pose

__all__ = ["MINI_EXAMPLE", "HandDataset", "HandRecord", "read_rgb", "load_coco", "load_freihand", "split_by_pose", "load_records"]


def load_records(spec: dict) -> list[HandRecord]:
    """Records from a config entry: ``{format: freihand, root: ..., split: training, box: image}`` or
    ``{format: coco, annotations: ..., images: ...}``."""
    from ..errors import DatasetError

    spec = dict(spec)
    fmt = spec.pop("format", None)
    if fmt == "freihand":
        return load_freihand(spec.pop("root"), **spec)
    if fmt == "coco":
        return load_coco(spec["annotations"], spec.get("images"))
    raise DatasetError(f"dataset format must be 'freihand' or 'coco', got {fmt!r}")
