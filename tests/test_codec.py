import numpy as np
import pytest

from handpose.codec import HeatmapCodec


def random_keypoints(rng, n=21, margin=16):
    return rng.uniform(margin, 224 - margin, (n, 2)).astype(np.float32)


def test_encode_shapes_and_peak():
    codec = HeatmapCodec()
    kps = np.array([[100.0, 60.0]] * 21, np.float32)
    heatmaps, weights = codec.encode(kps)
    assert heatmaps.shape == (21, 56, 56) and heatmaps.dtype == np.float32
    assert weights.tolist() == [1.0] * 21
    y, x = np.unravel_index(heatmaps[0].argmax(), heatmaps[0].shape)
    # Pixel-centre mapping: input 100 -> heatmap (100 + 0.5) / 4 - 0.5 = 24.625.
    assert (x, y) == (25, 15) and heatmaps[0].max() <= 1.0


def test_round_trip_within_a_tenth_of_a_heatmap_pixel_and_dark_beats_argmax():
    codec = HeatmapCodec()
    rng = np.random.default_rng(0)
    err = {}
    for refine in ("dark", "none", "shift"):
        errors = []
        for trial in range(20):
            kps = random_keypoints(np.random.default_rng(trial))
            decoded, scores = codec.decode(codec.encode(kps)[0], refine=refine)
            errors.append(np.abs(codec.to_heatmap(decoded) - codec.to_heatmap(kps)).max(1))
        err[refine] = np.concatenate(errors)
    assert err["dark"].max() < 0.1
    assert err["dark"].mean() < err["shift"].mean() < err["none"].mean()
    assert err["none"].max() > 0.3  # integer argmax really does lose up to half a pixel


def test_batched_decode_and_scores():
    codec = HeatmapCodec()
    kps = random_keypoints(np.random.default_rng(1))
    hm = np.stack([codec.encode(kps)[0], 0.5 * codec.encode(kps)[0]])
    decoded, scores = codec.decode(hm)
    assert decoded.shape == (2, 21, 2) and scores.shape == (2, 21)
    np.testing.assert_allclose(scores[1], 0.5 * scores[0], rtol=1e-5)
    np.testing.assert_allclose(decoded[0], decoded[1], atol=0.05)


def test_joints_outside_or_invisible_get_zero_weight():
    codec = HeatmapCodec()
    kps = random_keypoints(np.random.default_rng(2))
    kps[3] = (-10, 50)
    kps[7] = (100, 240)
    vis = np.ones(21, np.float32)
    vis[5] = 0
    heatmaps, weights = codec.encode(kps, vis)
    assert weights[[3, 5, 7]].tolist() == [0, 0, 0] and weights.sum() == 18
    assert heatmaps[[3, 5, 7]].max() == 0


def test_flipping_the_input_is_flipping_the_heatmap():
    codec = HeatmapCodec()
    kps = random_keypoints(np.random.default_rng(3))
    mirrored = kps.copy()
    mirrored[:, 0] = 223 - kps[:, 0]
    np.testing.assert_allclose(codec.flip_heatmaps(codec.encode(mirrored)[0]), codec.encode(kps)[0], atol=1e-6)


def test_other_sizes():
    codec = HeatmapCodec(input_size=(256, 256), heatmap_size=(64, 64))
    kps = random_keypoints(np.random.default_rng(4)) * 256 / 224
    decoded, _ = codec.decode(codec.encode(kps)[0])
    np.testing.assert_allclose(decoded, kps, atol=0.4)


def test_unknown_refine():
    with pytest.raises(ValueError):
        HeatmapCodec().decode(np.zeros((21, 56, 56), np.float32), refine="magic")


def _dark_on_whole_maps(codec: HeatmapCodec, flat: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """DARK as written in the paper's code: blur each whole map, rescale it to the peak, log, one Newton step."""
    import cv2

    out = coords.copy()
    for i, hm in enumerate(flat):
        blurred = cv2.GaussianBlur(hm, (codec.blur_kernel, codec.blur_kernel), 0)
        blurred *= hm.max() / max(blurred.max(), 1e-12)
        logm = np.log(np.maximum(blurred, 1e-10))
        x, y = int(coords[i, 0]), int(coords[i, 1])
        if not (1 <= x < hm.shape[1] - 1 and 1 <= y < hm.shape[0] - 1):
            continue
        dx, dy = 0.5 * (logm[y, x + 1] - logm[y, x - 1]), 0.5 * (logm[y + 1, x] - logm[y - 1, x])
        dxx = logm[y, x + 1] - 2 * logm[y, x] + logm[y, x - 1]
        dyy = logm[y + 1, x] - 2 * logm[y, x] + logm[y - 1, x]
        dxy = 0.25 * (logm[y + 1, x + 1] - logm[y + 1, x - 1] - logm[y - 1, x + 1] + logm[y - 1, x - 1])
        det = dxx * dyy - dxy * dxy
        if det > 1e-12 and dxx < 0:
            sx, sy = (dyy * dx - dxy * dy) / det, (dxx * dy - dxy * dx) / det
            if abs(sx) < 1 and abs(sy) < 1:
                out[i] = (x - sx, y - sy)
    return out


def test_dark_around_the_peak_equals_dark_on_the_whole_map():
    """The decoder blurs only the 3x3 neighbourhood of each peak: same answer as blurring everything, also
    for peaks near the border (reflected like cv2), two overlapping blobs and a stretched blob."""
    codec = HeatmapCodec()
    rng = np.random.default_rng(3)
    maps = [codec.encode(random_keypoints(np.random.default_rng(s), margin=-2))[0] for s in range(4)]
    mixed = codec.encode(random_keypoints(rng))[0] + 0.6 * codec.encode(random_keypoints(rng))[0]
    stretched = np.exp(-((np.arange(56)[None] - 30.3) ** 2 / 40 + (np.arange(56)[:, None] - 20.8) ** 2 / 6))
    flat = np.concatenate(maps + [mixed, stretched[None].astype(np.float32)])
    flat = flat + rng.normal(0, 0.01, flat.shape).astype(np.float32) * (flat.max(axis=(1, 2), keepdims=True) > 0)
    idx = flat.reshape(len(flat), -1).argmax(1)
    coords = np.stack([idx % 56, idx // 56], 1).astype(np.float32)
    refined = codec._dark(flat, coords)
    np.testing.assert_allclose(refined, _dark_on_whole_maps(codec, flat, coords), atol=1e-3)
    assert (np.abs(refined - coords).max(1) > 0.05).mean() > 0.5  # the step really moves most joints
