"""A small glTF 2.0 reader for one skinned mesh: .glb or .gltf (embedded or side-car buffers).

Reads what a skinned hand needs: vertex attributes, triangles, the skin's joints with their inverse bind
matrices, and the node hierarchy (names, parents, rest transforms)."""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import HandposeError

_COMPONENT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass
class SkinnedMesh:
    name: str
    positions: np.ndarray  # (V, 3) float64, bind pose
    normals: np.ndarray  # (V, 3)
    uvs: np.ndarray | None  # (V, 2) or None
    joints: np.ndarray  # (V, 4) int: indices into joint_names
    weights: np.ndarray  # (V, 4) float64, rows sum to 1
    faces: np.ndarray  # (F, 3) int32
    joint_names: list[str]  # the skin's joints, in skin order
    joint_parents: np.ndarray  # (J,) index of the parent joint in the skin, -1 at a root
    joint_rest: np.ndarray  # (J, 4, 4) global rest (bind) transforms
    inverse_bind: np.ndarray  # (J, 4, 4)


def _node_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T  # glTF stores column-major
    m = np.eye(4)
    x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m[:3, :3] = r * np.asarray(node.get("scale", [1.0, 1.0, 1.0]))[None, :]
    m[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return m


def _read_container(path: Path) -> tuple[dict, list[bytes]]:
    if not path.is_file():
        raise HandposeError(f"{path}: mesh file not found")
    raw = path.read_bytes()
    if raw[:4] == b"glTF":
        chunks, pos = [], 12
        while pos + 8 <= len(raw):
            length, kind = struct.unpack_from("<II", raw, pos)
            chunks.append((kind, raw[pos + 8: pos + 8 + length]))
            pos += 8 + length
        doc = json.loads(next(c for k, c in chunks if k == 0x4E4F534A))
        binary = [c for k, c in chunks if k == 0x004E4942]
    else:
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise HandposeError(f"{path}: not a glTF file ({e})") from None
        binary = []
    buffers = []
    for i, buf in enumerate(doc.get("buffers", [])):
        uri = buf.get("uri")
        if uri is None:
            if not binary:
                raise HandposeError(f"{path}: buffers[{i}] has no uri and the file has no binary chunk")
            buffers.append(binary[0])
        elif uri.startswith("data:"):
            buffers.append(base64.b64decode(uri.split(",", 1)[1]))
        else:
            side = path.parent / uri
            if not side.is_file():
                raise HandposeError(f"{path}: buffer file {side} not found")
            buffers.append(side.read_bytes())
    return doc, buffers


def _accessor(doc: dict, buffers: list[bytes], index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENT[acc["componentType"]])
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", 0) or dtype.itemsize * width
    data = buffers[view["buffer"]]
    count = acc["count"]
    if stride == dtype.itemsize * width:
        out = np.frombuffer(data, dtype, count * width, start).reshape(count, width)
    else:  # interleaved: pick each element's bytes out of its stride
        rows = np.frombuffer(data, np.uint8, stride * (count - 1) + dtype.itemsize * width, start)
        out = np.lib.stride_tricks.as_strided(rows, (count, dtype.itemsize * width), (stride, 1)).copy().view(dtype)
    if acc.get("normalized") and dtype.kind in "iu":
        out = out.astype(np.float64) / np.iinfo(dtype).max
    return out.copy()


def load_skinned_mesh(path: str | Path) -> SkinnedMesh:
    """The first skinned mesh primitive of a glTF file, with its skin and the joints' rest transforms."""
    path = Path(path)
    doc, buffers = _read_container(path)
    nodes = doc.get("nodes", [])
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    globals_: dict[int, np.ndarray] = {}

    def world(i: int) -> np.ndarray:
        if i not in globals_:
            local = _node_matrix(nodes[i])
            globals_[i] = world(parent[i]) @ local if i in parent else local
        return globals_[i]

    mesh_node = next((n for n in nodes if "mesh" in n and "skin" in n), None)
    if mesh_node is None:
        raise HandposeError(f"{path}: no skinned mesh (a node with both 'mesh' and 'skin')")
    prim = doc["meshes"][mesh_node["mesh"]]["primitives"][0]
    attrs = prim["attributes"]
    for key in ("POSITION", "JOINTS_0", "WEIGHTS_0"):
        if key not in attrs:
            raise HandposeError(f"{path}: the mesh has no {key} attribute")
    skin = doc["skins"][mesh_node["skin"]]
    joint_nodes = skin["joints"]
    node_to_joint = {n: j for j, n in enumerate(joint_nodes)}
    parents = []
    for n in joint_nodes:
        p = parent.get(n)
        while p is not None and p not in node_to_joint:
            p = parent.get(p)
        parents.append(-1 if p is None else node_to_joint[p])
    weights = _accessor(doc, buffers, attrs["WEIGHTS_0"]).astype(np.float64)
    weights /= np.maximum(weights.sum(1, keepdims=True), 1e-12)
    ibm = (_accessor(doc, buffers, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
           if "inverseBindMatrices" in skin else np.tile(np.eye(4), (len(joint_nodes), 1, 1)))
    positions = _accessor(doc, buffers, attrs["POSITION"]).astype(np.float64)
    normals = (_accessor(doc, buffers, attrs["NORMAL"]).astype(np.float64) if "NORMAL" in attrs
               else np.zeros_like(positions))
    uvs = _accessor(doc, buffers, attrs["TEXCOORD_0"]).astype(np.float64) if "TEXCOORD_0" in attrs else None
    faces = (_accessor(doc, buffers, prim["indices"]).reshape(-1, 3) if "indices" in prim
             else np.arange(len(positions)).reshape(-1, 3))
    return SkinnedMesh(
        name=path.name, positions=positions, normals=normals, uvs=uvs,
        joints=_accessor(doc, buffers, attrs["JOINTS_0"]).astype(np.int64), weights=weights,
        faces=faces.astype(np.int32), joint_names=[nodes[n].get("name", f"node{n}") for n in joint_nodes],
        joint_parents=np.array(parents), joint_rest=np.stack([world(n) for n in joint_nodes]),
        inverse_bind=ibm.astype(np.float64))
