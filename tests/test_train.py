import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import data_loader as dl
import metrics
import model as mdl
import skeleton_utils as sk
import synthetic
import train
import training_step
import model_input as mi
import checkpoints as ckpt
import augmentation

REPO = Path(__file__).resolve().parent.parent
TINY = ["--dim", "32", "--depth", "2", "--device", "cpu"]


def run_train(out: Path, *flags: str) -> int:
    return train.main([*TINY, "--out", str(out), *flags])


def log_rows(out: Path) -> list[dict]:
    with open(out / train.LOG_FILE) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def pose_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "poses.npz"
    np.savez(path, **synthetic.generate_poses(2000, seed=1))
    return path


# ---------------------------------------------------------------------------
# End to end, on the CPU
# ---------------------------------------------------------------------------
def test_short_run_learns_and_writes_a_loadable_checkpoint(tmp_path, capsys):
    assert run_train(tmp_path, "--synthetic", "3000", "--epochs", "4") == 0
    printed = capsys.readouterr().out
    assert "split 'train'" in printed and "split 'val'" in printed and "parameters" in printed

    best = torch.load(tmp_path / train.BEST_WEIGHTS, weights_only=True)
    assert best["val_mpjpe"] < 0.6 * best["initial_val_mpjpe"]
    assert best["train_args"]["synthetic"] == 3000 and best["input_mode"] == "mediapipe"
    lifter, checkpoint = ckpt.load_lifter(str(tmp_path / train.BEST_WEIGHTS))
    assert checkpoint["config"]["dim"] == 32
    np.testing.assert_array_equal(np.load(tmp_path / mi.NORM_STATS_FILE), checkpoint["norm_stats"].numpy())

    # The saved weights reproduce the validation MPJPE that the checkpoint records.
    val = dl.MPIINF3DHPDataset(synthetic.generate_poses(3000, seed=0), "val")
    with torch.no_grad():
        pred = lifter(dl.model_input_from_ground_truth(val.pose2d, "mediapipe"))
    assert metrics.mpjpe(pred, val.pose3d).item() == pytest.approx(best["val_mpjpe"], rel=1e-4)

    rows = log_rows(tmp_path)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == set(train.LOG_COLUMNS)
    assert (tmp_path / train.CURVES_FILE).stat().st_size > 0
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]


def test_plateau_stops_early(tmp_path, pose_file):
    # With a learning rate of 0 the model never changes: one best epoch, then `patience` bad ones.
    assert run_train(tmp_path, "--data", str(pose_file), "--lr", "0", "--patience", "2", "--epochs", "20") == 0
    assert [int(r["epoch"]) for r in log_rows(tmp_path)] == [1, 2, 3]
    assert torch.load(tmp_path / train.BEST_WEIGHTS, weights_only=True)["epoch"] == 1


def test_resume_continues_the_epoch_count_and_the_optimiser(tmp_path, pose_file):
    run_train(tmp_path, "--data", str(pose_file), "--epochs", "2")
    first = torch.load(tmp_path / train.LAST_CHECKPOINT, weights_only=True)
    steps_per_epoch = first["optimizer"]["state"][0]["step"].item() / 2

    # The model flags come back from the checkpoint: only --out and the new epoch budget are given.
    assert train.main(["--resume", "--out", str(tmp_path), "--epochs", "3"]) == 0
    last = torch.load(tmp_path / train.LAST_CHECKPOINT, weights_only=True)
    assert last["epoch"] == 3 and last["config"] == first["config"]
    # A fresh optimiser would have counted one epoch of steps, a restored one three.
    assert last["optimizer"]["state"][0]["step"].item() == 3 * steps_per_epoch
    assert [int(r["epoch"]) for r in log_rows(tmp_path)] == [1, 2, 3]
    assert [row["epoch"] for row in last["history"]] == [1, 2, 3]


def test_ctrl_c_stops_cleanly_and_keeps_the_best_weights(tmp_path, pose_file, monkeypatch, capsys):
    real_epoch = train.train_one_epoch

    def interrupted_in_epoch_2(session, train_set, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(session, train_set, epoch)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_in_epoch_2)
    assert run_train(tmp_path, "--data", str(pose_file), "--epochs", "5") == 130
    printed = capsys.readouterr().out
    assert "interrupted during epoch 2" in printed and str(tmp_path / train.BEST_WEIGHTS) in printed
    assert ckpt.load_checkpoint(str(tmp_path / train.BEST_WEIGHTS))[1]["epoch"] == 1


def test_resume_refuses_different_model_flags(tmp_path, pose_file):
    run_train(tmp_path, "--data", str(pose_file), "--epochs", "1")
    with pytest.raises(SystemExit, match="model flags"):
        train.main(["--resume", "--out", str(tmp_path), "--dim", "64"])


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no run to continue"):
        train.main(["--resume", "--out", str(tmp_path)])


