"""recombine.py: body parts swapped between real frames, limbs bent within the joint limits; mocap.py's use of it."""
from __future__ import annotations

import numpy as np
import pytest

import mocap
import recombine as rc
import skeleton_utils as sk
from bvh_fixtures import write_cmu_clip
from geometry import rotation_about
from joint_angles import ANGLE_LIMITS, limb_angles

J = sk.J


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> np.ndarray:
    """(120, 28, 3) world joints of one generated CMU performer moving every joint by up to 60 degrees."""
    path = write_cmu_clip(tmp_path_factory.mktemp("clip") / "moves.bvh", frames=120, seed=4, max_degrees=60.0)
    return mocap.load_clip_joints(path)[0]


def joints_of(bones: tuple[int, ...]) -> np.ndarray:
    return np.isin(np.arange(sk.NUM_JOINTS), bones)


@pytest.mark.parametrize("part", list(rc.PARTS))
def test_a_frame_given_its_own_part_is_unchanged(frames, part):
    np.testing.assert_allclose(rc.swap_part(frames, frames, part), frames, atol=1e-6)


@pytest.mark.parametrize("part", list(rc.PARTS))
def test_a_swapped_part_is_the_donors_relative_to_its_anchor_on_the_receivers_bones(frames, part):
    receiver, donor = frames[:60], frames[60:]
    # Where the donor stands and faces does not matter: only the part relative to its pelvis or thorax.
    turned = donor @ rotation_about(np.array([0.0, 1.0, 0.0]), 70.0).T + np.array([900.0, 0.0, -300.0])
    out = rc.swap_part(receiver, turned, part)
    np.testing.assert_allclose(out, rc.swap_part(receiver, donor, part), atol=1e-6)
    np.testing.assert_allclose(sk.bone_lengths(out), sk.bone_lengths(receiver), atol=1e-6)
    bones, _ = rc.PARTS[part]
    below = joints_of(bones)
    np.testing.assert_allclose(out[:, ~below], receiver[:, ~below], atol=1e-6)  # the rest is the receiver's
    assert np.abs(out[:, below] - receiver[:, below]).max() > 10.0
    side = part.split()[0]
    if part.endswith("leg"):  # the pelvis anchors a leg: its hip and knee angles are the donor's
        for dof in ("hip_flex", "hip_abd", "knee_flex"):
            np.testing.assert_allclose(limb_angles(out, side)[dof], limb_angles(donor, side)[dof], atol=1e-4)
    if part.endswith("arm"):
        np.testing.assert_allclose(limb_angles(out, side)["elbow_flex"], limb_angles(donor, side)["elbow_flex"],
                                   atol=1e-4)


@pytest.mark.parametrize("limb", list(rc.LIMBS))
def test_a_bent_limb_keeps_its_bones_and_stays_within_the_joint_limits(frames, limb):
    bent = rc.bend_limb(frames, limb, np.random.default_rng(0))
    np.testing.assert_allclose(sk.bone_lengths(bent), sk.bone_lengths(frames), atol=1e-6)
    ball, below, _, _ = rc.LIMBS[limb]
    moved = np.abs(bent - frames).max(axis=(1, 2)) > 1e-6
    side, kind = limb.split()
    # The generated motion turns joints anyhow (knees backwards): frames within the limits are bent.
    assert moved.sum() >= 0.8 * rc.within_limits(frames, side, kind).sum() > 0
    np.testing.assert_allclose(bent[:, ~joints_of(below)], frames[:, ~joints_of(below)], atol=1e-6)
    assert rc.within_limits(bent[moved], side, kind).all()
    hinge = "elbow_flex" if kind == "arm" else "knee_flex"
    change = np.abs(limb_angles(bent, side)[hinge] - limb_angles(frames, side)[hinge])
    assert change.max() <= rc.HINGE_BEND_DEG + 1e-6 and change.max() > 5.0
    lo, hi = ANGLE_LIMITS[f"{side}_{hinge}"]
    assert ((limb_angles(bent[moved], side)[hinge] >= lo) & (limb_angles(bent[moved], side)[hinge] <= hi)).all()


def test_recombined_poses_are_new_bodies_of_the_real_bones(frames):
    new = rc.recombined_poses(frames, 500, np.random.default_rng(1))
    assert new.shape == (500, 28, 3) and np.isfinite(new).all()
    # Every recombined pose has exactly the bones of a real frame (its receiver's).
    lengths, real = sk.bone_lengths(new), sk.bone_lengths(frames)
    assert np.abs(lengths[:, None] - real[None]).max(-1).min(-1).max() < 1e-6
    nearest = np.min([np.abs(new - frame).max(axis=(1, 2)) for frame in frames - frames[:, sk.ROOT:sk.ROOT + 1]
                      + new[:1, sk.ROOT:sk.ROOT + 1]], axis=0)
    assert (nearest > 20.0).mean() > 0.9  # new poses, not copies of a frame


def test_import_adds_recombined_training_poses_filmed_as_the_real_ones(tmp_path):
    import camera
    from test_mocap import clip_folder

    folder = clip_folder(tmp_path)
    plain = mocap.import_clips([str(folder)], fps=10, views=2, say=lambda *_: None)
    arrays = mocap.import_clips([str(folder)], fps=10, views=2, say=lambda *_: None, recombined=250)
    assert len(arrays["pose2d"]) == len(plain["pose2d"]) + 250
    rows = arrays["sequence"] == len(arrays["clip_names"]) - 1
    assert arrays["clip_names"][-1] == arrays["subject_names"][-1] == mocap.RECOMBINED and rows.sum() == 250
    assert (arrays["holdout"][rows] == 0).all() and (arrays["subject"][rows] == len(arrays["subject_names"]) - 1).all()
    for key in ("pose2d", "pose3d", "holdout", "sequence"):  # the real clips are as without recombination
        np.testing.assert_array_equal(arrays[key][~rows], plain[key])
    np.testing.assert_allclose(arrays["pose2d"][rows], camera.project(arrays["pose3d"][rows].astype(np.float64),
                                                                      arrays["intrinsics"][rows].astype(np.float64)),
                               atol=0.05)
    assert (arrays["pose3d"][rows][..., 2] > 1000).all()


def test_recombination_needs_training_clips_and_single_poses(tmp_path):
    from test_mocap import clip_folder

    folder = clip_folder(tmp_path)
    with pytest.raises(ValueError, match="every clip given is a validation clip"):
        mocap.import_clips([str(folder / "walk_1_test.bvh")], say=lambda *_: None, recombined=10)
    with pytest.raises(ValueError, match="cannot be combined with --sequences"):
        mocap.import_clips([str(folder)], say=lambda *_: None, recombined=10, sequences=True)
    with pytest.raises(ValueError, match="--recombined not negative"):
        mocap.import_clips([str(folder)], say=lambda *_: None, recombined=-1)
