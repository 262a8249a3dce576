"""Real hand-detection evaluation sets from repository snapshots: `python bench/realdata.py MIRROR_DIR OUT`.

    nice -n 19 .venv/bin/python bench/realdata.py MIRROR_DIR OUT [--sources barehands fingers] [--cap 400]

MIRROR_DIR holds the snapshots as the `fetch` tool writes them (``<owner>+<name>/repo``, bare git; read with
bench/gesture_data.py's helpers). Each source is a public repository whose photos carry hand boxes drawn by
people (a Roboflow YOLO export: one ``labels/<name>.txt`` per ``images/<name>.jpg``, ``class cx cy w h`` in
0-1); a box of a kept class is a hand, whatever its gesture. For each source the script writes

  OUT/<source>/images/<split>_<file>  the photos, their bytes as committed (decoded once to check and size them)
  OUT/<source>/frames.json          {"info": {repository, commit, licence, ...}, "frames": [{"file_name",
                                    "width", "height", "source", "boxes": [[x, y, w, h], ...]}]}: pixel boxes,
                                    top-left origin, file_name relative to frames.json; the shape of
                                    teacher_hands' frames file (handpose.detect.data.load_frames reads it)

and ``OUT/manifest.json``: repository @ commit, licence as stated, images, boxes, boxes by their longer side
(under 40 px, 40-80, over 80 px, in the photo's pixels as stored) and photos by number of hands. No project model
was trained on these sources (evaluation only); the media stay out of this repository (``runs/`` is ignored).

The video sources (real clips of people signing with one or both hands, for `bench/live.py --clips
OUT/clips`) are written to ``OUT/clips/<source>/`` (file names as committed, spaces made underscores), at most
--clip-cap clips a source, evenly spaced by path; the manifest lists each clip's size, fps and frame count.

Each source is capped at --cap photos, chosen deterministically: its candidates sorted by path, then --cap
evenly spaced ones. A missing MIRROR_DIR, a snapshot not fetched or a commit not in it stops the script with a
one-line error.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gesture_data import blobs, git, gitdir_of  # noqa: E402
from handpose.apps.label.sources import VIDEO_EXTS  # noqa: E402
from handpose.io import atomic_write_json  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SIZE_BINS = ("<40", "40-80", ">80")  # longer side of a box, pixels


@dataclass(frozen=True)
class Snapshot:
    name: str
    repo: str
    commit: str
    licence: str  # as the repository states it


@dataclass(frozen=True)
class Source(Snapshot):
    """Photos with hand boxes drawn by people (a YOLO export)."""
    folders: tuple[str, ...]  # YOLO export splits (each holds images/ and labels/)
    what: str
    classes: tuple[int, ...] | None = None  # keep only photos whose every box is of these classes (None: any)


SOURCES = [
    Source("barehands", "Hina-Hanan/submission", "6cbb2ad99452716255b80d56f53cdd6a2c222939",
           "CC BY 4.0 (the Roboflow export's README.dataset.txt and data.yaml); repository: none stated",
           ("Part_1_Glove_Detection/dataset/valid/", "Part_1_Glove_Detection/dataset/test/"),
           "Roboflow 'Glove Hand and Bare Hand' v3: phone photos, stretched to 640x640; valid and test splits only "
           "(train holds flipped augmented copies); only photos whose every box is bare_hand (its gloved_hand "
           "class also boxes empty gloves lying about and product shots)", classes=(0,)),
    Source("fingers", "dwivedi1997/Hand-Gesture-YOLOv8", "fd632313b9d74d869f57b11a8b0bb249cbc537ae",
           "CC BY 4.0 (the Roboflow export's README.dataset.txt); repository: none stated",
           ("train/", "valid/", "test/"),
           "Roboflow 'Hand Gesture Recognition' v6: one to five fingers shown, phone photos and screenshots, "
           "close-up hands, stretched to 224x224, no augmentation; every split (none was trained on here)"),
]


@dataclass(frozen=True)
class ClipSource(Snapshot):
    """Real videos of people using their hands, for bench/live.py --clips (no labels: MediaPipe is the reference)."""
    folder: str  # every video file directly in it
    what: str
    rule: str = "all"  # which of them (tools/train_clips.py's training sources may keep fewer)


CLIP_SOURCES = [
    ClipSource("isl_signer", "Muskan-Bhatia02/SignISLMed-Indian-Sign-Language-Detection-Translation-System-for-doctor-differently-abled-patient",
               "f5a9c2d780c4c6c9828b36efcb71d202f1ad586f", "GNU AGPL v3 (the repository's LICENSE file)", "videos/",
               "a webcam recording of one signer (Indian Sign Language words), seated before a plain wall, 640x480 at "
               "20 fps; many two-hand signs, hands near the face and crossing, about 70-110 px"),
    ClipSource("sign_validation", "AlpYksl/SignLanguageAndLipReadingApp", "b9a14be05bc2b8b5015ed33bbfab863cb8cca765",
               "none stated", "ValidationVideos/",
               "sign-language word clips (ASL, German, Turkish, Arabic) of many signers in studios and rooms, mostly "
               "1920x1080, some with caption bars or logos; many two-hand signs, hands about 60-150 px"),
    ClipSource("asl_words", "Kirichovka/Signs-Recognition", "397a722720b808140b4c3badf13779a04b08a060",
               "none stated", "videos/",
               "ASL word clips of about 8-10 signers in rooms and studios, landscape and portrait phone video, "
               "360p to 1080p, some with text overlays; hands about 40-60 px in the 640x360 clips"),
]


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


def check_snapshot(mirrors: Path, source: Snapshot) -> Path:
    """The snapshot's git dir, or InputError when it is not fetched or lacks the pinned commit."""
    gitdir = gitdir_of(mirrors, source.repo)
    if not gitdir.is_dir():
        raise InputError(f"{source.repo}: no snapshot at {gitdir} (fetch github:{source.repo} first)")
    probe = subprocess.run(["git", f"--git-dir={gitdir}", "cat-file", "-e", f"{source.commit}^{{commit}}"],
                           capture_output=True)
    if probe.returncode != 0:
        raise InputError(f"{source.repo}: commit {source.commit} is not in the snapshot at {gitdir}")
    return gitdir


