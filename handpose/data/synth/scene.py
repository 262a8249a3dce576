"""One synthetic sample: a posed hand (left or right mesh) with a forearm, a random camera, skin, light,
a background, occluders, blur and noise, and its exact keypoints with visibility flags."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..backgrounds import random_background
from .raster import project, rasterize
from .rig import MESHES, HandRig, axis_angle, load_rig, sample_pose, unit_vector

SKIN_TONES_RGB = np.array([(245, 208, 186), (234, 189, 157), (216, 166, 128), (190, 138, 100), (160, 108, 76),
                           (125, 82, 58), (96, 62, 44)], np.float64)
ATLASES = ("caucasian_baseColor.png", "caucasian_realistic_baseColor.png", "african_baseColor.png",
           "african_realistic_baseColor.png")
VISIBILITY_MARGIN = 0.004  # metres a surface may lie in front of a keypoint's own flesh and still count visible
FOREARM_SEGMENTS = 16


@dataclass
class Sample:
    image: np.ndarray  # (S, S, 3) uint8 BGR
    keypoints: np.ndarray  # (21, 2) pixels
    visibility: np.ndarray  # (21,) int: 2 visible, 1 occluded, 0 outside the image
    xyz: np.ndarray  # (21, 3) metres, camera frame
    K: np.ndarray  # (3, 3)
    hand: str  # "left" / "right"
    mesh: str  # mesh file name
    background: str  # "photo" / "procedural"
    mask: np.ndarray  # (S, S) bool: pixels of the hand (forearm excluded)


@dataclass
class RigExtras:
    """What a rig needs besides the rest pose, computed once: flesh radius around each keypoint and the
    wrist's cross-section (for the forearm)."""
    radius: np.ndarray  # (21,) metres
    wrist_center: np.ndarray  # (3,) centre of the wrist cross-section, mesh frame
    wrist_half: tuple[float, float]  # half-widths along the lateral axis and the palm normal
    cap: float  # where the mesh ends below the wrist joint, along the hand axis (negative)
    to_arm: np.ndarray  # (V,) 1 at the wrist cut, fading to 0 over 2 cm: hand colour blends into the arm's


@lru_cache(maxsize=None)
def rig_extras(rig: HandRig) -> RigExtras:
    v, kp = rig.mesh.positions, rig.rest_keypoints
    radius = _flesh_radius(rig)
    s = (v - kp[0]) @ rig.axis
    cut = np.flatnonzero(s < s.min() + 0.012)
    lat, nrm = (v[cut] - kp[0]) @ rig.lateral, (v[cut] - kp[0]) @ rig.normal
    half = (0.5 * float(np.ptp(lat)), 0.5 * float(np.ptp(nrm)))
    center = kp[0] + rig.lateral * 0.5 * (lat.max() + lat.min()) + rig.normal * 0.5 * (nrm.max() + nrm.min())
    radius[0] = max(half) + 0.002
    to_arm = np.clip(1 - (s - s.min()) / 0.02, 0, 1)
    return RigExtras(radius, center, half, float(s.min()), to_arm)


def _flesh_radius(rig: HandRig) -> np.ndarray:
    """Per keypoint, the farthest skin around it in the cross-section through it (vertices of its own or its
    parent bone within 5 mm of the plane across the bone): how deep a keypoint lies under its own surface."""
    v, kp = rig.mesh.positions, rig.rest_keypoints
    dominant = rig.mesh.joints[np.arange(len(v)), rig.mesh.weights.argmax(1)]
    radius = np.full(21, 0.006)  # the tips are surface vertices: allow for the pad around them
    for k, j in enumerate(rig.keypoint_joints[1:], 1):
        kpi = [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19][k - 1]
        child = kp[kpi + 1]
        bone = unit_vector(child - kp[kpi])
        own = np.isin(dominant, [j, rig.parents[j]])
        near = own & (np.abs((v - kp[kpi]) @ bone) < 0.005)
        if near.any():
            radius[kpi] = min(float(np.linalg.norm(v[near] - kp[kpi], axis=1).max()), 0.02)
    return radius


