"""The bundled default model and the README's quick start, as a new user runs them."""
import json
import os
import re
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
import skeleton_utils as sk
import synthetic
import model_input as mi
import checkpoints as ckpt

REPO = Path(__file__).resolve().parents[1]
# The model card's regression check: "... (N poses, seed S): MPJPE X mm, PA-MPJPE Y mm ..."
CARD_CHECK = re.compile(r"fresh synthetic check \(([\d,]+) poses, seed (\d+)\): MPJPE ([\d.]+) mm, PA-MPJPE ([\d.]+) mm")
# The model card's real-motion check: "... (the *_test.bvh clips ..., F fps, V views): limb angle A degrees, MPJPE X mm"
CARD_REAL_CHECK = re.compile(r"real-motion check \(the `\*_test.bvh` clips of `../shared/mocap/cmu`, ([\d.]+) fps, (\d+) "
                             r"views\): limb angle ([\d.]+) degrees, MPJPE ([\d.]+) mm")
# How far the measured MPJPE may drift from the card before the test calls it a regression.
MARGIN_MM = 2.0
MARGIN_DEGREES = 0.5
SHARED_CMU = REPO.parent / "shared" / "mocap" / "cmu"


def model_card_check() -> tuple[int, int, float, float]:
    match = CARD_CHECK.search((REPO / "README.md").read_text())
    assert match, "README.md's model card must state the fresh synthetic check"
    n, seed, mpjpe, pa_mpjpe = match.groups()
    return int(n.replace(",", "")), int(seed), float(mpjpe), float(pa_mpjpe)


def test_bundled_weights_are_small_self_describing_and_for_detectors():
    assert os.path.getsize(ckpt.BUNDLED_WEIGHTS) < 10 * 2**20
    checkpoint = ckpt.read_checkpoint(ckpt.BUNDLED_WEIGHTS)
    assert checkpoint["arch"] == "gcn_transformer" and checkpoint["input_mode"] == "mediapipe"
    stats = np.load(REPO / "pretrained" / mi.NORM_STATS_FILE)
    assert np.allclose(stats, checkpoint["norm_stats"].numpy())


def test_bundled_weights_reach_the_model_card_mpjpe_on_fresh_synthetic_poses():
    n, seed, card_mpjpe, card_pa_mpjpe = model_card_check()
    poses = synthetic.generate_poses(n, seed=seed)
    pose2d = torch.as_tensor(poses["pose2d"])
    pose3d = torch.as_tensor(poses["pose3d"])
    pose3d = pose3d - pose3d[:, sk.ROOT: sk.ROOT + 1]
    lifter, _ = ckpt.load_lifter(ckpt.BUNDLED_WEIGHTS)
    with torch.no_grad():
        pred = lifter(dl.model_input_from_ground_truth(pose2d, "mediapipe"))
    assert abs(float(metrics.mpjpe(pred, pose3d)) - card_mpjpe) < MARGIN_MM
    assert abs(float(metrics.pa_mpjpe(pred, pose3d)) - card_pa_mpjpe) < MARGIN_MM


@pytest.mark.skipif(not SHARED_CMU.is_dir(), reason=f"{SHARED_CMU} (shared motion capture) is absent")
def test_bundled_weights_reach_the_model_card_on_real_motion():
    match = CARD_REAL_CHECK.search((REPO / "README.md").read_text())
    assert match, "README.md's model card must state the real-motion check"
    fps, views, card_angle, card_mpjpe = float(match[1]), int(match[2]), float(match[3]), float(match[4])
    clips = sorted(str(p) for p in SHARED_CMU.glob("*_test.bvh"))
    poses = mocap.import_clips(clips, fps=fps, views=views, seed=0, say=lambda *_: None)
    pose3d = torch.as_tensor(poses["pose3d"])
    pose3d = pose3d - pose3d[:, sk.ROOT: sk.ROOT + 1]
    lifter, _ = ckpt.load_lifter(ckpt.BUNDLED_WEIGHTS)
    with torch.no_grad():
        pred = lifter(dl.model_input_from_ground_truth(torch.as_tensor(poses["pose2d"]), "mediapipe"))
    assert abs(float(metrics.limb_angle_error(pred, pose3d)) - card_angle) < MARGIN_DEGREES
    assert abs(float(metrics.mpjpe(pred, pose3d)) - card_mpjpe) < MARGIN_MM


