import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import data_loader as dl
import eval as evaluation
import metrics
import mocap
import model as mdl
import skeleton_utils as sk
import synthetic
import train
import checkpoints as ckpt
from tests.bvh_fixtures import write_cmu_clip
from tests.test_temporal import TINY, tiny_lifter

REPO = Path(__file__).resolve().parent.parent
VAL_FRACTION = 0.4


@pytest.fixture(scope="module")
def pose_file(tmp_path_factory) -> Path:
    arrays = synthetic.generate_poses(1200, seed=2)
    arrays["sequence"] = np.arange(len(arrays["pose2d"])) % 2 + 1
    path = tmp_path_factory.mktemp("data") / "poses.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory, pose_file) -> Path:
    """A tiny model trained for one epoch, holding out a non-default share of the poses."""
    out = tmp_path_factory.mktemp("run")
    train.main(["--data", str(pose_file), "--epochs", "1", "--dim", "32", "--depth", "2", "--device", "cpu",
                "--val-fraction", str(VAL_FRACTION), "--out", str(out)])
    return out / train.BEST_WEIGHTS


def untrained_checkpoint(path: Path, input_mode: str = "mediapipe", extra: dict | None = None) -> Path:
    net = mdl.build_model("gcn_transformer", dim=16, depth=1)
    stats = np.stack([np.zeros((sk.NUM_JOINTS, 2)), np.ones((sk.NUM_JOINTS, 2))])
    ckpt.save_checkpoint(str(path), net, "gcn_transformer", {"dim": 16, "depth": 1}, input_mode, stats, extra)
    return path


def run_eval(*flags: str) -> int:
    return evaluation.main(["--device", "cpu", *flags])


def test_scores_the_held_out_poses_and_writes_every_number(pose_file, weights, tmp_path, capsys):
    report = tmp_path / "results.json"
    assert run_eval("--data", str(pose_file), "--weights", str(weights), "--json", str(report)) == 0
    printed = capsys.readouterr().out
    assert "all 28 joints" in printed and "17 MPI-INF-3DHP test joints" in printed and "left_wrist" in printed
    results = json.loads(report.read_text())

    # The same poses and numbers as running the checkpoint by hand on training's held-out split.
    val = dl.MPIINF3DHPDataset(str(pose_file), "val", VAL_FRACTION)
    lifter, _ = ckpt.load_lifter(str(weights))
    with torch.no_grad():
        pred = lifter(dl.model_input_from_ground_truth(val.pose2d, "mediapipe"))
    all28, test17 = results["joint_sets"]["all28"], results["joint_sets"]["test17"]
    assert all28["num_poses"] == test17["num_poses"] == len(val)
    assert len(val) != len(dl.MPIINF3DHPDataset(str(pose_file), "val"))  # the checkpoint's fraction, not the default
    assert all28["mpjpe"] == pytest.approx(metrics.mpjpe(pred, val.pose3d).item(), rel=1e-5)
    idx = list(sk.TEST17_INDICES)
    assert test17["pa_mpjpe"] == pytest.approx(metrics.pa_mpjpe(pred[:, idx], val.pose3d[:, idx]).item(), rel=1e-4)
    assert list(all28["per_joint_mpjpe"]) == list(sk.JOINT_NAMES)
    assert list(test17["per_joint_mpjpe"]) == list(sk.TEST17_NAMES)
    assert 0 <= all28["auc"] <= all28["pck150"] <= 100
    official = results["joint_sets"]["test14"]  # the official total leaves out pelvis, spine and head
    assert list(official["per_joint_mpjpe"]) == list(sk.TEST17_NAMES[:14])
    assert official["pck150"] == pytest.approx(metrics.pck(metrics.joint_errors(pred[:, idx[:14]], val.pose3d[:, idx[:14]])).item(), rel=1e-5)

    # Rows per subject and sequence, which together hold every evaluated pose.
    groups = results["groups"]
    assert {"subject", "sequence", "mpjpe", "pa_mpjpe", "pck150", "auc"} <= set(groups[0])
    assert {row["sequence"] for row in groups} == {1, 2}
    assert sum(row["num_poses"] for row in groups) == len(val)


