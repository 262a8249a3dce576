"""Each metric on hand-made cases, and against a transcription of MMPose's own functions."""
import numpy as np
import pytest

from handpose.train import metrics


def one_joint(dx: float, dy: float = 0.0):
    """One sample, one joint, predicted (dx, dy) pixels away from the truth."""
    gt = np.array([[[10.0, 20.0]]])
    return gt + [[[dx, dy]]], gt, np.ones((1, 1), bool)


def test_pck_is_strict():
    pred, gt, mask = one_joint(1.5)
    assert metrics.pck(pred, gt, mask, 1.5) == 0.0
    assert metrics.pck(pred, gt, mask, 1.5 + 1e-9) == 1.0
    pred, gt, mask = one_joint(0.0)
    assert metrics.pck(pred, gt, mask, 0.0) == 0.0  # a perfect joint does not pass the 0 px threshold


def test_auc_thresholds_are_0_to_28_5_px():
    assert metrics.AUC_PIXEL_THRESHOLDS.tolist() == pytest.approx([1.5 * i for i in range(20)])
    # A joint at distance d passes the thresholds t > d: count them by hand.
    for d, passed in [(0.0, 19), (1.0, 19), (1.5, 18), (3.0, 17), (3.1, 17), (28.4, 1), (28.5, 0), (40.0, 0)]:
        pred, gt, mask = one_joint(d)  # exact in binary: the boundary cases are really on the boundary
        assert metrics.auc(pred, gt, mask) == pytest.approx(passed / 20), d


def test_pck_is_normalised_by_the_longer_box_side():
    gt = np.zeros((2, 1, 2))
    pred = gt + [[[0.0, 19.9]], [[0.0, 20.0]]]
    mask = np.ones((2, 1), bool)
    wide = np.array([[0, 0, 100, 50], [0, 0, 100, 50]])  # longer side 100: threshold 0.2 -> 20 px
    assert metrics.pck(pred, gt, mask, 0.2, metrics.box_longer_side(wide)) == 0.5
    tall = np.array([[5, 5, 30, 101], [5, 5, 30, 101]])  # longer side 101: both pass
    assert metrics.pck(pred, gt, mask, 0.2, metrics.box_longer_side(tall)) == 1.0
    assert metrics.box_longer_side(tall).tolist() == [101, 101]


def test_pck_averages_per_joint_over_the_mask():
    # Joint 0: one valid sample, correct. Joint 1: three valid samples, one correct. Joint 2: never labelled.
    gt = np.zeros((3, 3, 2))
    pred = gt.copy()
    pred[:, 1] = [[0, 0], [9, 0], [9, 0]]
    pred[1:, 0] = 100.0  # wrong but masked out
    mask = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 0]], bool)
    assert metrics.per_joint_pck(pred, gt, mask, 5.0)[:2].tolist() == pytest.approx([1.0, 1 / 3])
    assert np.isnan(metrics.per_joint_pck(pred, gt, mask, 5.0)[2])
    assert metrics.pck(pred, gt, mask, 5.0) == pytest.approx((1 + 1 / 3) / 2)  # MMPose: mean over joints
    assert metrics.epe(pred, gt, mask) == pytest.approx(18 / 4)  # EPE: mean over all valid joints
    assert metrics.per_joint_epe(pred, gt, mask)[:2].tolist() == pytest.approx([0.0, 6.0])
    assert np.isnan(metrics.per_joint_epe(pred, gt, mask)[2])


def test_empty_box_and_empty_mask_do_not_count():
    gt = np.zeros((2, 1, 2))
    pred = gt + [[[1.0, 0.0]], [[50.0, 0.0]]]
    mask = np.ones((2, 1), bool)
    # The second sample has a zero box: it is left out instead of dividing by zero.
    assert metrics.pck(pred, gt, mask, 0.2, metrics.box_longer_side([[0, 0, 10, 10], [0, 0, 0, 0]])) == 1.0
    nothing = np.zeros((2, 1), bool)
    assert np.isnan(metrics.epe(pred, gt, nothing)) and np.isnan(metrics.pck(pred, gt, nothing, 0.2))


def test_epe_is_euclidean_in_pixels():
    pred, gt, mask = one_joint(3.0, 4.0)
    assert metrics.epe(pred, gt, mask) == pytest.approx(5.0)


