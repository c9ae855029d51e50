import numpy as np
import pytest

import skeleton_utils as sk
import synthetic
import joint_angles
import motion
import camera
import bodies
import sequences
import train_temporal

N = 2000
SEED = 3


@pytest.fixture(scope="module")
def generated():
    return synthetic.generate_with_details(N, seed=SEED)


@pytest.fixture(scope="module")
def poses(generated):
    return generated[0]


@pytest.fixture(scope="module")
def details(generated):
    return generated[1]


def _rows(poses, activity: str) -> np.ndarray:
    return poses["activity"] == synthetic.ACTIVITIES.index(activity)


def _heights(poses, details) -> np.ndarray:
    """(N, 28) height of every joint along the world's up direction (mm)."""
    return np.einsum("njk,nk->nj", poses["pose3d"].astype(np.float64), details["up"].astype(np.float64))


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_deterministic_for_a_seed_and_different_for_another():
    first, again = synthetic.generate_poses(300, seed=7), synthetic.generate_poses(300, seed=7)
    assert first.keys() == again.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other = synthetic.generate_poses(300, seed=8)
    assert np.abs(other["pose3d"] - first["pose3d"]).mean() > 100


def test_contract_shapes_dtypes_and_ids(poses):
    assert poses["pose2d"].shape == (N, 28, 2) and poses["pose2d"].dtype == np.float32
    assert poses["pose3d"].shape == (N, 28, 3) and poses["pose3d"].dtype == np.float32
    assert poses["intrinsics"].shape == (N, 4) and poses["intrinsics"].dtype == np.float32
    for key in ("subject", "camera", "frame", "activity"):
        assert poses[key].shape == (N,) and np.issubdtype(poses[key].dtype, np.integer)
    for key in ("pose2d", "pose3d", "intrinsics"):
        assert np.isfinite(poses[key]).all()
    subjects = poses["subject"]
    assert len(np.unique(subjects)) == round(N / synthetic.POSES_PER_SUBJECT)
    for s in np.unique(subjects):  # each body: a run of frames 0..k-1, seen by several of its cameras
        assert (poses["frame"][subjects == s] == np.arange((subjects == s).sum())).all()
        assert len(np.unique(poses["camera"][subjects == s])) > 1
    assert poses["camera"].min() >= 0 and poses["camera"].max() < synthetic.CAMERAS_PER_SUBJECT
    fx, fy, cx, cy = poses["intrinsics"].T
    assert (fx >= 1400).all() and (fx <= 1600).all() and np.allclose(fy, fx, rtol=0.01)
    assert (np.abs(cx - 1024) <= 30).all() and (np.abs(cy - 1024) <= 30).all()
    assert set(np.unique(poses["activity"])) == set(range(len(synthetic.ACTIVITIES)))


def test_default_number_of_bodies_and_bad_requests():
    assert len(np.unique(synthetic.generate_poses(50, seed=0)["subject"])) == 1
    assert len(np.unique(synthetic.generate_poses(50, seed=0, num_subjects=5)["subject"])) == 5
    with pytest.raises(ValueError, match="positive"):
        synthetic.generate_poses(0)
    with pytest.raises(ValueError, match="num_subjects"):
        synthetic.generate_poses(10, num_subjects=11)
    with pytest.raises(ValueError, match="seed"):
        synthetic.generate_poses(10, seed=-1)


def test_each_body_keeps_its_bone_lengths_in_every_pose(poses):
    lengths = sk.bone_lengths(poses["pose3d"].astype(np.float64))
    per_body = []
    for s in np.unique(poses["subject"]):
        body = lengths[poses["subject"] == s]
        assert np.abs(body - body[0]).max() < 0.01  # mm: float32 rounding only
        per_body.append(body[0])
    per_body = np.array(per_body)
    thigh = [i for i, (p, c) in enumerate(sk.MPIINF_EDGES) if (p, c) == (sk.J["left_hip"], sk.J["left_knee"])][0]
    assert per_body[:, thigh].std() > 10  # bodies differ
    assert 330 < per_body[:, thigh].mean() < 480


