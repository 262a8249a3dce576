"""`handpose label` with a fake teacher that reads painted markers: photos, a video, resume after kill -9,
--frames, the mirror check, TTA, calibration, and a data set that `handpose train` trains on."""
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from handpose.data.datasets import load_coco
from handpose.errors import HandposeError
from handpose.apps.label import Calibration, TeacherHand, label_image
from handpose.data.calibration import MCP_JOINTS, fit_offsets, hand_frame
from handpose.skeleton import BONES, JOINT_NAMES

from ..conftest import MINI, ROOT, kill_when

# The fake teacher's hand: 21 joints in the hand frame (u along wrist -> middle MCP, v towards the index
# side), lopsided in v so that a wrong mirror image is far off.
_BASES = [(0.25, 0.35, 0.2, 0.15), (0.95, 0.3), (1.0, 0.0), (0.95, -0.25), (0.85, -0.45)]
TEMPLATE = np.array([(0.0, 0.0), (0.25, 0.35), (0.45, 0.55), (0.65, 0.7), (0.85, 0.8)]
                    + [(u + du, v + dv) for u, v in [b[:2] for b in _BASES[1:]]
                       for du, dv in [(0, 0), (0.4, 0.02), (0.7, 0.03), (0.95, 0.04)]], np.float64)
COLORS = {"wrist": (0, 255, 0), "bad_wrist": (255, 255, 0), "middle": (255, 0, 0), "side": (0, 0, 255)}  # RGB
SKIN, BACKGROUND = (230, 190, 160), 50


def hand_keypoints(wrist, middle, side) -> np.ndarray:
    wrist, middle, side = (np.asarray(p, np.float64) for p in (wrist, middle, side))
    x = middle - wrist
    length = np.hypot(*x)
    x /= length
    y = np.array([-x[1], x[0]])
    if np.dot(side - wrist, y) < 0:
        y = -y
    return (wrist + length * (TEMPLATE[:, :1] * x + TEMPLATE[:, 1:] * y)).astype(np.float32)


def markers(wrist, angle_deg: float, length: float, index_on_left: bool):
    """Marker centres of a hand: wrist, middle MCP (the x axis) and a side marker on the index side."""
    a = np.deg2rad(angle_deg)
    x = np.array([np.cos(a), np.sin(a)])
    y = np.array([-x[1], x[0]]) * (1 if index_on_left else -1)
    wrist = np.asarray(wrist, np.float64)
    return wrist, wrist + length * x, wrist + length * (0.45 * x + 0.45 * y)


def handedness(wrist, middle, side) -> str:
    x, y = np.asarray(middle) - wrist, np.asarray(side) - wrist
    return "right" if x[0] * y[1] - x[1] * y[0] > 0 else "left"


class DotTeacher:
    """Finds hands by their painted markers; bad (yellow-wrist) hands ignore the side marker, so their
    answer on the mirrored photo disagrees. DOT_TEACHER_DELAY (s) slows it down for the kill test."""

    name = "dots-1"

    def __init__(self, max_hands: int = 2):
        self.max_hands = max_hands

    @staticmethod
    def blobs(rgb: np.ndarray, color) -> list[np.ndarray]:
        on = [c > 128 for c in color]
        mask = np.ones(rgb.shape[:2], bool)
        for ch, want in enumerate(on):
            mask &= (rgb[..., ch] > 150) if want else (rgb[..., ch] < 100)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        return [centroids[i] for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 5]

    def detect(self, image_rgb: np.ndarray) -> list[TeacherHand]:
        time.sleep(float(os.environ.get("DOT_TEACHER_DELAY", "0")))
        middles, sides = self.blobs(image_rgb, COLORS["middle"]), self.blobs(image_rgb, COLORS["side"])
        hands = []
        for kind in ("wrist", "bad_wrist"):
            for w in self.blobs(image_rgb, COLORS[kind]):
                if not middles or not sides:
                    continue
                m = min(middles, key=lambda p: np.hypot(*(p - w)))
                s = min(sides, key=lambda p: np.hypot(*(p - w)))
                if kind == "bad_wrist":  # ignores the side marker: always the same turn of the x axis
                    x = m - w
                    s = w + np.array([-x[1], x[0]])
                hands.append(TeacherHand(hand_keypoints(w, m, s), 0.9, handedness(w, m, s), 0.95))
        return hands[: self.max_hands]