@lru_cache(maxsize=8)
def load_atlas(root: str, name: str) -> np.ndarray:
    """A skin atlas as float32 RGB, reduced to 512 px (the hand covers ~200 px: less aliasing, less memory)."""
    img = cv2.imread(str(Path(root) / "godot-xr-tools-hand" / "textures" / name), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(name)
    return cv2.cvtColor(cv2.resize(img, (512, 512), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB).astype(np.float32)


@lru_cache(maxsize=None)
def _atlas_skin(root: str, atlas: int, mesh: str) -> np.ndarray:
    """The median skin colour an atlas gives a mesh (over its vertices' UVs): the forearm's colour."""
    rig = next(load_rig(root, *m) for m in MESHES if Path(m[0]).name == mesh)
    image = load_atlas(root, ATLASES[atlas])
    h, w = image.shape[:2]
    uv = rig.mesh.uvs
    x = np.clip((uv[:, 0] * w).astype(int), 0, w - 1)
    y = np.clip((uv[:, 1] * h).astype(int), 0, h - 1)
    return np.median(image[y, x], axis=0).astype(np.float64)


def forearm_mesh(rig: HandRig, extras: RigExtras, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tapered elliptic tube from inside the palm's base out along the (slightly bent) forearm:
    vertices, outward normals, triangles. The wrist bends up to 35 degrees and deviates up to 15."""
    bend = axis_angle(rig.lateral, rng.uniform(-35, 35)) @ axis_angle(rig.normal, rng.uniform(-15, 15))
    direction, lat, nrm = bend @ -rig.axis, bend @ rig.lateral, bend @ rig.normal
    a, b = extras.wrist_half
    # Rings: 1 cm inside the hand (narrower, so a bent wrist does not push it through the palm), just past
    # the mesh's cut at the wrist, then out toward the elbow, widening.
    rings = np.array([-extras.cap - 0.01, -extras.cap + 0.01, 0.12, 0.26])
    grow = np.array([0.8, 1.0, 1.1, 1.2])
    theta = np.linspace(0, 2 * np.pi, FOREARM_SEGMENTS, endpoint=False)
    cos, sin = np.cos(theta), np.sin(theta)
    verts, normals = [], []
    for t, g in zip(rings, grow):
        for c, s in zip(cos, sin):
            verts.append(extras.wrist_center + direction * t + lat * (0.93 * a * g * c) + nrm * (0.93 * b * g * s))
            normals.append(unit_vector(lat * (c / a) + nrm * (s / b)))
    verts.append(extras.wrist_center + direction * rings[-1])
    normals.append(direction)
    faces = []
    n = FOREARM_SEGMENTS
    for r in range(len(rings) - 1):
        for i in range(n):
            p, q = r * n + i, r * n + (i + 1) % n
            faces += [(p, q, q + n), (p, q + n, p + n)]
    end = len(verts) - 1
    faces += [((len(rings) - 1) * n + i, (len(rings) - 1) * n + (i + 1) % n, end) for i in range(n)]
    return np.array(verts), np.array(normals), np.array(faces, np.int32)


def _view_direction(rng: np.random.Generator, rig: HandRig) -> np.ndarray:
    """Unit vector from the hand toward the camera: mostly palm or back views, some from the side."""
    n, lat, ax = rig.normal, rig.lateral, rig.axis
    if rng.random() < 0.75:
        base = n if rng.random() < 0.5 else -n
        tilt = rng.uniform(0, 40)
    else:
        phi = np.radians(rng.uniform(45, 90)) * rng.choice([-1, 1])
        base = np.cos(phi) * (n if rng.random() < 0.5 else -n) + np.sin(phi) * lat
        tilt = rng.uniform(0, 25)
    tilt_axis = unit_vector(np.cross(base, unit_vector(rng.normal(size=3))))
    u = axis_angle(tilt_axis, tilt) @ base
    return unit_vector(u + ax * rng.uniform(-0.3, 0.3))


def look_at(rig: HandRig, points: np.ndarray, toward_camera: np.ndarray, distance: float, roll: float,
            fill: float, offset: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World->camera rotation R, camera centre C and intrinsics K: the camera ``distance`` metres from the
    points' centre along ``toward_camera``, rolled by ``roll`` degrees, the points' box spanning ``fill`` of
    the image, its centre ``offset`` (fraction of the side) from the image centre."""
    z = -unit_vector(toward_camera)
    up = -rig.axis - z * (-rig.axis @ z)  # fingers up before the roll
    y = -unit_vector(up if np.linalg.norm(up) > 1e-6 else np.cross(z, rig.lateral))
    x = np.cross(y, z)
    turn = axis_angle(z, roll)
    R = np.stack([turn @ x, turn @ y, z])
    C = points.mean(0) - z * distance
    cam = (points - C) @ R.T
    xy = cam[:, :2] / cam[:, 2:3]
    lo, hi = xy.min(0), xy.max(0)
    f = size * fill / float((hi - lo).max())
    c = size / 2 - 0.5 + np.asarray(offset) * size - f * (lo + hi) / 2
    return R, C, np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])


def _camera(rng: np.random.Generator, rig: HandRig, hand_points: np.ndarray, size: int):
    return look_at(rig, hand_points, _view_direction(rng, rig), rng.uniform(0.3, 0.8), rng.uniform(-180, 180),
                   rng.uniform(0.5, 0.85), rng.uniform(-0.12, 0.12, 2), size)


def keypoint_visibility(raster, xyz: np.ndarray, K: np.ndarray, radius: np.ndarray, size: int) -> np.ndarray:
    """Per keypoint 2 (visible), 1 (the rendered surface at its pixel lies in front of it by more than its own
    flesh, ``radius``, plus a margin) or 0 (outside the image)."""
    px = np.round(project(xyz, K)).astype(int)
    inside = (px >= 0).all(1) & (px < size).all(1)
    visibility = np.where(inside, 2, 0)
    for j in np.flatnonzero(inside):
        if raster.depth[px[j, 1], px[j, 0]] < xyz[j, 2] - radius[j] - VISIBILITY_MARGIN:
            visibility[j] = 1
    return visibility


def _albedo(rng: np.random.Generator, rig: HandRig, root: str, raster, faces: np.ndarray, n_hand: int,
            extras: RigExtras, n_vertices: int) -> np.ndarray:
    """Per-pixel RGB albedo (P, 3) of the covered pixels; the forearm has the hand's median skin colour."""
    mesh = rig.mesh
    pix_vertex = faces[raster.faces]  # (P, 3)
    on_hand = (pix_vertex < n_hand).all(1)
    albedo = np.zeros((len(raster.faces), 3))  # the arm part is set below; empty() warned on its garbage
    if rig.family == "godot":
        name = ATLASES[int(rng.integers(len(ATLASES)))]
        atlas = load_atlas(root, name)
        h, w = atlas.shape[:2]
        uv = np.zeros((n_vertices, 2))
        uv[:n_hand] = mesh.uvs
        uvp = raster.interpolate(uv)[on_hand]
        mx = (uvp[:, 0] * w - 0.5).astype(np.float32).reshape(-1, 1)
        my = (uvp[:, 1] * h - 0.5).astype(np.float32).reshape(-1, 1)
        if len(mx):
            albedo[on_hand] = cv2.remap(atlas, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)
        arm = _atlas_skin(root, ATLASES.index(name), rig.mesh.name)
        jitter = rng.uniform(0.85, 1.12, 3) * rng.uniform(0.8, 1.1)
        albedo *= jitter
        arm = arm * jitter
    else:
        k = rng.uniform(0, len(SKIN_TONES_RGB) - 1)
        lo = int(k)
        base = SKIN_TONES_RGB[lo] + (SKIN_TONES_RGB[min(lo + 1, len(SKIN_TONES_RGB) - 1)] - SKIN_TONES_RGB[lo]) * (k - lo)
        base = base * rng.uniform(0.92, 1.08, 3)
        # Per-vertex tint: slow waves over the rest shape (blotchy skin, redder knuckles), not speckle.
        freq = rng.normal(0, 60, (3, 3))
        phase = rng.uniform(0, 2 * np.pi, 3)
        wave = np.sin(mesh.positions @ freq.T + phase)  # (V, 3)
        tint = np.ones((n_vertices, 3))
        tint[:n_hand] = 1 + 0.06 * wave + np.array([0.03, -0.02, -0.03]) * wave[:, :1]
        albedo[:] = base * raster.interpolate(tint)
        arm = base
    to_arm = np.ones(n_vertices)
    to_arm[:n_hand] = extras.to_arm
    blend = raster.interpolate(to_arm[:, None])
    albedo[~on_hand] = arm
    albedo += (arm - albedo) * blend  # no seam of odd texels at the mesh's wrist cut
    return albedo


def render_sample(rng: np.random.Generator, root: str, size: int = 224, backgrounds=None) -> Sample:
    """One random sample. ``backgrounds``: a HandFreeCrops (real photos) or None (procedural scenes only)."""
    file, family, side = MESHES[int(rng.integers(len(MESHES)))]
    rig = load_rig(root, file, family, side)
    extras = rig_extras(rig)
    pose = sample_pose(rng)
    verts, normals, kp3 = rig.pose(pose)
    arm_v, arm_n, arm_f = forearm_mesh(rig, extras, rng)
    n_hand = len(verts)
    all_v = np.concatenate([verts, arm_v])
    all_n = np.concatenate([normals, arm_n])
    faces = np.concatenate([rig.mesh.faces, arm_f + n_hand])
    R, C, K = _camera(rng, rig, verts, size)
    cam_v = (all_v - C) @ R.T
    cam_n = all_n @ R.T
    xyz = (kp3 - C) @ R.T
    raster = rasterize(cam_v, faces, K, size)
    albedo = _albedo(rng, rig, root, raster, faces, n_hand, extras, len(all_v))

    # Lambert + ambient, light from the camera's side of the hand, slightly coloured.
    light = unit_vector(np.array([rng.normal(0, 0.5), rng.normal(0, 0.5), -1.0]))
    nrm = raster.interpolate(cam_n)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    view = -_unit_rows(raster.interpolate(cam_v))
    nrm = np.where((nrm * view).sum(1, keepdims=True) < 0, -nrm, nrm)  # shade the side the camera sees
    ambient, diffuse = rng.uniform(0.25, 0.55), rng.uniform(0.5, 0.95)
    shade = ambient + diffuse * np.clip(nrm @ light, 0, None)
    color = albedo * shade[:, None] * rng.uniform(0.9, 1.1, 3)

    image, source = _background(rng, size, backgrounds)
    ys, xs = raster.pixels[:, 0], raster.pixels[:, 1]
    image[ys, xs] = np.clip(color, 0, 255)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)  # anti-aliases the silhouette (hard edges give the hand away)
    hand_mask = np.zeros((size, size), bool)
    hand_mask[ys, xs] = (faces[raster.faces] < n_hand).all(1)

    uv = project(xyz, K)
    px = np.round(uv).astype(int)
    visibility = keypoint_visibility(raster, xyz, K, extras.radius, size)
    occluder = _occluders(rng, image, uv, size)
    visibility[(visibility == 2) & occluder[np.clip(px[:, 1], 0, size - 1), np.clip(px[:, 0], 0, size - 1)]] = 1
    image = _camera_effects(rng, image)
    return Sample(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), uv.astype(np.float32), visibility.astype(np.int32),
                  xyz, K, side, file, source, hand_mask)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _background(rng: np.random.Generator, size: int, backgrounds) -> tuple[np.ndarray, str]:
    """(float32 RGB background, "photo" | "procedural"): a hand-free square of a real photo when available."""
    if backgrounds is not None and rng.random() < 0.6:
        square = backgrounds.square(int(rng.integers(len(backgrounds))), rng)
        if square is not None:
            photo, (x, y, side) = square
            crop = photo[int(y): int(y + side), int(x): int(x + side)]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32), "photo"
    return random_background(rng, (size, size)).astype(np.float32), "procedural"