def test_split_all_counts_every_pose(pose_file, weights, tmp_path):
    report = tmp_path / "all.json"
    run_eval("--data", str(pose_file), "--weights", str(weights), "--split", "all", "--json", str(report))
    assert json.loads(report.read_text())["joint_sets"]["all28"]["num_poses"] == 1200


def test_flip_averaging_is_mirror_symmetric(pose_file, weights):
    lifter, _ = ckpt.load_lifter(str(weights))
    joints = dl.model_input_from_ground_truth(torch.as_tensor(np.load(pose_file)["pose2d"][:50]), "mediapipe")
    plain = evaluation.predict(lifter, joints, 16, flip=False)
    averaged = evaluation.predict(lifter, joints, 16, flip=True)
    # Averaging with the mirrored input's mirrored prediction makes the result exactly mirror-equivariant.
    mirrored = evaluation.predict(lifter, sk.flip_pose(joints), 16, flip=True)
    torch.testing.assert_close(mirrored, sk.flip_pose(averaged), atol=1e-3, rtol=1e-4)
    assert not torch.allclose(plain, averaged)


def test_a_17_joint_file_is_scored_on_its_17_joints(pose_file, weights, tmp_path):
    arrays = dict(np.load(pose_file))
    idx = list(sk.TEST17_INDICES)
    np.savez(tmp_path / "test17.npz", pose2d=arrays["pose2d"][:, idx], pose3d=arrays["pose3d"][:, idx],
             subject=arrays["subject"])
    report = tmp_path / "test17.json"
    run_eval("--data", str(tmp_path / "test17.npz"), "--weights", str(weights), "--split", "all", "--json", str(report))
    results = json.loads(report.read_text())
    assert list(results["joint_sets"]) == ["test17", "test14"] and results["group_joint_set"] == "test17"
    assert results["joint_sets"]["test17"]["num_poses"] == 1200


def test_a_full_input_model_refuses_a_17_joint_file(pose_file, tmp_path):
    arrays = dict(np.load(pose_file))
    idx = list(sk.TEST17_INDICES)
    np.savez(tmp_path / "test17.npz", pose2d=arrays["pose2d"][:, idx], pose3d=arrays["pose3d"][:, idx])
    full = untrained_checkpoint(tmp_path / "full.pth", input_mode="full")
    with pytest.raises(SystemExit, match="--input full"):
        run_eval("--data", str(tmp_path / "test17.npz"), "--weights", str(full), "--split", "all")


def test_synthetic_poses_hold_out_the_subjects_training_held_out(tmp_path):
    weights = untrained_checkpoint(tmp_path / "w.pth", extra={"train_args": {"data_seed": 3, "val_fraction": 0.2}})
    report = tmp_path / "synthetic.json"
    run_eval("--synthetic", "600", "--weights", str(weights), "--json", str(report))
    _, val, description = dl.split_indices(synthetic.generate_poses(600, seed=3), 0.2)
    results = json.loads(report.read_text())
    assert results["split_description"] == description
    assert results["joint_sets"]["all28"]["num_poses"] == len(val)


