"""bench/score_predict.py: a predict JSON scored against labels (mini-example, and a COCO file with sides)."""
import importlib.util
import json

import numpy as np
import pytest

from handpose.data.datasets import load_freihand
from handpose.data.transforms import keypoints_box

from .conftest import MINI, ROOT

spec = importlib.util.spec_from_file_location("score_predict", ROOT / "bench" / "score_predict.py")
score_predict = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score_predict)


def hand(keypoints: np.ndarray, score: float = 0.9, side: str | None = None) -> dict:
    return {"keypoints": [[float(x), float(y), 0.5] for x, y in keypoints], "score": score,
            "box": [float(v) for v in keypoints_box(keypoints)], "handedness": side,
            "handedness_score": None if side is None else 0.9}


def predictions(entries) -> dict:
    return {"model": "test", "images": [{"image": f"/elsewhere/{name}", "width": 224, "height": 224, "hands": hands}
                                        for name, hands in entries]}


def test_scores_the_best_hand_and_counts_a_photo_without_one_as_a_miss():
    recs = load_freihand(MINI, "evaluation", versions=1)
    entries = []
    for i, r in enumerate(recs):
        if i == 0:
            entries.append((r.image.name, []))  # nothing found
        else:  # the best-scoring hand 4 px to the right of the truth; a worse-scoring one far off
            entries.append((r.image.name, [hand(r.keypoints + [50.0, 0.0], 0.3), hand(r.keypoints + [4.0, 0.0], 0.8)]))
    result = score_predict.score(predictions(entries), recs)
    assert result["photos"] == len(recs)
    assert result["found"] == pytest.approx((len(recs) - 1) / len(recs))
    assert result["EPE"] == pytest.approx(4.0, abs=1e-4)
    # AUC: 4 px is within the thresholds from 4.5 px on (17 of 0, 1.5, ..., 28.5) for the found photos, a miss
    # within none
    assert result["AUC"] == pytest.approx(17 / 20 * (len(recs) - 1) / len(recs), abs=1e-6)
    assert "side_accuracy" not in result  # FreiHAND labels carry no side


def test_left_right_is_read_from_the_hand_on_the_labelled_box(tmp_path):
    recs = load_freihand(MINI, "evaluation", versions=1)
    for r, side in zip(recs, ["left", "right", "right", "left"]):
        r.extra = {"hand": side}
    entries = [  # photo 0 right, 1 right (the other hand, elsewhere, says left), 2 not located, 3 left
        (recs[0].image.name, [hand(recs[0].keypoints, side="right")]),
        (recs[1].image.name, [hand(recs[1].keypoints + [150.0, 150.0], 0.95, "left"), hand(recs[1].keypoints, 0.5, "right")]),
        (recs[2].image.name, [hand(recs[2].keypoints + [200.0, 0.0], side="right")]),
        (recs[3].image.name, [hand(recs[3].keypoints, side="left")]),
    ]
    result = score_predict.score(predictions(entries), recs)
    assert (result["labelled_sides"], result["located"], result["sided"], result["side_correct"]) == (4, 3, 3, 2)
    assert result["side_accuracy"] == pytest.approx(2 / 3)


def test_bad_input_is_named(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(predictions([("not-in-the-set.jpg", [])])))
    assert score_predict.main([str(path), "--data", str(MINI)]) == 2
    assert "no image of the predictions" in capsys.readouterr().err
    path.write_text("{not json")
    assert score_predict.main([str(path), "--data", str(MINI)]) == 2