def _occluders(rng: np.random.Generator, image: np.ndarray, keypoints: np.ndarray, size: int) -> np.ndarray:
    """Draw 0-2 objects over the hand, in place; returns their mask (bool, S x S)."""
    mask = np.zeros((size, size), np.uint8)
    if rng.random() >= 0.3:
        return mask.astype(bool)
    for _ in range(int(rng.integers(1, 3))):
        shape = np.zeros((size, size), np.uint8)
        at = keypoints[int(rng.integers(21))] + rng.normal(0, 0.08 * size, 2)
        extent = rng.uniform(0.08, 0.25) * size
        kind = int(rng.integers(3))
        if kind == 0:
            cv2.ellipse(shape, (int(at[0]), int(at[1])), (int(extent), int(extent * rng.uniform(0.3, 1.0))),
                        float(rng.uniform(0, 180)), 0, 360, 255, -1)
        elif kind == 1:
            pts = at + rng.uniform(-extent, extent, (int(rng.integers(3, 7)), 2))
            cv2.fillConvexPoly(shape, cv2.convexHull(pts.astype(np.int32)), 255)
        else:  # a pen, a stick, a cable
            d = unit_vector(rng.normal(size=2)) * extent * 2
            cv2.line(shape, tuple((at - d).astype(int)), tuple((at + d).astype(int)), 255, int(rng.integers(4, 14)))
        if rng.random() < 0.5:
            fill = random_background(rng, (size, size)).astype(np.float32)
        else:
            fill = np.empty_like(image)
            fill[:] = rng.uniform(0, 255, 3)
            ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.2), size, dtype=np.float32)
            fill *= ramp[:, None, None] if rng.random() < 0.5 else ramp[None, :, None]
        alpha = cv2.GaussianBlur(shape, (3, 3), 0).astype(np.float32)[..., None] / 255
        image[:] = image * (1 - alpha) + np.clip(fill, 0, 255) * alpha
        mask |= shape
    return mask > 0


def _camera_effects(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Brightness/contrast, defocus or motion blur, sensor noise; returns uint8 RGB."""
    image = image * np.float32(rng.uniform(0.75, 1.2)) + np.float32(rng.uniform(-20, 20))
    r = rng.random()
    if r < 0.2:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.6))
    elif r < 0.35:
        length = int(rng.integers(3, 10))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.7:
        image = image + rng.normal(0, rng.uniform(1, 8), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)
