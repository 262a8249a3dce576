import numpy as np
import pytest

from handpose.data.datasets import load_freihand, read_rgb
from handpose.pose.inference import PoseEstimator
from handpose.tracking import HandTracker, Track
from handpose.data.video import mini_example_video
from handpose.weights import DEFAULT_WEIGHTS
from tests.conftest import MINI, untrained_release


@pytest.fixture(scope="module")
def random_estimator(tmp_path_factory) -> PoseEstimator:
    return PoseEstimator(untrained_release(tmp_path_factory.mktemp("model") / "m.safetensors"))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    r = load_freihand(MINI, "training", versions=1)[0]
    canvas = np.full((240, 320, 3), 90, np.uint8)
    canvas[:224, 40:264] = read_rgb(r.image)[16:240, 16:240]
    return canvas


def test_finder_runs_only_without_a_track_and_a_lost_track_starts_afresh(random_estimator, frame):
    est = random_estimator
    tracker = HandTracker(est, max_hands=1)
    est.presence_threshold = 0.0  # every estimate counts as a hand
    first = tracker.update(frame, 0.0)
    assert tracker.info.found and len(first) == 1
    for i in range(1, 4):  # tracked: the crop comes from the last keypoints, the finder does not run
        tracks = tracker.update(frame, i / 30)
        assert not tracker.info.found and [t.id for t in tracks] == [first[0].id]
        assert tracks[0].frames == i + 1
    est.presence_threshold = 2.0  # no score reaches it: the hand is gone
    assert tracker.update(frame, 4 / 30) == [] and tracker.info.lost == 1 and tracker.info.found
    assert tracker.update(frame, 5 / 30) == [] and tracker.info.found
    est.presence_threshold = 0.0
    back = tracker.update(frame, 6 / 30)
    assert tracker.info.found and len(back) == 1 and back[0].id != first[0].id
    # a new track has a fresh filter: its first keypoints are the raw estimate, not blended with the old hand
    np.testing.assert_allclose(back[0].keypoints, back[0].hand.keypoints)
    est.presence_threshold = 0.2


def test_smoothing_off_shows_raw_keypoints(random_estimator, frame):
    random_estimator.presence_threshold = 0.0
    tracker = HandTracker(random_estimator, smoothing=None)
    for i in range(3):
        tracks = tracker.update(frame, i / 30)
        np.testing.assert_array_equal(tracks[0].keypoints, tracks[0].hand.keypoints)
    random_estimator.presence_threshold = 0.2


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason=f"needs the bundled default weights ({DEFAULT_WEIGHTS})")
def test_hand_lost_when_it_leaves_and_refound_when_it_comes_back(tmp_path):
    video = mini_example_video(tmp_path / "v.mp4", still=15, move=20, gap=10)
    import cv2

    tracker = HandTracker(PoseEstimator(None), max_hands=1)
    cap = cv2.VideoCapture(str(video.path))
    shown, finds = [], []
    for i in range(len(video.labels)):
        ok, bgr = cap.read()
        assert ok
        shown.append(bool(tracker.update(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / video.fps)))
        finds.append(tracker.info.found)
    labelled = [bool(x) for x in video.labels]
    gap = [i for i, l in enumerate(labelled) if not l]
    back = gap[-1] + 1
    assert not any(shown[i] for i in gap[1:]), "a frame without a hand shows none"
    assert any(shown[back:back + 3]), "re-found within 3 frames of coming back"
    assert sum(s for s, l in zip(shown, labelled) if l) >= 0.9 * sum(labelled)
    # tracking, not finding, on most frames with a hand (without one the finder runs every frame)
    assert sum(f for f, l in zip(finds, labelled) if l) <= 0.25 * sum(labelled)


class ScriptedGestures:
    """A stand-in classifier that answers from a script, one answer per frame, for the tracker's mean."""

    classes = ["None", "Victory"]

    def __init__(self, script: list[str]):
        self.script = list(script)

    def probabilities(self, keypoints: np.ndarray) -> np.ndarray:
        name = self.script.pop(0)
        return np.tile([0.1, 0.9] if name == "Victory" else [0.9, 0.1], (len(keypoints), 1))