def test_refuses_to_overwrite_best_weights_without_force(tmp_path, pose_file):
    bundled = tmp_path / train.BEST_WEIGHTS
    bundled.write_bytes(b"weights of another run")
    with pytest.raises(SystemExit, match="--force"):
        run_train(tmp_path, "--data", str(pose_file), "--epochs", "1")
    assert bundled.read_bytes() == b"weights of another run"
    assert run_train(tmp_path, "--data", str(pose_file), "--epochs", "1", "--force") == 0
    ckpt.load_checkpoint(str(bundled))


def test_clear_errors_for_missing_data_and_17_joint_files(tmp_path, pose_file):
    with pytest.raises(SystemExit, match="no such file"):
        run_train(tmp_path, "--data", str(tmp_path / "missing.npz"))
    arrays = dict(np.load(pose_file))
    test17 = list(sk.TEST17_INDICES)
    np.savez(tmp_path / "test17.npz", pose2d=arrays["pose2d"][:, test17], pose3d=arrays["pose3d"][:, test17])
    with pytest.raises(SystemExit, match="17 test-set joints"):
        run_train(tmp_path, "--data", str(tmp_path / "test17.npz"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="torchrun needs a POSIX system")
def test_torchrun_with_two_processes_writes_one_checkpoint(tmp_path):
    out, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py",
               *TINY, "--synthetic", "2000", "--epochs", "2", "--out", str(out)]
    # One thread per process: two processes with several threads each on two busy cores crawl. torchrun
    # leaves a log folder in the temporary folder each run: here the test's own, not the machine's /tmp.
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("epoch   2/2") == 1  # only rank 0 prints
    assert sorted(os.listdir(out)) == sorted(
        [train.BEST_WEIGHTS, train.LAST_CHECKPOINT, mi.NORM_STATS_FILE, train.LOG_FILE, train.CURVES_FILE])
    checkpoint = torch.load(out / train.LAST_CHECKPOINT, weights_only=True)
    assert checkpoint["world_size"] == 2 and checkpoint["epoch"] == 2
    assert len(log_rows(out)) == 2
    ckpt.load_checkpoint(str(out / train.BEST_WEIGHTS))


# ---------------------------------------------------------------------------
# The pieces
# ---------------------------------------------------------------------------
def test_plateau_halves_the_learning_rate_then_stops():
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.002)
    scheduler = train.make_scheduler(optimizer)
    stopper = train.EarlyStopping(patience=10)
    learning_rates, stopped_after = [], None
    for epoch, score in enumerate([100.0, 90.0] + [90.0] * 20, start=1):
        scheduler.step(score)
        assert stopper.update(score, epoch) == (epoch <= 2)
        learning_rates.append(optimizer.param_groups[0]["lr"])
        if stopper.should_stop:
            stopped_after = epoch
            break
    # Best at epoch 2; the sixth epoch without improvement (8) halves the rate; the tenth (12) stops.
    assert learning_rates[6] == 0.002 and learning_rates[7] == 0.001
    assert stopped_after == 12 and stopper.best == 90.0 and stopper.best_epoch == 2
    restored = train.EarlyStopping(patience=10)
    restored.load_state_dict(stopper.state_dict())
    assert restored.should_stop


def test_improvement_must_beat_the_threshold():
    stopper = train.EarlyStopping(patience=3)
    assert stopper.update(100.0, 1)
    assert not stopper.update(100.0 * (1 - train.IMPROVEMENT_THRESHOLD / 2), 2)
    assert stopper.update(99.0, 3) and stopper.bad_epochs == 0


def test_epoch_shards_are_disjoint_and_reshuffled():
    ranks = [train.Runtime(torch.device("cpu"), rank, 2) for rank in (0, 1)]
    shards = [train.shard_of_epoch(11, seed=0, epoch=1, runtime=r) for r in ranks]
    assert len(shards[0]) == len(shards[1]) == 5
    assert not set(shards[0].tolist()) & set(shards[1].tolist())
    assert not torch.equal(train.shard_of_epoch(11, 0, 2, ranks[0]), shards[0])


def test_augmentation_off_gives_the_inference_input():
    poses = synthetic.generate_poses(16, seed=3)
    pose2d, pose3d = torch.as_tensor(poses["pose2d"]), torch.as_tensor(poses["pose3d"])
    for mode in mi.INPUT_MODES:
        inputs, target = augmentation.augmented_batch(pose2d, pose3d, mode, augmentation.Augmentation(flip=False, noise=0, drop=0, crop=0))
        torch.testing.assert_close(inputs, dl.model_input_from_ground_truth(pose2d, mode))
        assert torch.equal(target, pose3d)


