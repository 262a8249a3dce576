"""bench/live.py's scoring of real clips: the share of the reference's hands another pipeline also reports."""
import importlib.util

import numpy as np
import pytest

from handpose.data.datasets import load_freihand
from handpose.errors import HandposeError

from .conftest import MINI, ROOT

spec = importlib.util.spec_from_file_location("live_bench", ROOT / "bench" / "live.py")
live_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(live_bench)


def test_a_hand_counts_found_only_within_a_fifth_of_its_size_and_each_once():
    a, b = (r.keypoints for r in load_freihand(MINI, "training", versions=1)[:2])
    b = b + np.array([300.0, 0.0], np.float32)  # a second hand beside the first
    size = np.ptp(a, axis=0).max()
    near, off = a + 0.1 * size, a + 0.3 * size  # every joint moved by 0.14 and 0.42 of the size
    reference = [[a, b], [a, b], [a], []]
    other = [[near, b], [off], [near, near], [a]]
    r = live_bench.agreement(reference, other)
    # frame 1: both found; 2: a is 0.42 off, b missed; 3: a found once, its twin is extra; 4: a hand MediaPipe lacks
    assert (r["reference"], r["found"], r["extra"]) == (5, 3, 1 + 1 + 1)
    assert r["share"] == 3 / 5
    # the two missed: frame 2's a has a reported hand 0.42 of its size away (drawn off), b has none (unseen)
    assert (r["off"], r["unseen"]) == (1, 1)
    assert live_bench.agreement(reference, reference)["share"] == 1.0


def test_clips_are_every_video_under_a_folder_or_a_video_file_itself(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/one.mp4", "a/two.MOV", "a/notes.txt", "three.webm"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in live_bench.clip_paths(tmp_path / "a")] == ["one.mp4", "two.MOV"]
    assert live_bench.clip_paths(tmp_path / "three.webm") == [tmp_path / "three.webm"]
    for bad in (tmp_path / "a" / "notes.txt", tmp_path / "nothing"):
        with pytest.raises(HandposeError, match="not a folder or a video file"):
            live_bench.clip_paths(bad)


def test_given_crops_draws_a_made_hand_from_its_own_crop_and_lags_a_frame_on_the_last_ones(tmp_path):
    import argparse

    from handpose.data.video import mini_example_video

    video = mini_example_video(tmp_path / "still.mp4", still=4, move=6, gap=2)
    args = argparse.Namespace(weights=None, threads=1, upright=False)
    same, before = live_bench.given_crops(video.path, video.labels, args, "onnx-int8")
    assert len(same) == len(before) == len(video.labels)
    # one hand per labelled frame, none where the hand is gone; the frame before's crops lag by one frame
    assert [len(h) for h in same] == [len(h) for h in video.labels]
    assert [len(h) for h in before] == [0] + [len(h) for h in video.labels[:-1]]
    # the bundled model on the hand's own crop: every labelled hand found
    assert live_bench.agreement(video.labels, same)["share"] == 1.0