def paint(size, hands, rng, noise: float = 0.0) -> np.ndarray:
    """An RGB picture: a skin-coloured palm and fingers under each hand's markers."""
    w, h = size
    img = np.full((h, w, 3), BACKGROUND, np.uint8)
    for wrist, middle, side, bad in hands:
        kps = hand_keypoints(wrist, middle, side)
        thick = max(2, int(np.hypot(*(middle - wrist)) * 0.18))
        for a, b in BONES:
            cv2.line(img, tuple(int(v) for v in kps[a]), tuple(int(v) for v in kps[b]), SKIN, thick)
        r = max(3, int(np.hypot(*(middle - wrist)) * 0.09))
        for p, c in ((wrist, COLORS["bad_wrist" if bad else "wrist"]), (middle, COLORS["middle"]), (side, COLORS["side"])):
            cv2.circle(img, (int(round(p[0])), int(round(p[1]))), r, c, -1, lineType=cv2.LINE_AA)
    if noise:
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    return img


def hand(wrist, angle, length, index_on_left=True, bad=False):
    w, m, s = markers(wrist, angle, length, index_on_left)
    # The painted disc's centre is where the teacher will find it: round like cv2.circle does.
    w, m, s = (np.round(p) for p in (w, m, s))
    return w, m, s, bad


