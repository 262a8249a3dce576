"""`handpose synth`: rendered hands with exact keypoints, in COCO keypoints or FreiHAND layout."""
from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

import numpy as np

from ..errors import HandposeError
from ..data.synth.writer import LAYOUTS, record, write_annotations, write_image

_SHARED = [Path(__file__).resolve().parents[2].parent / "shared", Path("/work/shared")]
DEFAULT_MESHES = next((p / "handmesh" for p in _SHARED if (p / "handmesh").is_dir()), _SHARED[-1] / "handmesh")
DEFAULT_BACKGROUNDS = next((p / "data/teacher_hands/frames.json" for p in _SHARED
                            if (p / "data/teacher_hands/frames.json").is_file()), None)
GRID_SAMPLES = 18


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--layout", choices=LAYOUTS, default="coco",
                   help="coco: annotations.json + images/; freihand: training/rgb + training_K/xyz.json")
    p.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    p.add_argument("--meshes", default=str(DEFAULT_MESHES), help=f"the handmesh folder (default {DEFAULT_MESHES})")
    p.add_argument("--backgrounds", default=str(DEFAULT_BACKGROUNDS) if DEFAULT_BACKGROUNDS else None,
                   help="a frames.json of whole photos with every hand boxed: hand-free squares become backgrounds "
                        f"(default {DEFAULT_BACKGROUNDS}); 'none': procedural backgrounds only")
    p.add_argument("--grid", default=None, help="also write a picture of the first samples with their keypoints")


_WORKER: dict = {}


def _init_worker(meshes: str, backgrounds: str | None, size: int, seed: int, out: str, layout: str) -> None:
    from ..data.datasets import HandFreeCrops

    _WORKER.update(meshes=meshes, size=size, seed=seed, out=Path(out), layout=layout,
                   backgrounds=HandFreeCrops(backgrounds) if backgrounds else None)


def render_index(index: int):
    """Sample ``index`` of a run: its own random stream ([seed, index]), so any split over workers gives the
    same files."""
    from ..data.synth.scene import render_sample

    w = _WORKER
    return render_sample(np.random.default_rng([w["seed"], index]), w["meshes"], w["size"], w["backgrounds"])


def _render_and_write(index: int) -> tuple[dict, float]:
    """The sample's record and the CPU seconds it took (render + JPEG write), for the speed summary."""
    start = time.process_time()
    sample = render_index(index)
    write_image(_WORKER["out"], _WORKER["layout"], index, sample)
    return record(index, sample), time.process_time() - start


def _check(args: argparse.Namespace) -> str | None:
    if args.n < 1:
        raise HandposeError(f"--n must be at least 1, got {args.n}")
    if args.size < 32:
        raise HandposeError(f"--size must be at least 32, got {args.size}")
    if args.workers < 1:
        raise HandposeError(f"--workers must be at least 1, got {args.workers}")
    from ..data.synth.rig import MESHES

    for file, _, _ in MESHES:
        if not (Path(args.meshes) / file).is_file():
            raise HandposeError(f"--meshes {args.meshes}: {file} not found (the handmesh folder is needed)")
    backgrounds = args.backgrounds if args.backgrounds and args.backgrounds.lower() != "none" else None
    if backgrounds and not Path(backgrounds).is_file():
        raise HandposeError(f"--backgrounds {backgrounds}: file not found")
    return backgrounds


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    backgrounds = _check(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    init = (args.meshes, backgrounds, args.size, args.seed, str(out), args.layout)
    indices = range(args.n)
    started = time.perf_counter()
    bar = dict(total=args.n, desc="synth", unit="img")
    if args.workers == 1:
        _init_worker(*init)
        results = [_render_and_write(i) for i in tqdm(indices, **bar)]
    else:
        # Import and load what every worker needs once, here: forked workers inherit it instead of each
        # re-importing torch (via handpose.data.datasets) and re-reading the meshes.
        from ..data.datasets import HandFreeCrops  # noqa: F401
        from ..data.synth.rig import MESHES, load_rig

        for mesh in MESHES:
            load_rig(args.meshes, *mesh)
        with multiprocessing.get_context("fork").Pool(args.workers, _init_worker, init) as pool:
            results = list(tqdm(pool.imap(_render_and_write, indices, chunksize=8), **bar))
    records = [r for r, _ in results]
    wall = time.perf_counter() - started
    written = write_annotations(out, args.layout, records)
    if args.grid:
        write_grid(args.grid, out, args.layout, records[:GRID_SAMPLES])
    flags = np.array([[v for _, _, v in r["keypoints"]] for r in records])
    print(f"{args.n} images in {out} ({args.layout}): " + ", ".join(str(p) for p in written))
    print(f"{1000 * np.mean([c for _, c in results]):.1f} ms CPU per image in a worker (render + JPEG); "
          f"{1000 * wall / args.n:.1f} ms wall per image with {args.workers} worker(s), start-up excluded")
    print(f"keypoint flags: visible {np.mean(flags == 2):.1%}, occluded {np.mean(flags == 1):.1%}, "
          f"outside the image {np.mean(flags == 0):.1%}")
    return 0


def write_grid(path: str | Path, out: Path, layout: str, records: list[dict], columns: int = 6) -> None:
    """The samples as written, with their keypoints: occluded ones (v=1) get a black centre, and each tile
    says which hand and mesh it is."""
    import cv2

    from ..draw import draw_hand, image_grid
    from ..io import atomic_write_image
    from ..data.synth.writer import image_path

    tiles = []
    for r in records:
        image = cv2.imread(str(image_path(out, layout, r["index"])))
        kp = np.array(r["keypoints"], np.float64)
        draw_hand(image, kp[:, :2], kp[:, 2], threshold=0.5)
        for x, y, v in kp:
            if v == 1:
                cv2.circle(image, (int(round(x)), int(round(y))), 2, (0, 0, 0), -1, cv2.LINE_AA)
        label = f"{r['hand']} {'webxr' if r['mesh'].startswith('webxr') else 'godot'}"
        cv2.putText(image, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(image)
    atomic_write_image(path, image_grid(tiles, columns, cell=tiles[0].shape[0]))