def candidates(gitdir: Path, source: Source) -> list[tuple[str, str]]:
    """(image path, label path) of every committed photo with a label file, sorted by image path."""
    names = set(git(gitdir, "ls-tree", "-r", "--name-only", source.commit).decode().splitlines())
    pairs = []
    for name in sorted(names):
        path = PurePosixPath(name)
        if not name.startswith(source.folders) or path.parent.name != "images":
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label = str(path.parent.parent / "labels" / (path.stem + ".txt"))
        if label in names:
            pairs.append((name, label))
    return pairs


def pick(items: list, cap: int) -> list:
    """At most ``cap`` evenly spaced items, in order (all of them when there are fewer)."""
    if len(items) <= cap:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, cap).round().astype(int)]


def rows(text: str) -> list[list[float]]:
    """The numbers of each YOLO label row; rows that are empty or not numbers are left out."""
    out = []
    for row in text.splitlines():
        try:
            values = [float(v) for v in row.split()]
        except ValueError:
            continue
        if values:
            out.append(values)
    return out


def label_classes(text: str) -> set[int]:
    return {int(values[0]) for values in rows(text)}


def yolo_boxes(text: str, width: int, height: int) -> list[list[float]]:
    """[[x, y, w, h]] pixel boxes (top-left origin, clipped to the photo) from YOLO ``class cx cy w h`` rows;
    polygon rows (``class x1 y1 x2 y2 ...``) give their bounding box."""
    boxes = []
    for row in rows(text):
        values = row[1:]
        if len(values) == 4:
            cx, cy, w, h = values
            x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        elif len(values) >= 6 and len(values) % 2 == 0:
            xs, ys = values[0::2], values[1::2]
            x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        else:
            continue
        x0, x1 = np.clip([x0 * width, x1 * width], 0, width)
        y0, y1 = np.clip([y0 * height, y1 * height], 0, height)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            boxes.append([round(float(v), 1) for v in (x0, y0, x1 - x0, y1 - y0)])
    return boxes


def size_bin(box: list[float]) -> str:
    side = max(box[2], box[3])
    return SIZE_BINS[0] if side < 40 else SIZE_BINS[1] if side <= 80 else SIZE_BINS[2]


def build(source: Source, gitdir: Path, out: Path, cap: int) -> tuple[list[dict], int]:
    """Writes the source's photos; returns its frames and the number of photos that did not decode."""
    pairs = candidates(gitdir, source)
    labels = {path: (data or b"").decode("utf-8", "replace")
              for path, data in blobs(gitdir, source.commit, [label for _, label in pairs])}
    if source.classes is not None:
        pairs = [(image, label) for image, label in pairs if label_classes(labels[label]) <= set(source.classes)]
    chosen = pick(pairs, cap)
    frames, unreadable = [], 0
    stream = blobs(gitdir, source.commit, [image for image, _ in chosen])
    for (image_path, label_path), (_, data) in tqdm(zip(chosen, stream), total=len(chosen), desc=source.name):
        image = cv2.imdecode(np.frombuffer(data or b"", np.uint8), cv2.IMREAD_COLOR) if data else None
        if image is None:  # absent, a Git LFS pointer or not an image
            unreadable += 1
            continue
        height, width = image.shape[:2]
        path = PurePosixPath(image_path)
        target = out / "images" / f"{path.parent.parent.name}_{path.name}"  # names stay unique across splits
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        frames.append({"file_name": f"images/{target.name}", "width": width, "height": height,
                       "source": source.name, "boxes": yolo_boxes(labels[label_path], width, height)})
    return frames, unreadable