def test_summary_on_a_hand_made_set():
    gt = np.zeros((2, 21, 2))
    pred = gt.copy()
    pred[0, :, 0] = 2.0  # sample 0: every joint 2 px off
    pred[1, :, 1] = 30.0  # sample 1: every joint 30 px off
    s = metrics.summary(pred, gt, np.ones((2, 21), bool), [[0, 0, 100, 100], [0, 0, 200, 150]])
    assert s["EPE"] == pytest.approx(16.0)
    assert s["PCK@0.2"] == pytest.approx(1.0)  # 2 < 20 and 30 < 40
    assert s["AUC"] == pytest.approx(0.5 * 18 / 20)  # 2 px passes 18 thresholds, 30 px none
    # Scale-free: 2/100 = 0.02 passes thresholds 0.03..0.19 (17), 30/200 = 0.15 passes 0.16..0.19 (4).
    assert s["AUC_norm"] == pytest.approx(0.5 * (17 + 4) / 20)


# -- MMPose's functions (mmpose/evaluation/functional/keypoint_eval.py), transcribed as reference -------------

def _mm_calc_distances(preds, gts, mask, norm_factor):
    n, k, _ = preds.shape
    _mask = mask.copy()
    _mask[np.where((norm_factor == 0).sum(1))[0], :] = False
    d = np.full((n, k), -1, dtype=np.float32)
    norm_factor = norm_factor.copy()
    norm_factor[np.where(norm_factor <= 0)] = 1e6
    d[_mask] = np.linalg.norm(((preds - gts) / norm_factor[:, None, :])[_mask], axis=-1)
    return d.T


def _mm_distance_acc(d, thr):
    valid = d != -1
    return (d[valid] < thr).sum() / valid.sum() if valid.sum() > 0 else -1


def _mm_pck(pred, gt, mask, thr, norm_factor):
    acc = np.array([_mm_distance_acc(d, thr) for d in _mm_calc_distances(pred, gt, mask, norm_factor)])
    valid = acc[acc >= 0]
    return valid.mean() if len(valid) else 0.0


def _mm_auc(pred, gt, mask, norm_factor, num_thrs=20):
    nor = np.tile(np.array([[norm_factor, norm_factor]]), (pred.shape[0], 1))
    return sum(1.0 / num_thrs * _mm_pck(pred, gt, mask, i / num_thrs, nor) for i in range(num_thrs))


def _mm_epe(pred, gt, mask):
    d = _mm_calc_distances(pred, gt, mask, np.ones((pred.shape[0], pred.shape[2]), np.float32))
    d = d[d != -1]
    return d.sum() / max(1, len(d))


def test_agrees_with_mmpose_on_random_sets():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt = rng.uniform(0, 224, (40, 21, 2))
        pred = gt + rng.normal(0, rng.uniform(2, 25), gt.shape)
        mask = rng.random((40, 21)) > 0.2
        boxes = np.c_[rng.uniform(0, 50, (40, 2)), rng.uniform(60, 250, (40, 2))]
        side = metrics.box_longer_side(boxes)
        assert metrics.pck(pred, gt, mask, 0.2, side) == pytest.approx(_mm_pck(pred, gt, mask, 0.2, np.c_[side, side]))
        assert metrics.auc(pred, gt, mask) == pytest.approx(_mm_auc(pred, gt, mask, 30))
        assert metrics.epe(pred, gt, mask) == pytest.approx(_mm_epe(pred, gt, mask), rel=1e-5)


def test_mirrored_hands_are_those_turning_the_other_way():
    from handpose.data.datasets import load_freihand

    from ..conftest import MINI

    gt = np.stack([r.keypoints for r in load_freihand(MINI, "training")]).astype(np.float64)
    same, counted = metrics.mirrored(gt + 1.0, gt)
    assert counted.sum() >= len(gt) // 2 and not same.any()  # a shifted hand turns the same way
    # the fingers' chains swapped (thumb <-> little, index <-> ring): every joint on a finger, the turn reversed
    swap = np.r_[0, 17:21, 13:17, 9:13, 5:9, 1:5]
    flipped, _ = metrics.mirrored(gt[:, swap], gt)
    assert (flipped == counted).all()
    edge_on = gt.copy()
    edge_on[:, 17] = edge_on[:, 0] + 0.5 * (edge_on[:, 5] - edge_on[:, 0])  # little knuckle on the index line
    flagged, counted = metrics.mirrored(gt, edge_on)
    assert not counted.any() and not flagged.any()
