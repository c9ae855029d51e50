"""mocap.py's BVH writer: the lifted motion as a file that mocap.py, Blender and retargeting tools read back."""
from __future__ import annotations

import numpy as np
import pytest

import mocap
import skeleton_utils as sk
from synthetic import generate_poses
import geometry
import bvh
import animation

FPS = 25.0


def _turn_about_y(pose: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return pose @ turn.T


def synthetic_motion(frames: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic person turning twice around while walking 2.4 m across in front of a camera 4 m
    away: root-relative (F, 28, 3) camera mm and the (F, 3) camera-space pelvis."""
    pose = generate_poses(1, seed=5)["pose3d"][0].astype(np.float64)
    turns = np.linspace(0, 720, frames)
    joints = np.stack([_turn_about_y(pose - pose[sk.ROOT], degrees) for degrees in turns])
    pelvis = np.stack([np.linspace(-1200, 1200, frames), np.full(frames, 200.0), np.full(frames, 4000.0)], axis=1)
    return joints, pelvis


def _write_and_read(joints: np.ndarray, path) -> tuple[bvh.Clip, np.ndarray]:
    """Write camera-space joints as BVH and read the file back: the clip and the normalised joints (mm)."""
    world = animation.camera_to_world(joints)
    clip, normalised = animation.lifted_to_clip(world, FPS)
    path.write_text(bvh.format_bvh(clip))
    return bvh.read_bvh(path), normalised


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The synthetic motion written as BVH: (its path, the normalised world joints in mm it holds, the track)."""
    joints, pelvis = synthetic_motion()
    track = animation.MotionTrack()
    for f, (j, p) in enumerate(zip(joints, pelvis)):
        track.add(j + p, f / FPS)
    path = tmp_path_factory.mktemp("bvh") / "motion.bvh"
    path.write_text(track.bvh_text())
    _, normalised = animation.lifted_to_clip(animation.camera_to_world(joints + pelvis[:, None]), FPS)
    return path, normalised, (joints, pelvis)


def test_reading_the_file_back_gives_the_normalised_joints_to_within_a_millimetre(tmp_path):
    # Poses of every activity, of one body, one after another: the hardest case for the angles.
    poses = generate_poses(200, seed=7, num_subjects=1)["pose3d"].astype(np.float64)
    clip, normalised = _write_and_read(poses, tmp_path / "poses.bvh")
    back = mocap.clip_to_mpiinf(clip) * mocap.UNIT_TO_MM["cm"]
    assert mocap.detect_rig(clip.skeleton).name == "infer_bvh"
    assert np.abs(back - normalised).max() < 1.0
    assert mocap.infer_unit(back / 10.0) == "cm"
    assert clip.frame_time == pytest.approx(1 / FPS)


def test_normalisation_keeps_bone_lengths_constant_and_is_idempotent(written):
    path, normalised, (joints, pelvis) = written
    lengths = sk.bone_lengths(normalised)
    assert np.ptp(lengths, axis=0).max() < 1e-6
    again, _ = animation.normalise_for_bvh(normalised)
    assert np.abs(again - normalised).max() < 1e-6
    # A clean pose: normalisation moves the clavicles to the rule's place (3 cm here), the rest by millimetres.
    lifted = animation.camera_to_world(joints + pelvis[:, None])
    shift = np.linalg.norm(normalised - lifted, axis=-1)
    clavicles = [sk.J["left_clavicle"], sk.J["right_clavicle"]]
    assert np.delete(shift, clavicles, axis=1).max() < 10.0 and shift.max() < 40.0


def test_the_skeleton_has_standard_names_and_a_t_pose_in_centimetres(written):
    clip = bvh.read_bvh(written[0])
    names = set(clip.skeleton.names)
    for name in ("Hips", "Spine", "Spine1", "Neck", "Head", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
                 "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightUpLeg"):
        assert name in names
    rest = bvh.rest_positions(clip.skeleton)
    at = {n: rest[i] for i, n in enumerate(clip.skeleton.names)}
    assert at["LeftHand"][0] > at["LeftArm"][0] > 10 > -10 > at["RightArm"][0] > at["RightHand"][0]  # arms out
    assert abs(at["LeftHand"][1] - at["LeftArm"][1]) < 1e-6  # level
    assert at["LeftFoot"][1] < at["LeftLeg"][1] < at["LeftUpLeg"][1] - 30  # legs down, in cm
    assert at["Head"][1] > at["Neck"][1] > at["Spine3"][1]


def test_the_root_walks_across_and_the_angles_never_jump(written):
    path, normalised, (_, pelvis) = written
    clip = bvh.read_bvh(path)
    root_x = clip.values[:, 0]
    assert np.all(np.diff(root_x) > 0) and root_x[-1] - root_x[0] == pytest.approx(240.0, abs=1.0)  # cm
    # The body turns 15 degrees a frame: no channel of any joint may jump by more than that allows.
    rotations = np.array([c.endswith("rotation") for channels in clip.skeleton.channels for c in channels])
    assert np.abs(np.diff(clip.values[:, rotations], axis=0)).max() < 20.0
    # Two whole turns leave the root's heading 720 degrees on (y up: a turn about y down is negative).
    assert clip.values[-1, 3] - clip.values[0, 3] == pytest.approx(-720.0, abs=0.01)


def test_equivalent_euler_triples_are_unwrapped_to_the_nearest():
    angles = np.array([[170.0, 10.0, -170.0], [-175.0, 12.0, 175.0], [5.0, 170.0, -5.0]])[:, None]
    out = geometry.unwrap_euler(angles)[:, 0]
    assert out[1].tolist() == [185.0, 12.0, -185.0]
    # (5, 170, -5) is the same rotation as (185, 10, 175): the nearer of the two, by whole turns.
    assert out[2].tolist() == [185.0, 10.0, -185.0]


def test_frames_without_a_person_keep_the_last_pose_and_an_empty_track_writes_nothing(tmp_path):
    joints, pelvis = synthetic_motion(6)
    track = animation.MotionTrack()
    for f in range(6):
        track.add(None if f in (0, 3) else joints[f] + pelvis[f], f / FPS)
    assert track.gaps == 2 and len(track) == 6
    (tmp_path / "gaps.bvh").write_text(track.bvh_text())
    clip = bvh.read_bvh(tmp_path / "gaps.bvh")
    assert len(clip.values) == 6 and clip.frame_time == pytest.approx(1 / FPS)
    assert np.array_equal(clip.values[0], clip.values[1])  # before the first person: the first pose
    assert np.array_equal(clip.values[3], clip.values[2]) and not np.array_equal(clip.values[4], clip.values[3])
    empty = animation.MotionTrack()
    empty.add(None)
    assert empty.bvh_text() is None


def test_blender_imports_the_file_with_every_bone_where_the_joints_are(written):
    bpy = pytest.importorskip("bpy", reason="Blender's Python module bpy is not installed (README: "
                                           "'Animate a character' says how to install it)")
    path, normalised, _ = written
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=1.0, frame_start=1, rotate_mode="NATIVE",
                            axis_forward="-Z", axis_up="Y")
    armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    clip = bvh.read_bvh(path)
    joint = {name: sk.J[j] for name, j, _ in animation.WRITER_JOINTS}
    bones = [b.name for b in armature.pose.bones]
    assert len(bones) == sum(1 for ch in clip.skeleton.channels if ch)  # one bone per joint with channels
    worst = 0.0
    for frame in range(len(normalised)):
        bpy.context.scene.frame_set(frame + 1)
        for bone in armature.pose.bones:
            x, y, z = armature.matrix_world @ bone.head  # Blender is z up: BVH (x, y, z) -> (x, -z, y)
            expected = normalised[frame, joint[bone.name]] / 10.0  # cm
            worst = max(worst, float(np.abs(np.array([x, z, -y]) - expected).max()))
    assert worst < 1.0, f"a bone's head is {worst:.2f} cm from its joint"