def counts(frames: list[dict]) -> dict:
    boxes = [b for f in frames for b in f["boxes"]]
    by_hands = {k: 0 for k in ("0", "1", "2", "3+")}
    for f in frames:
        by_hands[str(len(f["boxes"])) if len(f["boxes"]) < 3 else "3+"] += 1
    return {"images": len(frames), "boxes": len(boxes),
            "boxes_by_longer_side": {k: sum(size_bin(b) == k for b in boxes) for k in SIZE_BINS},
            "images_by_hands": by_hands}


def build_clips(source: ClipSource, gitdir: Path, out: Path, cap: int) -> list[dict]:
    """Writes up to ``cap`` of the source's videos (evenly spaced by path, bytes as committed) to ``out``;
    returns each clip's file, size, fps and frame count (clips that do not decode are left out, with a note)."""
    names = git(gitdir, "ls-tree", "-r", "--name-only", source.commit).decode().splitlines()
    paths = sorted(n for n in names if n.startswith(source.folder) and "/" not in n[len(source.folder):]
                   and PurePosixPath(n).suffix.lower() in VIDEO_EXTS)
    clips = []
    out.mkdir(parents=True, exist_ok=True)
    chosen = pick(paths, cap)
    for path, data in tqdm(blobs(gitdir, source.commit, chosen), total=len(chosen), desc=source.name):
        target = out / PurePosixPath(path).name.replace(" ", "_")
        if not data:
            print(f"{source.name}: {path} is not in the snapshot, left out", file=sys.stderr)
            continue
        target.write_bytes(data)
        cap_ = cv2.VideoCapture(str(target))
        frames, fps = int(cap_.get(cv2.CAP_PROP_FRAME_COUNT)), cap_.get(cv2.CAP_PROP_FPS)
        size = [int(cap_.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap_.get(cv2.CAP_PROP_FRAME_HEIGHT))]
        ok = cap_.read()[0]
        cap_.release()
        if not ok:
            print(f"{source.name}: {path} does not decode, left out", file=sys.stderr)
            target.unlink()
            continue
        clips.append({"file": target.name, "from": path, "size": size, "fps": round(fps, 2), "frames": frames})
    return clips


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mirrors", help="folder of repository snapshots (<owner>+<name>/repo)")
    ap.add_argument("out", help="where to write <source>/frames.json, the photos and manifest.json")
    ap.add_argument("--sources", nargs="+", choices=[s.name for s in SOURCES], default=[s.name for s in SOURCES],
                    help="which sources to build (default: all)")
    ap.add_argument("--cap", type=int, default=400, help="at most this many photos a source (default 400)")
    ap.add_argument("--clip-sources", nargs="*", choices=[s.name for s in CLIP_SOURCES],
                    default=[s.name for s in CLIP_SOURCES], help="which video sources to build into OUT/clips/<source>/ "
                    "(default: all; none: photos only)")
    ap.add_argument("--clip-cap", type=int, default=12, help="at most this many clips a video source (default 12)")
    args = ap.parse_args()
    mirrors, out = Path(args.mirrors), Path(args.out)
    sources = [s for s in SOURCES if s.name in args.sources]
    clip_sources = [s for s in CLIP_SOURCES if s.name in args.clip_sources]
    try:
        if args.cap < 1 or args.clip_cap < 1:
            raise InputError(f"--cap and --clip-cap must be at least 1, got {args.cap} and {args.clip_cap}")
        if not mirrors.is_dir():
            raise InputError(f"{mirrors}: no such folder (the MIRROR_DIR of repository snapshots)")
        gitdirs = {s.name: check_snapshot(mirrors, s) for s in sources + clip_sources}  # all checked before writing
        manifest = []
        for source in sources:
            frames, unreadable = build(source, gitdirs[source.name], out / source.name, args.cap)
            info = {"repository": source.repo, "commit": source.commit, "licence": source.licence,
                    "what": source.what, "boxes": "drawn by people; [x, y, w, h] pixels, top-left origin"}
            atomic_write_json(out / source.name / "frames.json", {"info": info, "frames": frames})
            entry = {"source": source.name, "repository": f"{source.repo} @ {source.commit}",
                     "licence": source.licence, "what": source.what, "frames": f"{source.name}/frames.json",
                     **counts(frames), "unreadable_images": unreadable}
            manifest.append(entry)
            print(f"{source.name:8s} {entry['images']:4d} images {entry['boxes']:4d} boxes  "
                  f"by longer side {entry['boxes_by_longer_side']}  by hands {entry['images_by_hands']}"
                  + (f"  ({unreadable} did not decode)" if unreadable else ""))
        for source in clip_sources:
            clips = build_clips(source, gitdirs[source.name], out / "clips" / source.name, args.clip_cap)
            manifest.append({"clips": source.name, "repository": f"{source.repo} @ {source.commit}",
                             "licence": source.licence, "what": source.what, "folder": f"clips/{source.name}",
                             "videos": clips})
            print(f"{source.name}: {len(clips)} clips, {sum(c['frames'] for c in clips)} frames")
        atomic_write_json(out / "manifest.json", manifest)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
