import cv2
import numpy as np
import pytest

from handpose.codec import HeatmapCodec
from handpose.data.transforms import (Augment, apply_affine, box_to_center_size, crop_affine, hand_crop, invert_affine,
                                      keypoints_box, low_resolution, motion_blur, normalize, upright_roi, warp)


def test_image_to_crop_to_heatmap_and_back_within_a_quarter_pixel():
    codec = HeatmapCodec()
    rng = np.random.default_rng(0)
    for _ in range(200):
        box = (*rng.uniform(0, 400, 2), *rng.uniform(20, 300, 2))
        center, size = box_to_center_size(box, padding=rng.uniform(1.0, 1.5))
        m = crop_affine(center, size, codec.input_size, rotation=rng.uniform(-180, 180), flip=bool(rng.random() < 0.5))
        points = np.column_stack([rng.uniform(box[0], box[0] + box[2], 21), rng.uniform(box[1], box[1] + box[3], 21)])
        in_heatmap = codec.to_heatmap(apply_affine(points, m))
        back = apply_affine(codec.to_input(in_heatmap), invert_affine(m))
        assert np.abs(back - points).max() < 0.25


def test_the_warped_pixels_follow_the_matrix():
    # A bright dot in the image must land where the matrix sends its coordinates, for rotations and flips.
    rng = np.random.default_rng(1)
    for _ in range(20):
        image = np.zeros((300, 400, 3), np.uint8)
        dot = rng.uniform(120, 180, 2)
        cv2.circle(image, tuple(np.round(dot * 16).astype(int)), 3 * 16, (255, 255, 255), -1, shift=4)
        center, size = box_to_center_size((100, 100, 100, 100), 1.25)
        m = crop_affine(center, size, (224, 224), rotation=rng.uniform(-180, 180), flip=bool(rng.random() < 0.5))
        crop = warp(image, m, (224, 224))[..., 0].astype(np.float64)
        ys, xs = np.mgrid[:224, :224]
        found = np.array([(xs * crop).sum(), (ys * crop).sum()]) / crop.sum()
        assert np.abs(found - apply_affine(dot, m)).max() < 0.5


def test_box_centre_and_square_size():
    center, size = box_to_center_size((10, 20, 100, 50), padding=1.25)
    assert size == 125.0
    m = crop_affine(center, size, (224, 224))
    corners = apply_affine(np.array([[10 - 0.5, 20 - 0.5], [110 - 0.5, 70 - 0.5]]), m)
    # The box's long side spans 224 / 1.25 pixels of the crop, centred.
    assert abs((corners[1, 0] - corners[0, 0]) - 224 / 1.25) < 1e-3
    assert abs(corners.mean(0) - 111.5).max() < 1e-3


def test_keypoints_box_ignores_unlabelled():
    kps = np.array([[10, 10], [50, 30], [999, 999]], np.float32)
    np.testing.assert_allclose(keypoints_box(kps, np.array([1, 1, 0])), [10, 10, 40, 20])


def test_photometric_keeps_shape_and_changes_pixels():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    aug = Augment(blur=1.0, noise=1.0, occlusion=1.0)
    out = aug.photometric(rng, crop)
    assert out.shape == crop.shape and out.dtype == np.uint8 and not np.array_equal(out, crop)


def test_normalize_is_rgb_imagenet():
    img = np.full((4, 4, 3), (124, 116, 104), np.uint8)  # about the ImageNet mean, in RGB order
    x = normalize(img)
    assert x.shape == (3, 4, 4) and np.abs(x).max() < 0.02


def test_an_upright_roi_turns_the_hand_up_and_keeps_every_keypoint_in_the_crop():
    rng = np.random.default_rng(2)
    for _ in range(50):
        hand = rng.uniform(-40, 40, (21, 2))
        hand[0], hand[9] = (0, 50), (0, -10)  # wrist below the middle knuckle: an upright hand
        angle = rng.uniform(-180, 180)
        c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        points = hand @ np.array([[c, -s], [s, c]]).T + rng.uniform(100, 300, 2)
        roi = upright_roi(points, scale=1.1)
        _, m = hand_crop(np.zeros((400, 400, 3), np.uint8), roi, 224, 1.25)
        inside = apply_affine(points, m)
        wrist, knuckle = inside[0], inside[9]
        assert abs(wrist[0] - knuckle[0]) < 1e-3 and knuckle[1] < wrist[1]  # straight up in the crop
        assert inside.min() >= 0 and inside.max() <= 223  # all inside, with room to spare
        # the longer side of the turned keypoints, times scale and padding, fills the crop
        assert 0.70 * 224 < (inside.max(0) - inside.min(0)).max() * 1.1 * 1.25 < 1.01 * 224 * 1.1


def test_an_already_upright_hand_gets_the_crop_of_its_keypoint_box():
    rng = np.random.default_rng(3)
    points = rng.uniform(50, 150, (21, 2))
    points[9] = points[0] + (0, -30)
    _, turned = hand_crop(np.zeros((200, 200, 3), np.uint8), upright_roi(points), 224, 1.25)
    _, plain = hand_crop(np.zeros((200, 200, 3), np.uint8), keypoints_box(points), 224, 1.25)
    np.testing.assert_allclose(turned, plain, atol=1e-4)


def test_motion_blur_smears_a_dot_along_its_angle_only():
    dot = np.zeros((41, 41, 3), np.uint8)
    dot[20, 20] = 255
    for angle, along in ((0.0, 1), (90.0, 0)):  # columns spread for a horizontal motion, rows for a vertical one
        lit = np.nonzero(motion_blur(dot, 9, angle)[..., 0])
        assert np.ptp(lit[along]) == 8 and np.ptp(lit[1 - along]) == 0
    assert motion_blur(dot, 9, 45.0)[..., 0].sum() == pytest.approx(255, rel=0.05)  # light is kept, not added


def test_low_resolution_keeps_the_size_and_loses_the_fine_detail():
    rng = np.random.default_rng(0)
    fine = rng.integers(0, 256, (224, 224, 3)).astype(np.uint8)  # pixel-level detail
    coarse = cv2.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), (224, 224), interpolation=cv2.INTER_LINEAR)
    out_fine, out_coarse = low_resolution(fine, 0.25), low_resolution(coarse, 0.25)
    assert out_fine.shape == fine.shape and out_fine.dtype == np.uint8
    assert out_fine.std() < 0.5 * fine.std()  # the detail is gone
    assert np.abs(out_coarse.astype(float) - coarse).mean() < 5  # what a quarter of the pixels holds stays


def test_video_augmentations_are_off_unless_asked():
    crop = np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    quiet = Augment(color=0, hue=0, blur=0, noise=0, occlusion=0)
    assert np.array_equal(quiet.photometric(np.random.default_rng(0), crop), crop)
    loud = Augment(color=0, hue=0, blur=0, noise=0, occlusion=0, motion_blur=1.0, lowres=1.0)
    assert not np.array_equal(loud.photometric(np.random.default_rng(0), crop), crop)