def test_sampled_angles_lie_within_the_declared_limits(details):
    for name, (lo, hi) in joint_angles.ANGLE_LIMITS.items():
        values = details[name]
        assert values.min() >= lo - 1e-3 and values.max() <= hi + 1e-3, name
    for side in joint_angles.SIDES:
        reach = joint_angles.shoulder_max_elevation(details[f"{side}_shoulder_plane"])
        assert (details[f"{side}_shoulder_elev"] <= reach + 1e-3).all()
    assert joint_angles.ANGLE_LIMITS["left_knee_flex"][0] == joint_angles.ANGLE_LIMITS["left_elbow_flex"][0] == 0


def test_knees_bend_only_forwards_and_elbows_and_knees_stay_within_150_degrees(poses):
    pose = poses["pose3d"].astype(np.float64)
    j = sk.J
    for side in ("left", "right"):
        hip, knee, ankle, toe = (pose[:, j[f"{side}_{name}"]] for name in ("hip", "knee", "ankle", "toe"))
        shank = (ankle - knee) / np.linalg.norm(ankle - knee, axis=-1, keepdims=True)
        front = toe - ankle  # the foot points to the front of the shank, whatever the ankle does
        front -= (front * shank).sum(-1, keepdims=True) * shank
        front /= np.linalg.norm(front, axis=-1, keepdims=True)
        # A bent knee puts the hip behind the shank; a knee bent backwards would put it in front.
        # The tolerance covers the thigh's rest inward slant (a few degrees) seen through a turned foot.
        assert ((hip - knee) * front).sum(-1).max() < 40
        assert _angle_between(hip - knee, ankle - knee).min() > 30 - 0.5
        shoulder, elbow, wrist = (pose[:, j[f"{side}_{name}"]] for name in ("shoulder", "elbow", "wrist"))
        assert _angle_between(shoulder - elbow, wrist - elbow).min() > 30 - 0.5
    bent = _rows(poses, "squatting") | _rows(poses, "sitting")
    hip, knee, ankle = (pose[bent][:, j[f"left_{name}"]] for name in ("hip", "knee", "ankle"))
    assert np.median(_angle_between(hip - knee, ankle - knee)) < 120  # sitting and squatting bend the knees


def test_pose2d_is_the_exact_projection_of_pose3d(poses):
    fx, fy, cx, cy = poses["intrinsics"].astype(np.float64).T[..., None]
    pose3d = poses["pose3d"].astype(np.float64)
    u = fx * pose3d[..., 0] / pose3d[..., 2] + cx
    v = fy * pose3d[..., 1] / pose3d[..., 2] + cy
    np.testing.assert_allclose(poses["pose2d"], np.stack([u, v], -1), atol=1e-3, rtol=0)


def test_people_are_in_front_of_the_camera_and_inside_the_image(poses):
    assert (poses["pose3d"][..., 2] > 1500).all()
    pelvis_distance = np.linalg.norm(poses["pose3d"][:, sk.ROOT], axis=-1)
    assert pelvis_distance.min() > 2900 and pelvis_distance.max() < 6500
    inside = ((poses["pose2d"] >= 0) & (poses["pose2d"] <= camera.IMAGE_SIZE)).all(-1)
    assert inside.mean() > 0.99 and (inside.mean(1) >= 0.7).all()
    centre = poses["pose2d"][:, sk.ROOT]
    assert np.abs(centre - 1024).max() > 150  # not always in the middle of the picture