def save_rgb(path, rgb) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def env(**extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def handpose(*args, timeout: float = 240, **extra_env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handpose.apps.cli", *map(str, args)], cwd=ROOT, env=env(**extra_env),
                          capture_output=True, text=True, timeout=timeout)


TEACHER = ["--teacher", "tests.apps.test_label:DotTeacher"]


def to_original(ann: dict, image: dict) -> np.ndarray:
    """Crop keypoints -> the source photo's pixels, through crop_box_in_original [x0, y0, side]."""
    x0, y0, side = image["crop_box_in_original"]
    kps = np.asarray(ann["keypoints"], np.float32).reshape(21, 3)[:, :2]
    return np.stack([x0 - 0.5 + (kps[:, 0] + 0.5) * side / image["width"],
                     y0 - 0.5 + (kps[:, 1] + 0.5) * side / image["height"]], axis=1)


def photo_folder(tmp_path):
    """Five photos (PNG) with known hands; returns the folder and, per photo, the hands painted."""
    rng = np.random.default_rng(0)
    photos = {
        "a_one": [hand((100, 200), -80, 60)],
        "b_two": [hand((80, 200), -70, 55), hand((240, 190), -100, 50, index_on_left=False)],
        "c_bad": [hand((90, 200), -90, 60), hand((240, 200), -60, 55, bad=True)],
        "d_none": [],
        "e_small": [hand((100, 200), -85, 60), hand((260, 120), -90, 12)],
    }
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, hands in photos.items():
        save_rgb(folder / f"{name}.png", paint((320, 240), hands, rng))
    (folder / "notes.txt").write_text("not an image, not looked at")
    (folder / "f_broken.png").write_bytes(b"not a png at all")
    return folder, photos


def test_photo_folder_labels_checks_frames_and_trains(tmp_path):
    folder, photos = photo_folder(tmp_path)
    out = tmp_path / "set"
    r = handpose("label", folder, "--out", out, "--frames", *TEACHER)
    assert r.returncode == 1, r.stderr[-3000:]  # the unreadable photo is named, the rest is written
    assert "f_broken.png: not a readable image" in r.stderr
    data = json.loads((out / "annotations.json").read_text())
    assert data["categories"][0]["keypoints"] == list(JOINT_NAMES)
    assert data["categories"][0]["skeleton"] == [[a + 1, b + 1] for a, b in BONES]
    images = {im["id"]: im for im in data["images"]}
    good = {name: [h for h in hands if not h[3] and np.hypot(*(h[1] - h[0])) > 20] for name, hands in photos.items()}
    assert len(data["annotations"]) == sum(map(len, good.values())) == 5
    for ann in data["annotations"]:
        image = images[ann["image_id"]]
        name = os.path.basename(image["original"])[:-4]
        kps = to_original(ann, image)
        truth = [hand_keypoints(*h[:3]) for h in good[name]]
        errors = [np.abs(kps - t).max() for t in truth]
        assert min(errors) < 0.6, (name, errors)
        w, m, s, _ = good[name][int(np.argmin(errors))]
        assert ann["hand"] == handedness(w, m, s) and ann["teacher"] == "dots-1" and ann["flip_err"] < 0.01
        crop_kps = np.asarray(ann["keypoints"]).reshape(21, 3)
        assert (crop_kps[:, 2] == 2).all() and ann["num_keypoints"] == 21
        lo, hi = crop_kps[:, :2].min(0), crop_kps[:, :2].max(0)
        np.testing.assert_allclose(ann["bbox"], [lo[0], lo[1], *(hi - lo)], atol=0.02)
        # A square 2.0 x the keypoint box's longer side, at most 224 px (never upscaled).
        side = image["crop_box_in_original"][2]
        assert side == pytest.approx(2.0 * max(hi - lo) * side / image["width"], abs=0.05)
        assert image["width"] == image["height"] == min(224, round(side))
        assert image["source"] == "photos" and (out / image["file_name"]).is_file()
        assert cv2.imread(str(out / image["file_name"])).shape[:2] == (image["height"], image["width"])
    # frames.json: photos whose every hand passed (the bad and the small hand's photos are left out).
    frames = json.loads((out / "frames.json").read_text())["frames"]
    assert sorted(os.path.basename(f["original"]) for f in frames) == ["a_one.png", "b_two.png", "d_none.png"]
    for f in frames:
        assert (out / f["file_name"]).is_file() and (f["width"], f["height"]) == (320, 240)
        truth = [hand_keypoints(*h[:3]) for h in photos[os.path.basename(f["original"])[:-4]]]
        assert len(f["boxes"]) == len(truth)
        for box, t in zip(sorted(f["boxes"]), sorted(truth, key=lambda k: k[:, 0].min())):
            np.testing.assert_allclose(box, [*t.min(0), *(t.max(0) - t.min(0))], atol=0.6)
    assert "5 kept, 1 failed the mirror check, 1 under --min-size" in r.stdout

    records = load_coco(out / "annotations.json")
    assert len(records) == 5 and all(rec.extra["hand"] in ("left", "right") for rec in records)
    t = handpose("train", "--config", "configs/mini_example.yaml", "--output", tmp_path / "runs", "name=labelled",
                 f"data.train=[{{format: coco, annotations: {out / 'annotations.json'}}}]",
                 "data.val=[{format: freihand, root: data/datasets/mini-example, split: evaluation, box: image}]",
                 "data.input_size=64", "train.batch_size=2", "train.epochs=1", "train.workers=0",
                 "train.max_steps_per_epoch=2")
    assert t.returncode == 0, t.stderr[-3000:]
    log = (tmp_path / "runs" / "labelled" / "log.csv").read_text().splitlines()
    assert len(log) == 2 and (tmp_path / "runs" / "labelled" / "last.pt").is_file()


def test_video_every_n_frames_and_duplicates_skipped(tmp_path):
    rng = np.random.default_rng(1)
    video = tmp_path / "clip.mp4"
    size = (640, 360)

    def wrist_at(i: int):  # still, then moving 25 px a frame, then still after a jump
        x = 120 + 25 * (min(max(i, 11), 23) - 11) + (60 if i >= 24 else 0)
        return (x, 260)

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    for i in range(40):
        writer.write(cv2.cvtColor(paint(size, [hand(wrist_at(i), -80, 70)], rng, noise=2.0), cv2.COLOR_RGB2BGR))
    writer.release()
    out = tmp_path / "set"
    r = handpose("label", video, "--out", out, "--every", "2", "--dup-threshold", "1.0", *TEACHER)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((out / "annotations.json").read_text())
    kept = sorted(im["frame"] for im in data["images"])
    # Every 2nd frame; of each still stretch only its first frame; every moving frame (50 px per step).
    assert kept == [0, 12, 14, 16, 18, 20, 22, 24]
    assert f"{20 - len(kept)} duplicate frames skipped" in r.stdout
    images = {im["id"]: im for im in data["images"]}
    for ann in data["annotations"]:
        image = images[ann["image_id"]]
        truth = hand_keypoints(*hand(wrist_at(image["frame"]), -80, 70)[:3])
        assert np.abs(to_original(ann, image) - truth).mean() < 1.5  # mp4 compression moves the markers a little
        assert image["source"] == "clip"
    assert len(load_coco(out / "annotations.json")) == len(kept)


def test_killed_run_resumes_without_duplicates(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        save_rgb(folder / f"p{i}.png", paint((256, 256), [hand((90 + 8 * i, 210), -75 - 3 * i, 60)], rng))
    reference = handpose("label", folder, "--out", tmp_path / "ref", *TEACHER)
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "set"
    proc = subprocess.Popen([sys.executable, "-m", "handpose.apps.cli", "label", str(folder), "--out", str(out), "--checkpoint", "2",
                             *TEACHER], cwd=ROOT, env=env(DOT_TEACHER_DELAY="0.15"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "journal.jsonl"
    kill_when(proc, lambda: journal.is_file() and journal.read_text().count("\n") >= 3,
              "labelling ended before 3 photos were done")
    done = journal.read_text().count("\n")
    assert 3 <= done < 8
    partial = json.loads((out / "annotations.json").read_text())  # a checkpoint, whole (written atomically)
    assert 2 <= len(partial["annotations"]) <= done

    resumed = handpose("label", folder, "--out", out, *TEACHER, "--checkpoint", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"({done} done before" in resumed.stdout
    got, ref = (json.loads((d / "annotations.json").read_text()) for d in (out, tmp_path / "ref"))
    names = [im["file_name"] for im in got["images"]]
    assert len(names) == len(set(names)) == 8
    assert sorted(names) == sorted(im["file_name"] for im in ref["images"])
    assert sorted(a["keypoints"] for a in got["annotations"]) == sorted(a["keypoints"] for a in ref["annotations"])
    items = [json.loads(line)["item"] for line in journal.read_text().splitlines()]
    assert len(items) == len(set(items)) == 8
    assert sorted(p.name for p in (out / "crops").iterdir()) == sorted(os.path.basename(n) for n in names)

    # Resuming with other options would mix two recipes in one set: refused, by name.
    changed = handpose("label", folder, "--out", out, *TEACHER, "--padding", "3")
    assert changed.returncode == 2 and "padding: 2.0 then, 3.0 now" in changed.stderr


def test_tta_maps_every_copy_back():
    rng = np.random.default_rng(3)
    painted = [hand((110, 230), -70, 70), hand((230, 210), -110, 60, index_on_left=False)]
    img = paint((320, 300), painted, rng)
    hands = label_image(img, DotTeacher(), tta=True)
    assert len(hands) == 2
    for h in hands:
        truth = min((hand_keypoints(*p[:3]) for p in painted), key=lambda t: np.abs(t - h.plain).max())
        assert h.copies == 10 and h.kept
        assert np.abs(h.keypoints - truth).max() < 1.0  # scaled, rotated and mirrored answers all land back


def test_calibration_fits_hand_frame_offsets_for_both_hands(tmp_path):
    rng = np.random.default_rng(4)
    true_offsets = rng.normal(0, 0.05, (21, 2))
    cal = Calibration(true_offsets)
    teacher, labels = [], []
    for _ in range(20):
        w, m, s = markers(rng.uniform(50, 200, 2), rng.uniform(0, 360), rng.uniform(30, 90), bool(rng.integers(2)))
        t = hand_keypoints(w, m, s)
        teacher.append(t)
        labels.append(cal.apply(t))
    fitted = fit_offsets(teacher, labels)
    np.testing.assert_allclose(fitted, true_offsets, atol=1e-5)
    # Mirror-consistent: a hand's mirror image gets the mirrored correction.
    t = teacher[0]
    mirrored = t * [-1, 1]
    np.testing.assert_allclose(cal.apply(mirrored), cal.apply(t) * [-1, 1], atol=1e-4)
    assert hand_frame(t)[1] == pytest.approx(np.hypot(*(t[9] - t[0])))
    # Restricted to the knuckles (the default of --fit-calibration), it moves only them.
    moved = np.abs(Calibration(true_offsets, joints=MCP_JOINTS).apply(t) - t).max(1) > 1e-4
    assert set(np.flatnonzero(moved)) == set(MCP_JOINTS)
    cal.save(tmp_path / "cal.json")
    np.testing.assert_allclose(Calibration.load(tmp_path / "cal.json").offsets, true_offsets, atol=1e-5)
    (tmp_path / "bad.json").write_text('{"kind": "handpose-teacher-calibration", "offsets": [[0, 0]]}')
    with pytest.raises(HandposeError, match="bad.json: 'offsets' must be 21"):
        Calibration.load(tmp_path / "bad.json")


def test_fit_calibration_command_then_label_with_it(tmp_path):
    """Hand-made labels that sit a fixed hand-frame offset from the teacher: fitted, then applied."""
    rng = np.random.default_rng(5)
    offsets = np.zeros((21, 2))
    offsets[[5, 9, 13, 17]] = [0.06, -0.04]  # the knuckles, as MediaPipe's sit from people's
    images, annotations, folder = [], [], tmp_path / "labelled"
    (folder / "images").mkdir(parents=True)
    for i in range(4):
        h = hand((100 + 10 * i, 200), -80 + 10 * i, 60, index_on_left=bool(i % 2))
        save_rgb(folder / "images" / f"{i}.png", paint((256, 256), [h], rng))
        kps = Calibration(offsets).apply(hand_keypoints(*h[:3]))
        lo, hi = kps.min(0), kps.max(0)
        images.append({"id": i + 1, "file_name": f"images/{i}.png", "width": 256, "height": 256})
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [*lo.tolist(), *(hi - lo).tolist()],
                            "keypoints": [float(v) for x, y in kps for v in (x, y, 2)]})
    (folder / "annotations.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    r = handpose("label", "--fit-calibration", folder / "annotations.json", "--calibration", tmp_path / "cal.json", *TEACHER)
    assert r.returncode == 0, r.stderr[-3000:]
    cal = Calibration.load(tmp_path / "cal.json")
    assert cal.info["hands"] == 4
    np.testing.assert_allclose(cal.offsets, offsets, atol=0.01)
    out = tmp_path / "set"
    r = handpose("label", folder / "images", "--out", out, "--calibration", tmp_path / "cal.json", *TEACHER)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((out / "annotations.json").read_text())
    assert data["annotations"][0]["teacher"] == "dots-1+calibrated"
    for ann, image in zip(data["annotations"], data["images"]):
        want = np.asarray(annotations[int(os.path.basename(image["original"])[:-4])]["keypoints"]).reshape(21, 3)[:, :2]
        assert np.abs(to_original(ann, image) - want).max() < 0.6


def test_mediapipe_missing_names_the_extra(monkeypatch):
    from handpose.apps.label.teachers import MediaPipeTeacher

    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe now raises ImportError
    with pytest.raises(HandposeError, match=r"'teacher' extra.*handpose\[teacher\]"):
        MediaPipeTeacher()


def test_user_mistakes_are_named(tmp_path):
    r = handpose("label", tmp_path / "nowhere", "--out", tmp_path / "o", *TEACHER)
    assert r.returncode == 2 and "nowhere: no such file or folder" in r.stderr
    r = handpose("label", MINI, "--out", tmp_path / "o", "--teacher", "nosuchmodule:Teacher")
    assert r.returncode == 2 and "--teacher nosuchmodule:Teacher: cannot be imported" in r.stderr
    r = handpose("label", MINI, "--out", tmp_path / "o", "--every", "0", *TEACHER)
    assert r.returncode == 2 and "--every must be at least 1" in r.stderr


def test_model_teacher_gives_the_models_hands():
    from handpose.data.datasets import read_rgb
    from handpose.apps.label import ModelTeacher

    if not (ROOT / "handpose" / "weights" / "default.safetensors").is_file():
        pytest.skip("no bundled weights")
    teacher = ModelTeacher(max_hands=1, backend="torch", threads=1)
    assert teacher.pipeline.side is not None  # the bundled palm-side classifier says left or right
    for path in sorted((MINI / "evaluation" / "rgb").glob("*.jpg")):
        image = read_rgb(path)
        hands = teacher.detect(image)
        mirrored = teacher.detect(np.ascontiguousarray(image[:, ::-1]))
        assert len(hands) == len(mirrored) == 1, path.name
        assert hands[0].keypoints.shape == (21, 2) and 0 < hands[0].score <= 1
        # the same hand, found in both photos (a mirrored photo puts x at width - 1 - x)
        back = np.stack([image.shape[1] - 1 - mirrored[0].keypoints[:, 0], mirrored[0].keypoints[:, 1]], 1)
        assert np.abs(back - hands[0].keypoints).mean() < 10, path.name
        # a mirrored photo shows the person's other hand: the teacher must say the other side, and be sure of both
        assert {hands[0].hand, mirrored[0].hand} == {"left", "right"}, path.name
        assert min(hands[0].handedness_score, mirrored[0].handedness_score) > 0.8, path.name  # 0.86 the least today
