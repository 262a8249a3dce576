"""A hand rig on a skinned glTF mesh: the 21 keypoints, finger chains, joint rotations and linear blend skinning.

Joint angles are given in degrees per finger; each rotation axis is fixed once from the rest pose (the
palm normal, the hand's lateral axis and each finger's direction), so "flexion" means the same on every
mesh whatever its joints' local axes."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import HandposeError
from .gltf import SkinnedMesh, load_skinned_mesh

FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")

# Rig joint names of keypoints 0-3, 5-7, 9-11, ... per mesh family; the tips (4, 8, ...) are vertices.
_WEBXR_FINGERS = {"thumb": "thumb", "index": "index-finger", "middle": "middle-finger", "ring": "ring-finger",
                  "little": "pinky-finger"}
# Fingertip vertices from the handmesh README, in keypoint order thumb..little.
_TIP_VERTICES = {("webxr", "right"): (3, 293, 401, 120, 219), ("webxr", "left"): (3, 292, 400, 119, 218),
                 ("godot", "right"): (919, 39, 301, 501, 753), ("godot", "left"): (919, 39, 301, 501, 753)}


def _webxr_layout() -> tuple[list[str], dict[str, str]]:
    """Keypoint joint names, and the parent of each joint: the WebXR nodes are flat, so chain them by name."""
    kp = ["wrist"]
    parents: dict[str, str] = {}
    for finger, stem in _WEBXR_FINGERS.items():
        if finger == "thumb":
            chain = ["thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip"]
        else:
            chain = [f"{stem}-{p}" for p in ("metacarpal", "phalanx-proximal", "phalanx-intermediate",
                                              "phalanx-distal", "tip")]
        kp += chain[:3] if finger == "thumb" else chain[1:4]
        prev = "wrist"
        for name in chain:
            parents[name] = prev
            prev = name
    return kp, parents


def _godot_layout(suffix: str) -> list[str]:
    kp = [f"Wrist_{suffix}", f"Thumb_Metacarpal_{suffix}", f"Thumb_Proximal_{suffix}", f"Thumb_Distal_{suffix}"]
    for finger in ("Index", "Middle", "Ring", "Little"):
        kp += [f"{finger}_{p}_{suffix}" for p in ("Proximal", "Intermediate", "Distal")]
    return kp


def unit_vector(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def axis_angle(axis: np.ndarray, degrees: float) -> np.ndarray:
    """3x3 rotation about a unit axis (Rodrigues)."""
    a = np.radians(degrees)
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


@dataclass
class HandPose:
    """Angles in degrees. Fingers (index..little): mcp flexion, mcp spread (away from the middle finger),
    pip, dip. Thumb: base flexion (across the palm), base swing (out in front of the palm), mcp, ip."""
    fingers: np.ndarray  # (4, 4): rows index..little, columns mcp, spread, pip, dip
    thumb: np.ndarray  # (4,): base flexion, base swing, mcp, ip

    @staticmethod
    def rest() -> "HandPose":
        return HandPose(np.zeros((4, 4)), np.zeros(4))


class HandRig:
    def __init__(self, mesh: SkinnedMesh, family: str, side: str):
        self.mesh, self.family, self.side = mesh, family, side
        index = {n: i for i, n in enumerate(mesh.joint_names)}
        parents = mesh.joint_parents.copy()
        if family == "webxr":
            kp_names, by_name = _webxr_layout()
            for child, parent in by_name.items():
                parents[index[child]] = index[parent]
        else:
            kp_names = _godot_layout("R" if side == "right" else "L")
        missing = [n for n in kp_names if n not in index]
        if missing:
            raise HandposeError(f"{mesh.name}: joints {missing} not found in the skin")
        self.parents = parents
        self.keypoint_joints = np.array([index[n] for n in kp_names])  # 16: keypoints without the tips
        self.tip_vertices = np.array(_TIP_VERTICES[(family, side)])
        self.order = self._topological_order()
        rest = mesh.joint_rest
        self.rest_rotation = np.stack([np.linalg.qr(r[:3, :3])[0] * np.sign(np.diag(np.linalg.qr(r[:3, :3])[1]))
                                       for r in rest])
        self.local_rest = np.stack([rest[j] if p < 0 else np.linalg.inv(rest[p]) @ rest[j]
                                    for j, p in enumerate(parents)])
        kp = self.keypoints(self.mesh.positions, rest)
        self.rest_keypoints = kp
        # The hand's frame from the rest pose: along the hand, lateral (towards the thumb), palm normal (out of
        # the palm; a right hand seen palm-on with fingers up has its thumb on the viewer's right).
        self.axis = unit_vector(kp[9] - kp[0])
        lateral = kp[5] - kp[17]
        normal = unit_vector(np.cross(lateral, self.axis))
        self.normal = normal if side == "right" else -normal
        self.lateral = unit_vector(np.cross(self.axis, self.normal)) * (1 if side == "right" else -1)
        self._axes = self._joint_axes(kp)

    def _topological_order(self) -> list[int]:
        order, seen = [], set()

        def visit(j: int) -> None:
            if j in seen:
                return
            if self.parents[j] >= 0:
                visit(int(self.parents[j]))
            seen.add(j)
            order.append(j)

        for j in range(len(self.parents)):
            visit(j)
        return order

    def _joint_axes(self, kp: np.ndarray) -> dict:
        """World (rest) rotation axes: per finger the flexion axis and the spread axis, signed as HandPose says."""
        n, lat = self.normal, self.lateral
        axes = {}
        for f in range(1, 5):
            d = kp[4 * f + 4] - kp[4 * f + 1]
            d = unit_vector(d - n * (d @ n))
            flex = unit_vector(np.cross(d, n))  # a positive turn moves the finger toward the palm side
            away = 1.0 if f == 1 else -1.0  # index spreads toward the thumb, ring and little away from it
            spread = n * np.sign(np.cross(n, d) @ lat) * away
            axes[f] = (flex, spread)
        d = unit_vector(kp[4] - kp[1])

        def toward(direction: np.ndarray) -> np.ndarray:
            """The axis about which a positive turn moves the thumb toward ``direction``."""
            return unit_vector(np.cross(d, direction - d * (direction @ d)))

        # Base (CMC): flexion across the palm toward the little finger, swing out in front of the palm; the
        # MCP and IP fold the thumb toward the palm and the fingers.
        axes[0] = (toward(-lat), toward(n), toward(n - lat))
        return axes

    def joint_rotations(self, pose: HandPose) -> dict[int, np.ndarray]:
        """World-frame rotations (about each joint, in the rest pose) per skin joint index."""
        rot = {}
        k = self.keypoint_joints
        flex, swing, fold = self._axes[0]
        rot[k[1]] = axis_angle(swing, pose.thumb[1]) @ axis_angle(flex, pose.thumb[0])
        rot[k[2]] = axis_angle(fold, pose.thumb[2])
        rot[k[3]] = axis_angle(fold, pose.thumb[3])
        for f in range(1, 5):
            flex, spread = self._axes[f]
            mcp, sp, pip, dip = pose.fingers[f - 1]
            base = 4 + 3 * (f - 1)  # keypoint_joints index of this finger's MCP
            rot[k[base]] = axis_angle(spread, sp) @ axis_angle(flex, mcp)
            rot[k[base + 1]] = axis_angle(flex, pip)
            rot[k[base + 2]] = axis_angle(flex, dip)
        return rot

    def joint_transforms(self, pose: HandPose) -> np.ndarray:
        """(J, 4, 4) posed global transforms of the skin's joints."""
        rot = self.joint_rotations(pose)
        out = np.empty_like(self.mesh.joint_rest)
        for j in self.order:
            local = self.local_rest[j]
            if j in rot:
                r0 = self.rest_rotation[j]
                local = local.copy()
                local[:3, :3] = local[:3, :3] @ (r0.T @ rot[j] @ r0)
            p = self.parents[j]
            out[j] = local if p < 0 else out[p] @ local
        return out

    def skin(self, transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear blend skinning: posed (V, 3) positions and (V, 3) unit normals."""
        m = self.mesh
        skinning = np.einsum("jab,jbc->jac", transforms, m.inverse_bind)[:, :3, :]  # (J, 3, 4)
        blend = np.einsum("vk,vkab->vab", m.weights, skinning[m.joints])  # (V, 3, 4)
        pos = np.einsum("vab,vb->va", blend[:, :, :3], m.positions) + blend[:, :, 3]
        nrm = np.einsum("vab,vb->va", blend[:, :, :3], m.normals)
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
        return pos, nrm

    def keypoints(self, positions: np.ndarray, transforms: np.ndarray) -> np.ndarray:
        """(21, 3) keypoints: joint origins, and skinned vertices for the five fingertips."""
        kp = np.empty((21, 3))
        joints = transforms[self.keypoint_joints, :3, 3]
        kp[[0, 1, 2, 3]] = joints[:4]
        for f in range(4):
            kp[[5 + 4 * f, 6 + 4 * f, 7 + 4 * f]] = joints[4 + 3 * f: 7 + 3 * f]
        kp[[4, 8, 12, 16, 20]] = positions[self.tip_vertices]
        return kp

    def pose(self, pose: HandPose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posed vertices, normals and the 21 keypoints (mesh frame, metres)."""
        t = self.joint_transforms(pose)
        pos, nrm = self.skin(t)
        return pos, nrm, self.keypoints(pos, t)


# Mesh files under the handmesh folder: (file, family, side, textured).
MESHES = (("webxr-generic-hand/right.glb", "webxr", "right"), ("webxr-generic-hand/left.glb", "webxr", "left"),
          ("godot-xr-tools-hand/Hand_Nails_R.gltf", "godot", "right"),
          ("godot-xr-tools-hand/Hand_Nails_L.gltf", "godot", "left"))


@lru_cache(maxsize=None)
def load_rig(root: str, file: str, family: str, side: str) -> HandRig:
    return HandRig(load_skinned_mesh(Path(root) / file), family, side)


def sample_pose(rng: np.random.Generator) -> HandPose:
    """A plausible pose: one shared grasp amount drives every finger, each with its own noise, in the
    handmesh README's ranges (degrees)."""
    grasp = float(rng.beta(0.9, 1.3))
    fingers = np.zeros((4, 4))
    for f in range(4):
        t = float(np.clip(grasp + rng.normal(0, 0.18), 0, 1))
        mcp = np.clip(-10 + 100 * t + rng.normal(0, 6), -20, 90)
        pip = np.clip(-5 + 110 * float(np.clip(t + rng.normal(0, 0.1), 0, 1)), -5, 105)
        dip = np.clip(pip * 2 / 3 + rng.normal(0, 8), -5, 80)
        spread = rng.uniform(-5, 15) * (1 - 0.7 * t)
        fingers[f] = (mcp, spread, pip, dip)
    t = float(np.clip(grasp + rng.normal(0, 0.25), 0, 1))
    thumb = np.array([np.clip(-20 + 65 * t + rng.normal(0, 6), -20, 45), rng.uniform(-15, 30),
                      np.clip(-10 + 70 * t + rng.normal(0, 8), -10, 60),
                      np.clip(-15 + 95 * float(np.clip(t + rng.normal(0, 0.15), 0, 1)), -15, 80)])
    return HandPose(fingers, thumb)
