import numpy as np
import pytest
import torch

import skeleton_utils as sk


def test_skeleton_is_one_tree_over_all_28_joints():
    assert len(sk.JOINT_NAMES) == 28 and len(sk.PARENTS) == 28
    assert len(sk.MPIINF_EDGES) == 27
    assert [i for i, p in enumerate(sk.PARENTS) if p < 0] == [sk.ROOT] == [sk.J["pelvis"]]
    for joint in range(28):  # every joint reaches the root without a cycle
        seen, node = set(), joint
        while node != sk.ROOT:
            assert node not in seen
            seen.add(node)
            node = sk.PARENTS[node]


def test_parents_match_the_dataset_description():
    by_name = {sk.JOINT_NAMES[c]: sk.JOINT_NAMES[p] for p, c in sk.MPIINF_EDGES}
    assert by_name["spine"] == "pelvis" and by_name["neck"] == "spine4" and by_name["head_top"] == "head"
    assert by_name["left_clavicle"] == "neck" and by_name["right_hip"] == "pelvis"
    assert by_name["left_toe"] == "left_foot" and by_name["right_hand"] == "right_wrist"


def test_flip_permutation_is_an_involution_that_swaps_sides():
    perm = np.array(sk.FLIP_PERM)
    assert (perm[perm] == np.arange(28)).all()
    for j, name in enumerate(sk.JOINT_NAMES):
        other = sk.JOINT_NAMES[perm[j]]
        if name.startswith("left_"):
            assert other == "right_" + name[5:]
        elif name.startswith("right_"):
            assert other == "left_" + name[6:]
        else:
            assert other == name
    pose = np.random.default_rng(0).normal(size=(3, 28, 3))
    assert np.allclose(sk.flip_pose(sk.flip_pose(pose)), pose)
    assert np.allclose(sk.bone_lengths(sk.flip_pose(pose)), sk.bone_lengths(pose)[..., _edge_flip()])


def _edge_flip():
    edges = list(sk.MPIINF_EDGES)
    return [edges.index((sk.FLIP_PERM[p], sk.FLIP_PERM[c])) for p, c in edges]


def test_test17_subset_matches_the_official_order():
    assert sk.TEST17_NAMES[:2] == ("head_top", "neck") and sk.TEST17_NAMES[14] == "pelvis"
    assert sk.TEST17_ROOT == 14 and len(sk.TEST17_EDGES) == 16


def test_synthesis_keeps_detector_joints_and_places_the_rest():
    rng = np.random.default_rng(1)
    observed = rng.normal(size=(4, 5, len(sk.DETECTOR_JOINTS), 2))
    full = sk.synthesize_joints(observed)
    assert full.shape == (4, 5, 28, 2)
    assert np.allclose(full[..., list(sk.DETECTOR_JOINTS), :], observed)
    hips = observed[..., [sk.DETECTOR_JOINT_NAMES.index("left_hip"), sk.DETECTOR_JOINT_NAMES.index("right_hip")], :]
    assert np.allclose(full[..., sk.ROOT, :], hips.mean(-2))
    torch_full = sk.synthesize_joints(torch.tensor(observed))
    assert isinstance(torch_full, torch.Tensor) and np.allclose(torch_full.numpy(), full)


def test_synthesised_visibility_follows_its_sources():
    observed = np.ones((len(sk.DETECTOR_JOINTS), 3))
    observed[sk.DETECTOR_JOINT_NAMES.index("left_hip"), 2] = 0.0
    full = sk.synthesize_joints(observed)
    assert full[sk.J["left_hip"], 2] == 0 and full[sk.J["right_hip"], 2] == 1
    assert 0 < full[sk.ROOT, 2] < 1
    assert full[sk.J["left_wrist"], 2] == 1


def test_synthesis_rejects_the_wrong_joint_count():
    with pytest.raises(ValueError, match="17"):
        sk.synthesize_joints(np.zeros((28, 2)))


def _landmarks(rng):
    xy = rng.uniform(100, 900, size=(33, 2))
    return np.concatenate([xy, rng.uniform(0.6, 1.0, size=(33, 1))], axis=1)


def test_mediapipe_mapping_gives_28_finite_joints_that_agree_with_the_synthesis():
    rng = np.random.default_rng(2)
    landmarks = _landmarks(rng)
    joints = sk.mediapipe_to_mpiinf(landmarks)
    assert joints.shape == (28, 3) and np.isfinite(joints).all()
    assert np.allclose(joints[..., :2], sk.MEDIAPIPE_TO_MPIINF @ landmarks[:, :2])
    assert np.allclose(joints, sk.synthesize_joints(joints[list(sk.DETECTOR_JOINTS)]))
    mp = {n: i for i, n in enumerate(sk.MEDIAPIPE_LANDMARKS)}
    assert np.allclose(joints[sk.J["left_elbow"], :2], landmarks[mp["left_elbow"], :2])
    assert np.allclose(joints[sk.J["head"], :2], landmarks[[mp["left_ear"], mp["right_ear"]], :2].mean(0))


def test_mediapipe_visibility_is_binary_per_detector_joint():
    landmarks = _landmarks(np.random.default_rng(3))
    landmarks[sk.MEDIAPIPE_LANDMARKS.index("left_knee"), 2] = 0.2
    joints = sk.mediapipe_to_mpiinf(landmarks[None])[0]
    assert joints[sk.J["left_knee"], 2] == 0 and joints[sk.J["right_knee"], 2] == 1


def test_mediapipe_mapping_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="33"):
        sk.mediapipe_to_mpiinf(np.zeros((28, 3)))


def test_coco17_conversions():
    assert [sk.MEDIAPIPE_LANDMARKS[i] for i in sk.MEDIAPIPE_TO_COCO17] == list(sk.COCO17_NAMES)
    pose = np.arange(28 * 2, dtype=float).reshape(28, 2)
    coco = sk.mpiinf_to_coco17(pose)
    assert coco.shape == (17, 2)
    assert (coco[sk.COCO17_NAMES.index("right_knee")] == pose[sk.J["right_knee"]]).all()
