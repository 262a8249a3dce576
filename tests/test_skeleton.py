import json

from handpose.skeleton import BONES, JOINT_NAMES, NUM_JOINTS, bone_color, joint_color

from .conftest import UCI, need


def test_layout_is_a_tree_rooted_at_the_wrist():
    assert NUM_JOINTS == 21 and len(JOINT_NAMES) == 21 and len(set(JOINT_NAMES)) == 21
    assert len(BONES) == 20
    # Every joint but the wrist has exactly one parent, and following parents reaches the wrist.
    parent = {child: p for p, child in BONES}
    assert sorted(parent) == list(range(1, 21))
    for j in range(1, 21):
        steps = 0
        while j != 0:
            j, steps = parent[j], steps + 1
        assert steps <= 4
    # Fingertips are leaves.
    assert {4, 8, 12, 16, 20}.isdisjoint(p for p, _ in BONES)


def test_colours_per_finger():
    assert joint_color(4) == bone_color(3)  # thumb tip and last thumb bone share the thumb colour
    assert len({bone_color(b) for b in range(20)}) == 5


@need(UCI)
def test_matches_the_coco_files_names_and_skeleton():
    cat = json.loads((UCI / "annotations.json").read_text())["categories"][0]
    assert tuple(cat["keypoints"]) == JOINT_NAMES
    assert sorted(tuple(sorted((a - 1, b - 1))) for a, b in cat["skeleton"]) == sorted(tuple(sorted(b)) for b in BONES)
