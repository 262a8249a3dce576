"""Rebuild the gesture photo sets from repository snapshots: `python bench/gesture_data.py MIRROR_DIR OUT`.

MIRROR_DIR holds the snapshots as the `fetch` tool writes them (``<owner>+<name>/repo``, bare git). Each
source's photos are written to ``OUT/<role>/<source>/<canned name>/<file>.jpg``, the layout `handpose gesture
train` and `handpose gesture evaluate` read, and ``OUT/manifest.json`` records repository @ commit, licence
as stated, role and counts. The media stay out of this repository.

Roles keep each source whole on one side: ``train`` sources may train the shipped classifier, ``select``
sources choose between recipes, ``check`` sources only report (people and rooms never trained or chosen on).
Classes are mapped to MediaPipe's canned names by what the photos show; classes whose look is ambiguous
(a flat hand seen edge-on, upside-down hands, two-finger variants) are left out.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Source:
    name: str
    repo: str
    commit: str
    licence: str
    role: str  # train | select | check
    folders: dict[str, str]  # folder prefix in the repository -> canned name (the class is the folder)
    what: str = ""
    crop_top: int = 0  # pixels cut from the top: some sets print the class name there
    every: int = 1  # keep every n-th photo of a class (video frames at 2 fps are near copies)
    extra: list[str] = field(default_factory=list)


def hagrid(prefix: str) -> dict[str, str]:
    names = {"like": "Thumb_Up", "dislike": "Thumb_Down", "fist": "Closed_Fist", "palm": "Open_Palm",
             "stop": "Open_Palm", "one": "Pointing_Up", "peace": "Victory", "call": "None", "four": "None",
             "mute": "None", "ok": "None", "three": "None", "three2": "None", "two_up": "None", "rock": "None",
             "no_gesture": "None"}
    return {f"{prefix}/{k}/": v for k, v in names.items()}


SOURCES = [
    # -- train -------------------------------------------------------------------------------------------
    Source("hagrid380", "andrewchen3019/vlm-edge-hagrid", "7f160f46cb84bb88fb1fd4063aad3bd5d69150ed",
           "images from HaGRID (CC BY-SA 4.0, per the repository's notices); repository: none stated", "train",
           hagrid("data/hagrid_380_resize336/images"), "HaGRID classification crops, nearly every photo another person"),
    Source("hagrid_day1", "andrewchen3019/vlm-edge-hagrid", "63b67adb2f163f55241301b79225d728530c6c84",
           "images from HaGRID (CC BY-SA 4.0); repository: none stated", "train",
           {**hagrid("data/hagrid_day1/images"), **hagrid("data/hagrid_balanced20_resize336/images")},
           "an earlier commit's other HaGRID photos"),
    Source("madblocks", "madblocksgit/sign-language-translator", "a5bb17a54891402fe6bbc0ff16503c0c5ac74061",
           "none stated", "train", {"dataset/like/": "Thumb_Up", "dataset/dislike/": "Thumb_Down",
                                     "dataset/doubt/": "Pointing_Up", "dataset/hand/": "Open_Palm",
                                     "dataset/super/": "None"}, "one person, pink wall, 224 px"),
    Source("arya", "AryaBhongade/hand-gesture-recognition", "79396cb70bed36affe56b65fc80389151aca8305",
           "none stated", "train", {"dataset/fist/": "Closed_Fist", "dataset/palm/": "Open_Palm",
                                     "dataset/thumbs_up/": "Thumb_Up"}, "one person, white wall, 300 px", every=3),
    Source("dharshini", "dharshini-dayakar/Hand_Gesture_Recognition", "b55fe071b17a5f3c3c0ba9d3b6327cff53f6ba56",
           "none stated", "train", {"dataset/fist/": "Closed_Fist", "dataset/palm/": "Open_Palm",
                                     "dataset/peace/": "Victory", "dataset/thumbs_down/": "Thumb_Down",
                                     "dataset/thumbs_up/": "Thumb_Up"}, "one person, dark webcam frames",
           crop_top=30),
    Source("rahul", "itzrahuldas/Gesture_proj", "4bc5aae93d9a97ddb4ac40e96c270aa819297fc2", "none stated", "train",
           {"data/fist/": "Closed_Fist", "data/palm/": "Open_Palm", "data/thumbs_up/": "Thumb_Up"},
           "one person, 128 px crops", every=2),
    Source("waris", "Warisback/Sign-Language-Interpreter-Project", "bf599e2b041170c028dc84010f14c56034b2bcfa",
           "none stated", "train", {"data/good/": "Thumb_Up", "data/hello/": "Open_Palm"},
           "640x480 whole frames, two people (one a class); printed banner cut off", crop_top=25, every=2),
    # -- select ------------------------------------------------------------------------------------------
    Source("hagrid_v2", "ninkat/GRModelMaker", "495ad4fd77b748813d2795909a27c6477e97ce80",
           "images from HaGRIDv2 (CC BY-SA 4.0); repository: MIT", "select",
           {"sampledata/one/": "Pointing_Up", "sampledata/ok/": "None", "sampledata/thumb_index/": "None",
            "sampledata/none/": "None", "sampledata/grabbing/": "None"}, "HaGRIDv2 whole frames, many people"),
    # -- check -------------------------------------------------------------------------------------------
    Source("emre", "emrecandir9/custom-gesture-dataset", "921f6b96145a55756feb3939774236b729f55a03", "MIT", "check",
           {"dataset/photos/hand/up/": "Thumb_Up", "dataset/photos/hand/down/": "Thumb_Down",
            "dataset/photos/hand/take_off/": "Pointing_Up", "dataset/photos/hand/palm/": "Open_Palm",
            "dataset/photos/hand/emergency/": "Closed_Fist", "dataset/photos/hand/follow/": "None",
            "dataset/photos/hand/video/": "None"}, "two people, lab, 640x480 whole frames", every=3),
    Source("didi", "didi-codes/computer_vision_hand_gesture_project", "add2097c6b3e2d7dea77047f55a266a3cfa46e18",
           "none stated", "check", {"dataset/fist/": "Closed_Fist", "dataset/palm/": "Open_Palm",
                                     "dataset/peace/": "Victory", "dataset/thumbs_up/": "Thumb_Up",
                                     "dataset/ok/": "None"}, "one person, bedroom, 1280x720 webcam frames"),
    Source("aya", "Aya-Abdellatif/SignLanguageToText", "72f3344760df10e2ad6f8e7fee70304720270d21", "none stated",
           "check", {"data/iloveyou/": "ILoveYou", "data/goodjob/": "Thumb_Up", "data/dislike/": "Thumb_Down",
                     "data/peace/": "Victory", "data/hello/": "Open_Palm", "data/callme/": "None",
                     "data/no/": "None"}, "one or two people, 640x480 webcam frames"),
]
# SubhiH/HandsDataset: whole photos (800x600, indoors and outdoors) with every hand boxed and the number of
# open fingers as its class; photos with one hand only, 0 -> Closed_Fist, 5 -> Open_Palm, 3 -> None.
SUBHIH = Source("subhih", "SubhiH/HandsDataset", "73228cb5ba6a8d454663aa9873157862b69a1c4c", "Apache-2.0", "check", {},
                "1-3 people, about 15 rooms and outdoors, whole photos (this source's crops are in teacher_hands: "
                "never used to train the gesture classifier)")
SUBHIH_CLASSES = {"0-hand": "Closed_Fist", "5-hand": "Open_Palm", "3-hand": "None"}


# teacher_hands (../shared/data/teacher_hands): crops of sign-language and rock-paper-scissors photos whose
# class is in the source path. ASL letters and digits that show a canned gesture are mapped; letters whose
# look is between names (b, d, e, k, m, n, r, t, u, 4, z) are left out. Massey's five people are split:
# 1-3 train, 4 select, 5 check.
ASL = {"a": "Closed_Fist", "s": "Closed_Fist", "1": "Pointing_Up", "2": "Victory", "v": "Victory", "5": "Open_Palm",
       **{c: "None" for c in "0 3 6 7 8 9 c f g h i j l o p q w x y".split()}}
DIGITS = {"0": "None", "1": "Pointing_Up", "2": "Victory", "3": "None", "5": "Open_Palm", "6": "None", "7": "None",
          "8": "None", "9": "None"}  # ardamavi's Turkish sign digits (4: four fingers, left out)
MASSEY_ROLE = {"1": "train", "2": "train", "3": "train", "4": "select", "5": "check"}
RPS = {0: "Open_Palm", 1: "Closed_Fist", 2: "Victory"}  # data.yaml: Paper, Rock, Scissors
RPS_REPO, RPS_COMMIT = "wuqi789/yolov10-1", "7bbf745"


def teacher_label(image: dict, rps_boxes: dict) -> tuple[str, str, str] | None:
    """(role, set name, canned label) of a teacher_hands crop, or None when its class is not mapped."""
    source, original = image["source"], image["original"]
    if source == "massey":
        cls, name = original.split("/")[1], original.split("/")[-1]
        person = re.match(r"hand(\d)_", name)
        if person and cls in ASL:
            return MASSEY_ROLE[person.group(1)], f"massey{person.group(1)}", ASL[cls]
    elif source == "digits":
        cls = original.split("/")[1]
        if cls in DIGITS:
            return "train", "digits", DIGITS[cls]
    elif source == "asl":
        letter = re.match(r"([A-Za-z])\d+_jpg", original.split("/")[-1])
        if letter and letter.group(1).lower() in ASL:
            return "train", "asl", ASL[letter.group(1).lower()]
    elif source == "rps" and original in rps_boxes:
        x0, y0, side = image["crop_box_in_original"]
        cx, cy = x0 + side / 2, y0 + side / 2  # the crop is centred on the hand
        near = [(abs(bx - cx) + abs(by - cy), cls) for cls, bx, by, bw, bh in rps_boxes[original]
                if abs(bx - cx) < bw / 2 and abs(by - cy) < bh / 2]
        if near:
            return "train", "rps", RPS[min(near)[1]]
    return None


def rps_boxes(mirrors: Path) -> dict[str, list[tuple[int, float, float, float, float]]]:
    """original image path -> [(class, cx, cy, w, h) in 640 px pixels] from the YOLO labels."""
    gitdir = gitdir_of(mirrors, RPS_REPO)
    if not gitdir.exists():
        print(f"train  rps: {RPS_REPO} is not in {mirrors}, so its crops have no class: the set is not made",
              file=sys.stderr)
        return {}
    names = [n for n in git(gitdir, "ls-tree", "-r", "--name-only", RPS_COMMIT).decode().splitlines()
             if "/labels/" in n and n.endswith(".txt")]
    out = {}
    for path, data in blobs(gitdir, RPS_COMMIT, names):
        rows = [r.split() for r in (data or b"").decode().splitlines() if len(r.split()) == 5]
        image = path.replace("/labels/", "/images/").rsplit(".", 1)[0] + ".jpg"
        out[image] = [(int(r[0]), *(float(v) * 640 for v in r[1:])) for r in rows]
    return out


def build_teacher(teacher: Path, mirrors: Path, out: Path) -> list[dict]:
    """Photo folders of the mapped teacher_hands crops (links, not copies) and their MediaPipe keypoints as
    ``OUT/keypoints/teacher_<role>.json`` (--keypoints files for `handpose gesture train`)."""
    data = json.loads((teacher / "annotations.json").read_text())
    anns = {a["image_id"]: a for a in data["annotations"]}
    boxes = rps_boxes(mirrors)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    hands: dict[str, list] = {}
    for image in data["images"]:
        got = teacher_label(image, boxes)
        if got is None:
            continue
        role, name, label = got
        src = (teacher / image["file_name"]).resolve()
        link = out / role / name / label / src.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(src)
        kp = np.asarray(anns[image["id"]]["keypoints"], np.float64).reshape(21, 3)[:, :2]
        hands.setdefault(role, []).append({"keypoints": kp.round(2).tolist(), "label": label, "set": name,
                                           "image": str(link)})
        c = counts.setdefault((role, name), {})
        c[label] = c.get(label, 0) + 1
    for role, items in hands.items():
        (out / "keypoints").mkdir(parents=True, exist_ok=True)
        (out / "keypoints" / f"teacher_{role}.json").write_text(json.dumps({"hands": items}) + "\n")
    repos = {"massey": "snrao310/ASL-Finger-Spelling-Recognition @ 5d1f82a (none stated)",
             "digits": "ardamavi/Sign-Language-Digits-Dataset @ 4b09433 (Apache-2.0)",
             "asl": "nathanverdier/ASL_Recognizer @ 47eb47c (CC BY 4.0 data)",
             "rps": f"{RPS_REPO} @ {RPS_COMMIT} (undefined), classes from its YOLO labels"}
    return [{"source": name, "repository": repos[re.sub(r"\d$", "", name)], "role": role,
             "what": "teacher_hands crops (MediaPipe keypoints in keypoints/teacher_<role>.json)", "counts": c}
            for (role, name), c in sorted(counts.items())]


def git(gitdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True).stdout


def blobs(gitdir: Path, commit: str, paths: list[str]):
    """(path, bytes) for each path at ``commit``, streamed through one `git cat-file --batch`."""
    proc = subprocess.Popen(["git", f"--git-dir={gitdir}", "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    for p in paths:
        proc.stdin.write(f"{commit}:{p}\n".encode())
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            yield p, None
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        yield p, data
    proc.stdin.close()
    proc.wait()


def gitdir_of(mirrors: Path, repo: str) -> Path:
    base = mirrors / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def write_photo(data: bytes, out: Path, crop_top: int) -> bool:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return False
    if crop_top:
        image = image[crop_top:]
    out.parent.mkdir(parents=True, exist_ok=True)
    return bool(cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 95]))


def build(source: Source, mirrors: Path, out: Path) -> dict:
    gitdir = gitdir_of(mirrors, source.repo)
    names = git(gitdir, "ls-tree", "-r", "--name-only", source.commit).decode().splitlines()
    wanted: list[tuple[str, str]] = []
    for prefix, label in source.folders.items():
        members = sorted(n for n in names if n.startswith(prefix) and Path(n).suffix.lower() in (".jpg", ".jpeg", ".png"))
        wanted += [(n, label) for n in members[:: source.every]]
    counts: dict[str, int] = {}
    labels = dict(wanted)
    for path, data in blobs(gitdir, source.commit, [n for n, _ in wanted]):
        label = labels[path]
        name = path.replace("/", "_").rsplit(".", 1)[0] + ".jpg"
        if data and write_photo(data, out / source.role / source.name / label / name, source.crop_top):
            counts[label] = counts.get(label, 0) + 1
    return counts


# A thumb up turned upside down is a thumb down, and the reverse; a finger pointing up, turned, points down
# (None). Train sources' photos of them are also written turned (``<source>_turned``), so the classifier sees
# what the pose model makes of both directions of every thumb it trains on.
TURNED = {"Thumb_Up": "Thumb_Down", "Thumb_Down": "Thumb_Up", "Pointing_Up": "None"}


def build_turned(out: Path, name: str) -> dict:
    counts: dict[str, int] = {}
    for label, turned in TURNED.items():
        for photo in sorted((out / "train" / name / label).glob("*.jpg")):
            image = cv2.imread(str(photo))
            target = out / "train" / f"{name}_turned" / turned / photo.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if image is not None and cv2.imwrite(str(target), cv2.rotate(image, cv2.ROTATE_180)):
                counts[turned] = counts.get(turned, 0) + 1
    return counts


def build_subhih(mirrors: Path, out: Path) -> dict:
    gitdir = gitdir_of(mirrors, SUBHIH.repo)
    rows = []
    for table in ("data/train_labels.csv", "data/test_labels.csv"):
        rows += list(csv.DictReader(io.StringIO(git(gitdir, "show", f"{SUBHIH.commit}:{table}").decode())))
    per_photo: dict[str, list[str]] = {}
    for r in rows:
        per_photo.setdefault(r["filename"], []).append(r["class"])
    single = {f: c[0] for f, c in per_photo.items() if len(c) == 1 and c[0] in SUBHIH_CLASSES}
    counts: dict[str, int] = {}
    for path, data in blobs(gitdir, SUBHIH.commit, [f"images/{f}" for f in sorted(single)]):
        label = SUBHIH_CLASSES[single[path.split("/", 1)[1]]]
        if data and write_photo(data, out / SUBHIH.role / SUBHIH.name / label / Path(path).name, 0):
            counts[label] = counts.get(label, 0) + 1
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mirrors", help="folder of repository snapshots (<owner>+<name>/repo)")
    ap.add_argument("out", help="where to write the photo folders and manifest.json")
    ap.add_argument("--teacher", default=str(Path(__file__).resolve().parents[2] / "shared/data/teacher_hands"),
                    help="the teacher_hands folder (default ../shared/data/teacher_hands)")
    args = ap.parse_args()
    mirrors, out = Path(args.mirrors), Path(args.out)
    manifest = build_teacher(Path(args.teacher), mirrors, out) if Path(args.teacher).is_dir() else []
    for m in manifest:
        print(f"{m['role']:6s} {m['source']:12s} {sum(m['counts'].values()):5d} crops   {m['counts']}")
    for source in SOURCES + [SUBHIH]:
        if not gitdir_of(mirrors, source.repo).exists():
            print(f"{source.repo}: no snapshot in {mirrors} (skipped)", file=sys.stderr)
            continue
        counts = build_subhih(mirrors, out) if source is SUBHIH else build(source, mirrors, out)
        manifest.append({"source": source.name, "repository": f"{source.repo} @ {source.commit}",
                         "licence": source.licence, "role": source.role, "what": source.what, "counts": counts})
        print(f"{source.role:6s} {source.name:12s} {sum(counts.values()):5d} photos  {counts}")
        if source.role == "train" and (turned := build_turned(out, source.name)):
            manifest.append({**manifest[-1], "source": f"{source.name}_turned", "counts": turned,
                             "what": "its thumbs and pointing fingers turned upside down"})
            print(f"{source.role:6s} {source.name + '_turned':12s} {sum(turned.values()):5d} photos  {turned}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
