"""handpose synth: the glTF reader, the rig, the rasteriser, the visibility flags and the written data sets.

Needs the rigged meshes of ../shared/handmesh (skipped cleanly where they are absent)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from handpose.data.datasets import load_coco, load_freihand, load_records
from handpose.errors import HandposeError

MESHES = next((p for p in (Path(__file__).resolve().parents[2] / ".." / "shared" / "handmesh",
                           Path("/work/shared/handmesh")) if p.is_dir()), None)
pytestmark = pytest.mark.skipif(MESHES is None, reason="../shared/handmesh not found")


def rig(file: str, family: str, side: str):
    from handpose.data.synth.rig import load_rig

    return load_rig(str(MESHES), file, family, side)


RIGHT_WEBXR = ("webxr-generic-hand/right.glb", "webxr", "right")
LEFT_GODOT = ("godot-xr-tools-hand/Hand_Nails_L.gltf", "godot", "left")


@pytest.mark.parametrize("file, vertices, triangles, joints", [
    ("webxr-generic-hand/left.glb", 1360, 2314, 25), ("webxr-generic-hand/right.glb", 1360, 2314, 25),
    ("godot-xr-tools-hand/Hand_Nails_R.gltf", 1988, 3408, 26), ("godot-xr-tools-hand/Hand_Nails_low_L.gltf", 642, 1006, 26)])
def test_reader_loads_the_meshes(file, vertices, triangles, joints):
    from handpose.data.synth.gltf import load_skinned_mesh

    mesh = load_skinned_mesh(MESHES / file)
    assert mesh.positions.shape == (vertices, 3) and mesh.faces.shape == (triangles, 3)
    assert len(mesh.joint_names) == joints and mesh.inverse_bind.shape == (joints, 4, 4)
    assert np.allclose(mesh.weights.sum(1), 1) and mesh.faces.max() < vertices
    # Bind pose = rest pose: each joint's rest transform undoes its inverse bind matrix.
    assert np.allclose(mesh.joint_rest @ mesh.inverse_bind, np.eye(4), atol=1e-5)


def test_reader_names_a_missing_file(tmp_path):
    from handpose.data.synth.gltf import load_skinned_mesh

    with pytest.raises(HandposeError, match="nothing.glb"):
        load_skinned_mesh(tmp_path / "nothing.glb")


def test_rest_pose_skinning_returns_the_bind_mesh():
    from handpose.data.synth.rig import HandPose

    r = rig(*LEFT_GODOT)
    positions, _, keypoints = r.pose(HandPose.rest())
    assert np.abs(positions - r.mesh.positions).max() < 1e-6
    assert np.allclose(keypoints[4], r.mesh.positions[919])  # the README's thumb-tip vertex


def _palm_normal(keypoints: np.ndarray, side: str) -> np.ndarray:
    """Out of the palm, from anatomy alone: a right hand seen palm-on, fingers up, has its thumb on the right."""
    n = np.cross(keypoints[5] - keypoints[17], keypoints[9] - keypoints[0])
    n /= np.linalg.norm(n)
    return n if side == "right" else -n


@pytest.mark.parametrize("which", [RIGHT_WEBXR, LEFT_GODOT])
@pytest.mark.parametrize("finger", [1, 2, 3, 4])
def test_flexing_a_finger_moves_its_tip_toward_the_palm(which, finger):
    from handpose.data.synth.rig import HandPose

    r = rig(*which)
    _, _, rest = r.pose(HandPose.rest())
    normal = _palm_normal(rest, which[2])
    palm_centre = rest[[0, 5, 9, 13, 17]].mean(0) + 0.02 * normal  # a point just above the palm
    tip = 4 + 4 * finger
    distances = []
    for bend in (0, 30, 60):
        pose = HandPose.rest()
        pose.fingers[finger - 1] = (bend, 0, bend, bend * 2 / 3)
        _, _, kp = r.pose(pose)
        distances.append(np.linalg.norm(kp[tip] - palm_centre))
        assert (kp[tip] - rest[tip]) @ normal >= 0
        others = [j for j in range(21) if j not in range(4 * finger + 2, 4 * finger + 5)]
        assert np.allclose(kp[others], rest[others], atol=1e-9)  # only this finger's PIP, DIP, tip move
    assert distances[0] > distances[1] > distances[2]


@pytest.mark.parametrize("which", [RIGHT_WEBXR, LEFT_GODOT])
def test_folding_the_thumb_brings_its_tip_across_the_palm(which):
    from handpose.data.synth.rig import HandPose

    r = rig(*which)
    _, _, rest = r.pose(HandPose.rest())
    gaps = []
    for bend in (0, 20, 40):
        _, _, kp = r.pose(HandPose(np.zeros((4, 4)), np.array([bend, 0, bend, bend])))
        gaps.append(np.linalg.norm(kp[4] - rest[17]))  # thumb tip to the little finger's MCP
    assert gaps[0] > gaps[1] > gaps[2]


def _render(which, pose, toward_palm: bool):
    from handpose.data.synth.raster import project, rasterize
    from handpose.data.synth.scene import keypoint_visibility, look_at, rig_extras

    r = rig(*which)
    verts, _, kp = r.pose(pose)
    R, C, K = look_at(r, verts, r.normal if toward_palm else -r.normal, 0.5, 20.0, 0.8, (0, 0), 160)
    raster = rasterize((verts - C) @ R.T, r.mesh.faces, K, 160)
    xyz = (kp - C) @ R.T
    return raster, project(xyz, K), keypoint_visibility(raster, xyz, K, rig_extras(r).radius, 160)


@pytest.mark.parametrize("which", [RIGHT_WEBXR, LEFT_GODOT])
def test_bind_pose_keypoints_fall_on_the_rendered_hand(which):
    import cv2

    from handpose.data.synth.rig import HandPose

    for toward_palm in (True, False):
        raster, uv, visibility = _render(which, HandPose.rest(), toward_palm)
        mask = raster.triangle > 0
        assert 0.15 < mask.mean() < 0.6
        px = np.round(uv).astype(int)
        # Joints lie inside the mesh; fingertip vertices on its silhouette, so one pixel of slack for them.
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        joints = [j for j in range(21) if j % 4 != 0 or j == 0]
        assert mask[px[joints, 1], px[joints, 0]].all()
        assert grown[px[:, 1], px[:, 0]].all()
        # An open hand hides none of its keypoints palm-on; from the back the rest pose's thumb, which lies
        # in front of the palm, may have its base behind it, but every other keypoint shows.
        assert (visibility == 2).all() if toward_palm else (np.delete(visibility, [1, 2]) == 2).all()


def test_a_fist_seen_from_the_back_hides_its_fingertips():
    from handpose.data.synth.rig import HandPose

    fist = HandPose(np.tile([85.0, 0, 100, 70], (4, 1)), np.array([30.0, 0, 40, 50]))
    _, _, visibility = _render(RIGHT_WEBXR, fist, toward_palm=False)
    assert (visibility[[8, 12, 16, 20]] == 1).all()
    assert (visibility[[5, 9, 13, 17]] == 2).all()  # the knuckles face the camera


def _synth(out: Path, layout: str = "coco", n: int = 6, seed: int = 3, workers: int = 1, grid=None) -> int:
    from handpose.apps import synth as cli

    return cli.run(argparse.Namespace(n=n, out=str(out), layout=layout, size=96, seed=seed, workers=workers,
                                      meshes=str(MESHES), backgrounds="none", grid=grid))


def test_same_seed_same_files_whatever_the_workers(tmp_path):
    _synth(tmp_path / "a", workers=1)
    _synth(tmp_path / "b", workers=2)
    _synth(tmp_path / "c", seed=4)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 7  # 6 images + annotations.json, no temporary files left
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a/annotations.json").read_bytes() != (tmp_path / "c/annotations.json").read_bytes()


def test_coco_and_freihand_outputs_load_back_with_the_same_keypoints(tmp_path):
    _synth(tmp_path / "coco", "coco", grid=str(tmp_path / "grid.jpg"))
    _synth(tmp_path / "frei", "freihand")
    data = json.loads((tmp_path / "coco/annotations.json").read_text())
    assert [c["keypoints"][0] for c in data["categories"]] == ["wrist"]
    assert {a["hand"] for a in data["annotations"]} <= {"left", "right"}
    coco = load_coco(tmp_path / "coco/annotations.json")
    frei = load_freihand(tmp_path / "frei")
    assert len(coco) == len(frei) == 6
    for c, f, ann in zip(coco, frei, data["annotations"]):
        assert c.image.read_bytes() == f.image.read_bytes()  # one render, two layouts
        assert np.abs(c.keypoints - f.keypoints).max() < 2e-3  # FreiHAND's projected xyz = COCO's pixels
        flags = np.array(ann["keypoints"]).reshape(21, 3)[:, 2]
        assert set(flags) <= {0, 1, 2} and ann["num_keypoints"] == (flags > 0).sum()
        kp = c.keypoints[flags > 0]
        assert np.allclose(c.box[:2], kp.min(0), atol=2e-3) and np.allclose(c.box[:2] + c.box[2:], kp.max(0), atol=2e-3)
    assert (tmp_path / "grid.jpg").stat().st_size > 0


def test_training_reads_the_coco_output(tmp_path):
    _synth(tmp_path, n=3)
    records = load_records({"format": "coco", "annotations": str(tmp_path / "annotations.json"), "name": "synth"})
    assert len(records) == 3 and all(r.image.is_file() for r in records)
    assert {r.extra["source"] for r in records} == {"synth"}


def test_bad_options_are_named(tmp_path):
    from handpose.apps import synth as cli

    args = dict(n=2, out=str(tmp_path), layout="coco", size=96, seed=0, workers=1, meshes=str(MESHES),
                backgrounds="none", grid=None)
    with pytest.raises(HandposeError, match="--meshes"):
        cli.run(argparse.Namespace(**{**args, "meshes": str(tmp_path / "nowhere")}))
    with pytest.raises(HandposeError, match="--backgrounds"):
        cli.run(argparse.Namespace(**{**args, "backgrounds": str(tmp_path / "frames.json")}))
    with pytest.raises(HandposeError, match="--n"):
        cli.run(argparse.Namespace(**{**args, "n": 0}))