def test_standing_people_are_upright_with_plausible_heights_and_feet_on_the_floor(poses, details):
    rows = _rows(poses, "standing")
    pose, j = poses["pose3d"][rows].astype(np.float64), sk.J
    span = np.linalg.norm(pose[:, j["head_top"]] - (pose[:, j["left_ankle"]] + pose[:, j["right_ankle"]]) / 2, axis=-1)
    assert 1300 < span.min() and span.max() < 2100 and 1450 < np.median(span) < 1800
    height = _heights(poses, details)[rows]
    assert (height[:, j["head_top"]] > height[:, j["head"]]).all() and (height[:, j["head"]] > height[:, j["neck"]]).all()
    assert (height[:, j["neck"]] > height[:, j["pelvis"]] + 300).all()
    lowest = np.stack([height[:, [j[f"{side}_foot"], j[f"{side}_toe"]]].min(1) for side in ("left", "right")], 1)
    assert np.all(lowest.min(1) == height.min(1))  # a foot is the lowest part of a standing person
    assert np.percentile(np.abs(lowest[:, 0] - lowest[:, 1]), 95) < 30  # and the other foot is down too
    hands = height[:, [j["left_hand"], j["right_hand"]]]
    assert np.median(hands) < np.median(height[:, j["pelvis"]]) + 200  # arms mostly hang, no T-pose


def test_walking_swings_each_arm_opposite_its_own_leg(poses, details):
    rows = _rows(poses, "walking")
    forward = {}
    for side in joint_angles.SIDES:
        elev, plane = (np.radians(details[f"{side}_shoulder_{k}"][rows]) for k in ("elev", "plane"))
        forward[side] = np.sin(elev) * np.sin(plane)
    legs = details["left_hip_flex"][rows] - details["right_hip_flex"][rows]
    arms = forward["left"] - forward["right"]
    assert np.corrcoef(legs, arms)[0, 1] < -0.4


def test_rest_skeleton_matches_the_synthesis_constants_of_skeleton_utils():
    sampled = bodies.sample_bodies(50, np.random.default_rng(0))
    rest = {name: np.zeros(50) for name in joint_angles.ANGLE_LIMITS}
    pose = joint_angles.forward_kinematics(sampled.offsets, rest)
    j = sk.J
    pelvis, neck = pose[:, j["pelvis"]], pose[:, j["neck"]]
    for name, fraction in sk.SPINE_FRACTIONS.items():
        on_line = pelvis + fraction * (neck - pelvis)
        assert np.abs(pose[:, j[name], 1] - on_line[:, 1]).max() < 1e-6  # heights exact, a gentle curve back
        assert np.linalg.norm(pose[:, j[name]] - on_line, axis=-1).max() < 60
    head, top = pose[:, j["head"]], pose[:, j["head_top"]]
    assert np.allclose(top, head + sk.HEAD_TOP_EXTENSION * (head - neck))
    for side in ("left", "right"):
        shoulder = pose[:, j[f"{side}_shoulder"]]
        clavicle = neck + sk.CLAVICLE_FRACTION * (shoulder - neck)
        assert np.linalg.norm(pose[:, j[f"{side}_clavicle"]] - clavicle, axis=-1).max() < 50
        ankle, toe = pose[:, j[f"{side}_ankle"]], pose[:, j[f"{side}_toe"]]
        ball = ankle + sk.FOOT_FRACTION * (toe - ankle)
        assert np.linalg.norm(pose[:, j[f"{side}_foot"]] - ball, axis=-1).max() < 15
        assert (toe[:, 2] > ankle[:, 2] + 100).all()  # feet point forward (+z)
        wrist = pose[:, j[f"{side}_wrist"]]
        assert (wrist[:, 1] < shoulder[:, 1] - 400).all()  # arms hang at rest
    assert np.allclose(pose[:, j["pelvis"]], (pose[:, j["left_hip"]] + pose[:, j["right_hip"]]) / 2)
    stature = pose[:, j["head_top"], 1] - synthetic.floor_height(pose)
    assert np.allclose(stature, sampled.height, rtol=0.06)