def test_a_tracks_gesture_survives_one_odd_frame_and_follows_a_lasting_change(random_estimator, frame):
    script = ["Victory"] * 5 + ["None"] + ["Victory"] * 2 + ["None"] * 4
    names = ScriptedGestures([])
    track = Track(0, None, np.zeros((21, 2)), None)
    shown = []
    for name in script:
        track.observe_gesture(ScriptedGestures([name]).probabilities(np.zeros((1, 21, 2)))[0], names.classes)
        shown.append(track.gesture[0])
    assert shown[:8] == ["Victory"] * 8  # the one odd frame (index 5) does not rename the hand
    assert shown[-1] == "None"  # four frames in a row do
    # in the tracker: every frame's tracks are asked, and the JSON lines carry the track's answer
    random_estimator.presence_threshold = 0.0
    tracker = HandTracker(random_estimator, max_hands=1)
    tracker.pipeline.gestures = ScriptedGestures(["Victory"] * 3)
    for i in range(3):
        (t,) = tracker.update(frame, i / 30)
        assert t.to_json()["gesture"] == "Victory" and t.to_json()["gesture_score"] == pytest.approx(0.9)
    assert tracker.info.ms["gesture"] >= 0
    random_estimator.presence_threshold = 0.2


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason=f"needs the bundled default weights ({DEFAULT_WEIGHTS})")
def test_a_second_hand_that_comes_in_while_one_is_tracked_is_added_within_a_few_frames(tmp_path):
    import cv2

    from handpose.data.video import two_hand_video
    from handpose.defaults import VIDEO
    from handpose.pipeline import HandPipeline

    appear, every = 12, 5
    video = two_hand_video(tmp_path / "v.mp4", still=14, move=6, appear=appear)
    pipeline = HandPipeline.create(backend=VIDEO.backend, flip_test=VIDEO.flip_test, max_hands=2, threads=2)
    tracker = HandTracker(pipeline, max_hands=2, redetect_every=every)
    cap = cv2.VideoCapture(str(video.path))
    counts, near = [], []
    for i, truths in enumerate(video.labels):
        ok, bgr = cap.read()
        assert ok
        tracks = tracker.update(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / video.fps)
        counts.append(len(tracks))
        # every tracked hand lies on a labelled one (under 0.2 of its size away on average): none on nothing
        for t in tracks:
            gaps = [np.linalg.norm(t.keypoints - k, axis=1).mean() / np.ptp(k, axis=0).max() for k in truths]
            near.append(min(gaps))
    assert counts[:appear] and max(counts[:appear]) == 1, "one hand in view, one tracked"
    added = next((i for i in range(appear, len(counts)) if counts[i] == 2), None)
    assert added is not None and added - appear <= every + 1, f"second hand added on frame {added}, came in on {appear}"
    assert all(c == 2 for c in counts[added:]), "both hands kept once found"
    assert max(near) < 0.2, f"a track {max(near):.2f} hand sizes from every labelled hand"


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason=f"needs the bundled default weights ({DEFAULT_WEIGHTS})")
def test_a_tracked_hand_is_kept_down_to_the_keep_threshold_while_a_new_one_needs_the_presence_threshold(frame):
    import cv2

    est = PoseEstimator(None)
    blurred = cv2.GaussianBlur(frame, (0, 0), 5)
    est.presence_threshold = 0.0  # first the scores the model gives this hand, tracked, sharp then blurred
    probe = HandTracker(est, max_hands=1, smoothing=None)
    probe.update(frame, 0.0)
    sharp = probe.update(frame, 1 / 30)[0].hand.score
    soft = probe.update(blurred, 2 / 30)[0].hand.score
    assert soft < sharp - 0.02  # blur lowers the presence score
    frames = [frame, frame, blurred, blurred]
    plain = HandTracker(est, max_hands=1, smoothing=None)
    kept = HandTracker(est, max_hands=1, smoothing=None, keep_threshold=soft / 2)
    first = [plain.update(frame, 0.0), kept.update(frame, 0.0)]  # found as the probe found it
    assert all(len(hands) == 1 for hands in first)
    est.presence_threshold = (sharp + soft) / 2  # now the blurred hand is too weak to be found or, plainly, kept
    plain.update(frames[1], 1 / 30)
    kept.update(frames[1], 1 / 30)
    lost = plain.update(frames[2], 2 / 30)
    assert plain.info.lost == 1 and all(t.id != first[0][0].id for t in lost)
    for i in (2, 3):  # the blurred hand stays the same track, found no search
        hands = kept.update(frames[i], i / 30)
        assert kept.info.lost == 0 and not kept.info.found and [t.id for t in hands] == [first[1][0].id]
    est.presence_threshold = 0.2
