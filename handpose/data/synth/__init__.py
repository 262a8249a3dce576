"""Synthetic training images: rigged glTF hand meshes posed, skinned and rendered on the CPU, with exact keypoints."""