def test_flip_mirrors_2d_and_3d_of_the_same_poses():
    poses = synthetic.generate_poses(64, seed=4)
    pose2d, pose3d = torch.as_tensor(poses["pose2d"]), torch.as_tensor(poses["pose3d"])
    torch.manual_seed(0)
    flipped2d, flipped3d = augmentation.flip_half(pose2d, pose3d)
    mirrored2d = (flipped2d != pose2d).flatten(1).any(1)
    mirrored3d = (flipped3d != pose3d).flatten(1).any(1)
    assert torch.equal(mirrored2d, mirrored3d) and 10 < int(mirrored2d.sum()) < 54
    left, right = sk.J["left_wrist"], sk.J["right_wrist"]
    torch.testing.assert_close(flipped3d[mirrored3d, left, 0], -pose3d[mirrored3d, right, 0])
    torch.testing.assert_close(flipped2d[mirrored2d, left, 1], pose2d[mirrored2d, right, 1])


def test_noise_scales_with_the_pose_size():
    pose2d = torch.as_tensor(synthetic.generate_poses(8, seed=5)["pose2d"])
    shifts = []
    for scale in (1.0, 3.0):
        observed = dl.observed_joints(pose2d * scale, "mediapipe")
        torch.manual_seed(0)
        noisy = augmentation.add_detector_noise(observed, mi.pose_size(pose2d * scale), 0.05)
        shifts.append(noisy[..., :2] - observed[..., :2])
        assert torch.equal(noisy[..., 2], observed[..., 2])
    torch.testing.assert_close(shifts[1], 3.0 * shifts[0], rtol=0, atol=1e-3)  # float32 pixels near 1000
    rms = shifts[0].pow(2).sum(-1).mean(-1).sqrt() / mi.pose_size(pose2d).flatten()
    assert 0 < rms.max() < 0.05 * 2 * 1.5


def test_dropped_joints_are_unseen_and_moved():
    pose2d = torch.as_tensor(synthetic.generate_poses(500, seed=6)["pose2d"])
    observed = dl.observed_joints(pose2d, "mediapipe")
    torch.manual_seed(0)
    dropped = augmentation.drop_joints(observed, mi.pose_size(pose2d), 0.15)
    unseen = dropped[..., 2] == 0
    assert 0.04 < unseen.float().mean() < 0.11  # the per-pose rate is uniform in [0, 0.15]: 7.5% on average
    assert (dropped[..., :2] != observed[..., :2]).any(-1).eq(unseen).all()


def test_cropped_frames_hide_everything_below_a_row():
    pose2d = torch.as_tensor(synthetic.generate_poses(400, seed=6)["pose2d"])
    observed = dl.observed_joints(pose2d, "mediapipe")
    torch.manual_seed(0)
    cropped = augmentation.crop_frame(observed, mi.pose_size(pose2d), 0.5)
    unseen = cropped[..., 2] == 0
    affected = unseen.any(1)
    assert 0.35 < affected.float().mean() < 0.65
    v = observed[..., 1]
    assert not unseen.gather(1, v.argmin(1, keepdim=True)).any()  # the highest joint is never cut off
    lowest_seen = torch.where(unseen, torch.full_like(v, -1e9), v).max(1).values
    highest_unseen = torch.where(unseen, v, torch.full_like(v, 1e9)).min(1).values
    assert (lowest_seen[affected] < highest_unseen[affected]).all()  # one row separates seen from unseen


def test_pose_loss_is_mpjpe_plus_a_hundredth_of_the_bone_error():
    target = torch.as_tensor(synthetic.generate_poses(4, seed=7)["pose3d"])
    target = target - target[:, sk.ROOT: sk.ROOT + 1]
    shifted = target + torch.tensor([3.0, 4.0, 0.0])  # same bones, 5 mm everywhere
    assert training_step.pose_loss(shifted, target).item() == pytest.approx(5.0, rel=1e-5)
    doubled = 2 * target  # every bone twice as long
    expected = metrics.mpjpe(doubled, target) + 0.01 * sk.bone_lengths(target).mean()
    assert training_step.pose_loss(doubled, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_model_flags_fill_in_the_constructor_defaults():
    hybrid = train.model_config(train.parse_args(["--dim", "48"]))
    assert hybrid["dim"] == 48 and hybrid["depth"] == len(mdl.PoseEstimator().blocks)
    mlp = train.model_config(train.parse_args(["--arch", "mlp", "--depth", "3"]))
    assert mlp["blocks"] == 3 and mlp["width"] == mdl.LinearBaseline().out.in_features
    mdl.build_model("gcn_transformer", **hybrid)
    mdl.build_model("mlp", **mlp)
    with pytest.raises(SystemExit):
        train.parse_args(["--arch", "mlp", "--heads", "2"])


def test_amp_on_the_cpu_falls_back_to_float32(capsys):
    args = train.parse_args(["--amp", "--device", "cpu"])
    assert train.mixed_precision(args, train.Runtime(torch.device("cpu"))) is None
    assert "CUDA" in capsys.readouterr().out