def test_cli_writes_a_loadable_npz_with_a_preview_and_refuses_to_overwrite(tmp_path, capsys):
    out, preview = tmp_path / "synth.npz", tmp_path / "synth.png"
    synthetic.main(["--out", str(out), "--n", "300", "--seed", "1", "--subjects", "3", "--preview", str(preview)])
    printed = capsys.readouterr().out
    assert "300 poses of 3 bodies" in printed and "walking" in printed
    with np.load(out) as npz:
        arrays = {key: npz[key] for key in npz.files}
    expected = synthetic.generate_poses(300, seed=1, num_subjects=3)
    assert arrays.keys() == expected.keys()
    np.testing.assert_array_equal(arrays["pose3d"], expected["pose3d"])
    assert preview.stat().st_size > 10_000
    before = out.stat().st_mtime_ns
    with pytest.raises(SystemExit, match="--force"):
        synthetic.main(["--out", str(out), "--n", "10"])
    with pytest.raises(SystemExit, match="--force"):
        synthetic.main(["--out", str(tmp_path / "other.npz"), "--n", "10", "--preview", str(preview)])
    assert out.stat().st_mtime_ns == before
    synthetic.main(["--out", str(out), "--n", "10", "--force"])
    with np.load(out) as npz:
        assert npz["pose3d"].shape == (10, 28, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth.npz", "synth.png"]  # no temp files left


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="num_subjects"):
        synthetic.main(["--out", str(tmp_path / "x.npz"), "--n", "5", "--subjects", "9"])
    with pytest.raises(SystemExit, match="does not exist"):
        synthetic.main(["--out", str(tmp_path / "missing" / "x.npz"), "--n", "5"])
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------
# Motion: videos of generated bodies moving between key poses
# ---------------------------------------------------------------------------
def test_generated_motion_is_smooth_rigid_on_the_floor_and_as_fast_as_people_commonly_move():
    rng = np.random.default_rng(3)
    body = bodies.sample_bodies(1, rng).offsets[0]
    clip = motion.motion_clip(body, seconds=12.0, fps=25.0, rng=rng)
    assert len(clip) == 300
    speed, acceleration = motion.fastest_joint(clip, 25.0)
    assert speed.max() < 1.1 * motion.MAX_JOINT_SPEED_MM_S  # retimed to real people's common speeds
    assert np.percentile(acceleration, 99) < motion.REAL_ACCELERATION_P99_MM_S2  # no jumps
    bones = sk.bone_lengths(clip)
    assert np.allclose(bones, bones[0], atol=1e-3)  # one rigid body throughout
    assert np.allclose((clip[..., 1] - bodies.CLEARANCE).min(-1), 0, atol=1e-6)  # standing, sitting or lying on the floor


def test_eased_key_poses_stay_within_the_joint_limits():
    rng = np.random.default_rng(0)
    keys = motion._key_poses(6, rng)
    angles = motion._eased(keys, np.arange(6.0), np.linspace(0, 5, 200))
    for name, (lo, hi) in joint_angles.ANGLE_LIMITS.items():
        assert lo - 1e-6 <= angles[name].min() and angles[name].max() <= hi + 1e-6, name
    assert np.abs(np.diff(angles["yaw"])).max() < motion.TURN_DEGREES  # a heading turns, never jumps


def test_motion_files_are_videos_the_temporal_training_reads(tmp_path):
    arrays = motion.generate_motion(clips=5, seconds=3.0, seed=1, views=2)
    assert float(arrays["fps"]) == 25.0 and set(np.unique(arrays["holdout"])) == {0, 1}
    runs = sequences.runs(arrays)
    assert sum(len(r) for r in runs) == len(arrays["pose2d"]) and max(len(r) for r in runs) == 75
    path = tmp_path / "motion.npz"
    np.savez(path, **arrays)
    _, train_runs, val_runs = train_temporal.load_sequences([str(path)])
    assert len(val_runs) >= 1 and len(train_runs) >= 4
    assert motion.main(["--clips", "2", "--seconds", "2", "--out", str(tmp_path / "m.npz")]) == 0
    assert float(np.load(tmp_path / "m.npz")["fps"]) == 25.0