def test_missing_weights_exit_non_zero_with_a_clear_message(pose_file, tmp_path):
    done = subprocess.run([sys.executable, "eval.py", "--data", str(pose_file), "--device", "cpu",
                           "--weights", str(tmp_path / "nothing.pth")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert "nothing.pth: weights file not found" in done.stderr


def test_corrupt_and_mismatched_weights_are_clear_errors(pose_file, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="corrupt"):
        run_eval("--data", str(pose_file), "--weights", str(corrupt))
    mismatched = untrained_checkpoint(tmp_path / "mismatched.pth")
    checkpoint = torch.load(mismatched, weights_only=True)
    checkpoint["config"]["dim"] = 24  # the weights are 16 wide
    torch.save(checkpoint, mismatched)
    with pytest.raises(SystemExit, match="do not fit"):
        run_eval("--data", str(pose_file), "--weights", str(mismatched))


def test_missing_data_is_a_clear_error(weights, tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        run_eval("--data", str(tmp_path / "missing.npz"), "--weights", str(weights))


def test_input_flag_scores_a_model_on_another_input_mode(pose_file, weights, tmp_path):
    """--input coco17 hides the hands and toes from a mediapipe-trained model: a different score, reported as such."""
    own, other = tmp_path / "own.json", tmp_path / "coco17.json"
    run_eval("--data", str(pose_file), "--weights", str(weights), "--json", str(own))
    run_eval("--data", str(pose_file), "--weights", str(weights), "--input", "coco17", "--json", str(other))
    own_result, other_result = json.loads(own.read_text()), json.loads(other.read_text())
    assert other_result["input_mode"] == "coco17" and own_result["input_mode"] == "mediapipe"
    assert other_result["joint_sets"]["all28"]["mpjpe"] != own_result["joint_sets"]["all28"]["mpjpe"]


# ---------------------------------------------------------------------------
# Videos: sequence scores, the temporal model, saved predictions
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sequence_file(tmp_path_factory) -> Path:
    """Two clips filmed as videos at 25 fps by two cameras each (mocap.py --sequences)."""
    folder = tmp_path_factory.mktemp("clips")
    clips = [str(write_cmu_clip(folder / f"clip{k}.bvh", frames=120, seed=k)) for k in range(2)]
    arrays = mocap.import_clips(clips, fps=25.0, views=2, sequences=True, validation=(), say=lambda *_: None)
    path = folder / "sequences.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def temporal_checkpoint(tmp_path_factory) -> Path:
    lifter = tiny_lifter()
    path = tmp_path_factory.mktemp("temporal") / "temporal.pth"
    ckpt.save_checkpoint(str(path), lifter.model, mdl.TEMPORAL_ARCH, TINY, "mediapipe",
                         torch.stack([lifter.mean, lifter.std]))
    return path


def test_videos_are_scored_with_jitter_beside_the_fixed_filters(sequence_file, temporal_checkpoint, tmp_path, capsys):
    report = tmp_path / "video.json"
    assert run_eval("--data", str(sequence_file), "--split", "all", "--weights", str(temporal_checkpoint),
                    "--noise", "mediapipe", "--json", str(report)) == 0
    out = capsys.readouterr().out
    assert "videos: 4 runs of consecutive frames" in out and "at 25 fps" in out and "noise: mediapipe" in out
    methods = json.loads(report.read_text())["video"]["methods"]
    assert set(methods) == {"per-frame", "per-frame + --smooth (One-Euro)", "moving average of the per-frame 3D, 9 frames",
                            "moving average of the per-frame 3D, 27 frames", evaluation.TEMPORAL_OFFLINE,
                            evaluation.TEMPORAL_CAUSAL}
    per_frame, averaged = methods["per-frame"]["all28"], methods["moving average of the per-frame 3D, 9 frames"]["all28"]
    assert averaged["acceleration_error"] < per_frame["acceleration_error"]  # a filter smooths the noisy 2D's jitter
    assert all(np.isfinite(list(m["test14"].values())).all() for m in methods.values())


def test_saved_predictions_keep_the_order_of_the_input_file(sequence_file, temporal_checkpoint, tmp_path):
    arrays = dict(np.load(sequence_file))
    order = np.random.default_rng(0).permutation(len(arrays["pose2d"]))
    shuffled = tmp_path / "shuffled.npz"
    np.savez(shuffled, **{k: (v[order] if np.ndim(v) and len(v) == len(order) else v) for k, v in arrays.items()})
    saved, saved_shuffled = tmp_path / "pred.npz", tmp_path / "pred_shuffled.npz"
    for data, out in ((sequence_file, saved), (shuffled, saved_shuffled)):
        assert run_eval("--data", str(data), "--split", "all", "--weights", str(temporal_checkpoint),
                        "--save-predictions", str(out)) == 0
    pred, pred_shuffled = np.load(saved)["pose3d_pred"], np.load(saved_shuffled)["pose3d_pred"]
    assert pred.shape == (len(order), 28, 3)
    assert np.allclose(pred_shuffled, pred[order], atol=1e-3)  # each row is its pose's, wherever it sits in the file
    assert (np.load(saved_shuffled)["index"] == np.arange(len(order))).all()
