import numpy as np
import pytest
import torch

import data_loader as dl
import skeleton_utils as sk
import model_input as mi


def _arrays(n=40, joints=28, subjects=4, seed=0):
    rng = np.random.default_rng(seed)
    pose3d = rng.normal(0, 300, size=(n, joints, 3)) + np.array([0, 0, 4000])
    pose2d = 1500 * pose3d[..., :2] / pose3d[..., 2:] + 1024
    return {"pose2d": pose2d.astype(np.float32), "pose3d": pose3d.astype(np.float32),
            "subject": np.arange(n) % subjects, "camera": np.zeros(n, dtype=int)}


def _save(tmp_path, arrays, name="poses.npz"):
    path = str(tmp_path / name)
    np.savez(path, **arrays)
    return path


def test_a_valid_file_loads_with_root_relative_3d(tmp_path):
    ds = dl.MPIINF3DHPDataset(_save(tmp_path, _arrays()), split="all")
    assert len(ds) == 40 and ds.joint_set == "mpiinf28"
    assert torch.all(ds.pose3d[:, sk.ROOT] == 0)
    assert ds.pose2d.dtype == torch.float32 and ds.meta["subject"].shape == (40,)


def test_a_17_joint_file_is_accepted_and_says_so(tmp_path):
    ds = dl.MPIINF3DHPDataset(_save(tmp_path, _arrays(joints=17)), split="all")
    assert ds.joint_set == "test17" and "17 joints" in ds.describe()
    assert torch.all(ds.pose3d[:, sk.TEST17_ROOT] == 0)
    inputs = dl.model_input_from_ground_truth(ds.pose2d, "mediapipe")
    assert inputs.shape == (40, 28, 3)
    hand = inputs[:, sk.J["left_hand"]]
    assert torch.all(hand[:, 2] == 0) and torch.allclose(hand[:, :2], ds.pose2d[:, sk.TEST17_NAMES.index("left_wrist")])
    with pytest.raises(dl.DatasetError, match="--input full"):
        dl.model_input_from_ground_truth(ds.pose2d, "full")


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("pose3d"), "missing key 'pose3d'"),
    (lambda a: a.update(pose2d=a["pose2d"][:, :20]), r"'pose2d' has shape \(40, 20, 2\)"),
    (lambda a: a.update(pose3d=a["pose3d"][..., :2]), "expected \\(N, 28, 3\\)"),
    (lambda a: a.update(pose3d=a["pose3d"][:30]), "disagree in pose count"),
    (lambda a: a.update(subject=a["subject"][:5]), "'subject' has shape"),
    (lambda a: a.update(intrinsics=np.ones((40, 3))), "fx, fy, cx, cy"),
    (lambda a: a["pose2d"].__setitem__((7, 3, 0), np.nan), "non-finite .* first at index 7"),
    (lambda a: a.update(pose2d=a["pose2d"][:0], pose3d=a["pose3d"][:0], subject=a["subject"][:0],
                        camera=a["camera"][:0]), "no poses"),
])
def test_bad_files_raise_a_clear_error(tmp_path, change, message):
    arrays = _arrays()
    change(arrays)
    with pytest.raises(dl.DatasetError, match=message):
        dl.load_pose_file(_save(tmp_path, arrays))


def test_missing_file_points_to_prepare_data_and_synthetic(tmp_path):
    with pytest.raises(dl.DatasetError, match="prepare_data.py.*--synthetic"):
        dl.load_pose_file(str(tmp_path / "mpi_inf_combined.npz"))


def test_a_file_that_is_not_an_npz(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_text("hello")
    with pytest.raises(dl.DatasetError, match="not a readable .npz"):
        dl.load_pose_file(str(path))


def test_split_holds_out_whole_subjects_and_is_deterministic():
    arrays = _arrays(n=200, subjects=10)
    train, val, description = dl.split_indices(arrays)
    assert set(arrays["subject"][train]).isdisjoint(arrays["subject"][val])
    assert len(val) == 20 and "subjects" in description
    assert np.array_equal(val, dl.split_indices(arrays)[1])


def test_split_falls_back_to_sequences_then_random():
    arrays = _arrays(n=100, subjects=1)
    arrays["sequence"] = np.arange(100) // 25
    _, val, description = dl.split_indices(arrays)
    assert "sequences" in description and len(np.unique(arrays["sequence"][val])) == 1
    arrays.pop("sequence")
    train, val, description = dl.split_indices(arrays)
    assert "random" in description and len(val) == 10 and len(np.intersect1d(train, val)) == 0


def test_normalisation_ignores_translation_and_scale():
    pose = torch.tensor(_arrays()["pose2d"][:5])
    a = mi.center_and_scale(pose)
    b = mi.center_and_scale(pose * 0.37 + torch.tensor([123.0, -45.0]))
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.all(a[:, sk.ROOT] == 0)


def test_norm_stats_standardise_and_keep_the_root_finite():
    inputs = dl.model_input_from_ground_truth(torch.tensor(_arrays()["pose2d"]), "mediapipe")
    stats = mi.compute_norm_stats(inputs)
    assert stats.shape == (2, 28, 2) and np.isfinite(stats).all() and (stats[1] > 0).all()
    normed = mi.normalize_input(inputs, torch.tensor(stats[0]), torch.tensor(stats[1]))
    assert torch.allclose(normed[..., :2].mean(0), torch.zeros(28, 2), atol=1e-4)
    assert torch.equal(normed[..., 2], inputs[..., 2])


def test_mediapipe_input_is_built_by_the_shared_synthesis():
    pose2d = torch.tensor(_arrays()["pose2d"])
    inputs = dl.model_input_from_ground_truth(pose2d, "mediapipe")
    expected = sk.synthesize_joints(np.concatenate(
        [pose2d.numpy()[:, list(sk.DETECTOR_JOINTS)], np.ones((40, len(sk.DETECTOR_JOINTS), 1), np.float32)], -1))
    assert np.allclose(inputs.numpy(), expected, atol=1e-3)
    full = dl.model_input_from_ground_truth(pose2d, "full")
    assert torch.equal(full[..., :2], pose2d) and torch.all(full[..., 2] == 1)


def test_a_file_of_one_clip_says_why_its_split_is_random(tmp_path):
    arrays = _arrays()
    arrays.update(subject=np.zeros(40, np.int64), sequence=np.zeros(40, np.int64))
    ds = dl.MPIINF3DHPDataset(_save(tmp_path, arrays), split="val")
    assert "only one subject and one sequence in the file" in ds.describe()
    assert "no subject or sequence ids" not in ds.describe()