def test_quick_start_lifts_the_bundled_photo(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "infer.py"), "--demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    outputs = ["grace_hopper_overlay_coco17.jpg", "grace_hopper_pose3d.png", "grace_hopper_pose.json"]
    for name in outputs:
        assert (tmp_path / name).stat().st_size > 1000
        assert name in proc.stdout  # the user is told where the outputs are
    record = json.loads((tmp_path / "grace_hopper_pose.json").read_text())
    assert Path(record["weights"]).resolve() == Path(ckpt.BUNDLED_WEIGHTS).resolve()
    assert len(record["people"]) == 1  # the portrait holds one person
    pose3d = np.array([joint["mm"] for joint in record["people"][0]["joints"]])
    assert pose3d.shape == (28, 3) and np.isfinite(pose3d).all()
    bones = sk.bone_lengths(pose3d)
    assert 5 < bones.min() and bones.max() < 650  # no collapsed bone, none longer than an adult's thigh
    head, pelvis = pose3d[sk.J["head"]], pose3d[sk.ROOT]
    assert head[1] < pelvis[1] - 300  # upright: the head is well above the pelvis (y points down)


def test_every_requirement_is_pinned_to_a_tested_version():
    """A fresh install next year must resolve what the tests passed with (issue: installs that still work)."""
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements), requirements
    names = {r.split("==")[0].lower() for r in requirements}
    assert {"torch", "torch-geometric", "mediapipe", "numpy", "opencv-contrib-python", "onnx", "onnxruntime",
            "onnxscript", "matplotlib", "scipy", "h5py", "tqdm", "pytest"} <= names


# The model card's check of the video model: "temporal check (the *_test.bvh clips ..., V view(s), noise N,
# seed S): offline MPJPE X mm, acceleration error Y mm/frame^2; causal MPJPE Z mm, acceleration error W mm/frame^2"
CARD_TEMPORAL_CHECK = re.compile((
    r"temporal check \(the `\*_test.bvh` clips of `../shared/mocap/cmu` as 25 fps videos, (\d+) views?, noise (\w+), "
    r"seed (\d+)\): offline MPJPE ([\d.]+) mm, acceleration error ([\d.]+) mm/frame\^2; causal MPJPE ([\d.]+) mm, "
    r"acceleration error ([\d.]+) mm/frame\^2").replace(" ", r"\s+"))  # the card wraps its lines anywhere


def test_the_bundled_video_model_is_self_describing_and_built_on_the_bundled_default():
    assert os.path.getsize(ckpt.BUNDLED_TEMPORAL_WEIGHTS) < 20 * 2**20
    temporal, checkpoint = ckpt.load_sequence_lifter(ckpt.BUNDLED_TEMPORAL_WEIGHTS)
    assert checkpoint["arch"] == "temporal" and checkpoint["input_mode"] == "mediapipe" and checkpoint["fps"] == 25.0
    # Its encoder started as the default model and was fine-tuned with the temporal head: the same network.
    frame, frame_checkpoint = ckpt.load_checkpoint(ckpt.BUNDLED_WEIGHTS)
    assert checkpoint["config"]["frame_config"] == dict(frame_checkpoint["config"]) and checkpoint["tune_encoder"] > 0
    assert [v.shape for v in temporal.model.frame_model.state_dict().values()] == [v.shape for v in frame.state_dict().values()]
    assert ckpt.default_video_weights() == ckpt.BUNDLED_TEMPORAL_WEIGHTS


@pytest.mark.skipif(not SHARED_CMU.is_dir(), reason=f"{SHARED_CMU} (shared motion capture) is absent")
def test_the_bundled_video_model_reaches_the_model_card_on_real_motion():
    match = CARD_TEMPORAL_CHECK.search((REPO / "README.md").read_text())
    assert match, "README.md's model card must state the temporal check"
    views, noise, seed = int(match[1]), match[2], int(match[3])
    card = [float(x) for x in match.groups()[3:]]
    clips = sorted(str(p) for p in SHARED_CMU.glob("*_test.bvh"))
    arrays = mocap.import_clips(clips, fps=25.0, views=views, seed=0, validation=(), sequences=True, say=lambda *_: None)
    dataset = dl.MPIINF3DHPDataset(arrays, "all")
    runs = evaluation.video_runs(dataset)
    temporal, _ = ckpt.load_sequence_lifter(ckpt.BUNDLED_TEMPORAL_WEIGHTS)
    lifter, _ = ckpt.load_lifter(ckpt.BUNDLED_WEIGHTS)
    joints = evaluation.model_input(dataset, "mediapipe", noise, runs, seed)
    per_frame = evaluation.predict(lifter, joints, 1024, flip=False).numpy()
    methods = evaluation.video_predictions(per_frame, joints, runs, 25.0, temporal)
    measured = []
    for method in (evaluation.TEMPORAL_OFFLINE, evaluation.TEMPORAL_CAUSAL):
        scores = evaluation.video_scores(methods[method], dataset.pose3d, runs)["test14"]
        measured += [scores["mpjpe"], scores["acceleration_error"]]
    assert np.allclose(measured, card, atol=MARGIN_MM), (measured, card)
