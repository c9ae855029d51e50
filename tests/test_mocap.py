"""mocap.py: the BVH parser, forward kinematics, rig tables, units and the import command."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mocap
import skeleton_utils as sk
from bvh_fixtures import CMU_RIG, random_motion, write_bvh, write_cmu_clip
import bvh
import bodies

REPO = Path(__file__).resolve().parent.parent
SHARED_MOCAP = REPO.parent / "shared" / "mocap"
needs_shared = pytest.mark.skipif(not SHARED_MOCAP.is_dir(), reason=f"{SHARED_MOCAP} (shared motion capture) is absent")

ARM = """HIERARCHY\r
ROOT\tRoot\r
{\r
\tOFFSET 0 0 0\r
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\r
\tJOINT Shoulder\r
\t{\r
\t\tOFFSET 0 10 0\r
\t\tCHANNELS 3 Xrotation Yrotation Zrotation\r
\t\tJOINT Elbow\r
\t\t{\r
\t\t\tOFFSET 30 0 0\r
\t\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\r
\t\t\tEnd Site\r
\t\t\t{\r
\t\t\t\tOFFSET 25 0 0\r
\t\t\t}\r
\t\t}\r
\t}\r
}\r
MOTION\r
Frames: 2\r
Frame Time: 0.04\r
0 0 0 0 0 0 0 0 0 30 0 0 0 0 0\r
5 6 7 0 0 0 0 0 0 30 0 0 90 0 0\r
\r
"""


def write(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
def test_parses_tabs_crlf_end_sites_orders_and_position_channels(tmp_path):
    clip = bvh.read_bvh(write(tmp_path, ARM))
    assert clip.skeleton.names == ["Root", "Shoulder", "Elbow", "Elbow_end"]
    assert clip.skeleton.parents == [-1, 0, 1, 2]
    assert clip.skeleton.channels[1] == ["Xrotation", "Yrotation", "Zrotation"]
    assert clip.skeleton.channels[2][:3] == ["Xposition", "Yposition", "Zposition"]
    assert clip.values.shape == (2, 15)
    assert clip.fps == pytest.approx(25.0)


def test_forward_kinematics_of_a_bent_elbow_and_a_root_translation(tmp_path):
    world, _ = bvh.forward_kinematics(bvh.read_bvh(write(tmp_path, ARM)))
    # Frame 0: the elbow's position channels (30, 0, 0) replace its OFFSET; the arm is straight along +x.
    np.testing.assert_allclose(world[0], [[0, 0, 0], [0, 10, 0], [30, 10, 0], [55, 10, 0]], atol=1e-9)
    # Frame 1: the root moves by (5, 6, 7) and the elbow turns 90 degrees about z: the forearm points up.
    np.testing.assert_allclose(world[1], [[5, 6, 7], [5, 16, 7], [35, 16, 7], [35, 41, 7]], atol=1e-9)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_every_rotation_order_composes_in_channel_order(tmp_path, order):
    angles = {"X": 20.0, "Y": -35.0, "Z": 50.0}
    text = (f"HIERARCHY\nROOT A\n{{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition "
            + " ".join(f"{a}rotation" for a in order)
            + "\n End Site\n {\n  OFFSET 1 2 3\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0 "
            + " ".join(str(angles[a]) for a in order) + "\n")
    world, rotation = bvh.forward_kinematics(bvh.read_bvh(write(tmp_path, text)))
    # Intrinsic rotations in the listed order: R = R_first @ R_second @ R_third.
    expected = Rotation.from_euler(order, [angles[a] for a in order], degrees=True).as_matrix()
    np.testing.assert_allclose(rotation[0, 0], expected, atol=1e-12)
    np.testing.assert_allclose(world[0, 1], expected @ [1, 2, 3], atol=1e-9)


@pytest.mark.parametrize("broken, message", [
    (ARM.replace("Frames: 2", "Frames: 3"), r"line \d+: the file says 3 frames but holds 2; it is truncated"),
    (ARM.replace("5 6 7 0 0 0 0 0 0 30 0 0 90 0 0", "5 6 7 0 0 0 0 0 0 30 0 0 90 0"),
     r"line 25: 14 values, but the hierarchy declares 15 channels"),
    (ARM.replace("5 6 7 0", "5 six 7 0"), r"line 25: 'six' is not a number"),
    (ARM.replace("CHANNELS 3 Xrotation", "CHANNELS 4 Xrotation"), r"line 9: CHANNELS says 4 but lists 3"),
    (ARM.split("MOTION")[0], r"no MOTION section"),
    ("hello\n", r"line 1: a BVH file starts with HIERARCHY"),
])
def test_bad_files_name_the_file_and_line(tmp_path, broken, message):
    path = write(tmp_path, broken)
    with pytest.raises(bvh.BvhError, match=message) as err:
        bvh.read_bvh(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------
# Rigs and units
# ---------------------------------------------------------------------------
def test_cmu_rig_places_the_pelvis_between_the_hips_not_at_the_root(tmp_path):
    clip = bvh.read_bvh(write_cmu_clip(tmp_path / "walk.bvh"))
    assert mocap.detect_rig(clip.skeleton).name == "cmu"
    world, _ = bvh.forward_kinematics(clip)
    pose = mocap.clip_to_mpiinf(clip)
    names = clip.skeleton.names
    hips = 0.5 * (world[:, names.index("LeftUpLeg")] + world[:, names.index("RightUpLeg")])
    np.testing.assert_allclose(pose[:, sk.J["pelvis"]], hips)
    assert np.linalg.norm(pose[:, sk.J["pelvis"]] - world[:, names.index("Hips")], axis=-1).min() > 5.0
    np.testing.assert_allclose(pose[:, sk.J["left_knee"]], world[:, names.index("LeftLeg")])
    np.testing.assert_allclose(pose[:, sk.J["head_top"]], world[:, names.index("Head_end")])
    # Limb lengths are the rig's: constant over the clip.
    limbs = [sk.MPIINF_EDGES.index((sk.J[a], sk.J[b])) for a, b in sk.LIMBS]
    lengths = sk.bone_lengths(pose)[:, limbs]
    np.testing.assert_allclose(lengths[:, sk.LIMBS.index(("left_hip", "left_knee"))], 42.9, atol=1e-6)
    assert np.ptp(lengths, axis=0).max() < 1e-6


@pytest.mark.parametrize("scale, unit", [(1.0, "cm"), (0.01, "m"), (10.0, "mm"), (1 / 2.54, "inch")])
def test_units_are_inferred_from_the_body(tmp_path, scale, unit):
    path = write_cmu_clip(tmp_path / "clip.bvh", scale=scale)
    joints, _ = mocap.load_clip_joints(path)
    assert mocap.infer_unit(mocap.clip_to_mpiinf(bvh.read_bvh(path))) == unit
    reference, _ = mocap.load_clip_joints(write_cmu_clip(tmp_path / "cm.bvh"))
    np.testing.assert_allclose(joints, reference, atol=1e-3)


def test_a_namespace_prefix_is_ignored_and_the_unit_can_be_forced(tmp_path):
    path = write_bvh(tmp_path / "ns.bvh", CMU_RIG, random_motion(CMU_RIG, 3), prefix="take1:")
    joints, clip = mocap.load_clip_joints(path, units="m")
    assert mocap.detect_rig(clip.skeleton).name == "cmu"
    assert bodies.standing_height(joints) > 10_000  # centimetres read as metres: a 150 m giant, as asked


def test_an_unknown_rig_is_refused_naming_the_missing_joints(tmp_path):
    path = write(tmp_path, ARM)
    with pytest.raises(bvh.BvhError, match=r"unknown rig.*Closest is '\w+', which needs .*Head"):
        mocap.clip_to_mpiinf(bvh.read_bvh(path))


@needs_shared
@pytest.mark.parametrize("name, rig", [("cmu/walking_1_test.bvh", "cmu"), ("cmu_cc/002_01.bvh", "character_creator")])
def test_the_shared_rigs_map_to_plausible_bodies(name, rig):
    joints, clip = mocap.load_clip_joints(SHARED_MOCAP / name)
    assert mocap.detect_rig(clip.skeleton).name == rig
    assert mocap.infer_unit(mocap.clip_to_mpiinf(clip)) == "cm"
    assert 1400 < bodies.standing_height(joints) < 1900
    # Upright on the floor: the head above the pelvis above the ankles, the feet near y = 0.
    y = np.median(joints[..., 1], axis=0)
    assert y[sk.J["head"]] > y[sk.J["pelvis"]] + 400 > y[sk.J["left_ankle"]] + 800
    assert 0 <= np.percentile(joints[:, [sk.J["left_ankle"], sk.J["right_ankle"]], 1], 5) < 150
    # The person's left is on their left: with the chest facing +z', left is at +x' (rest facing +Z).
    pelvis, neck = joints[:, sk.J["pelvis"]], joints[:, sk.J["neck"]]
    across = joints[:, sk.J["left_hip"]] - joints[:, sk.J["right_hip"]]
    forward = np.cross(across, neck - pelvis)  # left x up = forward for a right-handed y-up frame
    toes = joints[:, sk.J["left_toe"]] - joints[:, sk.J["left_ankle"]]
    assert np.median(np.sum(forward * toes, axis=-1)) > 0, "the feet point forward"


# ---------------------------------------------------------------------------
# Importing clips into the data contract
# ---------------------------------------------------------------------------
def clip_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name, seed in (("walk_1_train.bvh", 1), ("walk_2_train.bvh", 2), ("walk_1_test.bvh", 3)):
        write_cmu_clip(folder / name, frames=120, seed=seed)
    (folder / "index.csv").write_text("file,subject\nwalk_1_train.bvh,7\nwalk_2_train.bvh,7\nwalk_1_test.bvh,9\n")
    return folder


def test_import_films_clips_with_holdout_subjects_and_projection(tmp_path):
    import camera

    arrays = mocap.import_clips([str(clip_folder(tmp_path))], fps=10, views=3, say=lambda *_: None)
    assert len(arrays["pose2d"]) == 3 * 10 * 3  # 3 clips x (120 frames at 120 fps: 1 s, 10 frames at 10 fps) x 3 views
    np.testing.assert_allclose(arrays["pose2d"], camera.project(arrays["pose3d"].astype(np.float64),
                                                                arrays["intrinsics"].astype(np.float64)), atol=0.05)
    assert (arrays["pose3d"][..., 2] > 1000).all(), "everyone stands in front of the cameras"
    test_clip = list(arrays["clip_names"]).index("clips/walk_1_test.bvh")
    np.testing.assert_array_equal(arrays["holdout"] == 1, arrays["sequence"] == test_clip)
    assert list(arrays["subject_names"]) == ["clips/subject 7", "clips/subject 9"]
    # Validation clips keep the performer's body in every view; training views vary the body.
    lengths = sk.bone_lengths(arrays["pose3d"])[:, [sk.MPIINF_EDGES.index((sk.J[a], sk.J[b])) for a, b in sk.LIMBS]]
    held, train = arrays["holdout"] == 1, (arrays["holdout"] == 0) & (arrays["camera"] > 0)
    assert np.ptp(lengths[held], axis=0).max() < 0.5
    assert np.ptp(lengths[train], axis=0).max() > 50


def test_command_writes_the_contract_and_refuses_a_broken_clip_writing_nothing(tmp_path):
    folder = clip_folder(tmp_path)
    out = tmp_path / "real.npz"
    done = subprocess.run([sys.executable, str(REPO / "mocap.py"), str(folder), "--out", str(out), "--views", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with np.load(out) as npz:
        assert npz["pose3d"].shape == (3 * 10 * 2, 28, 3)
    (folder / "broken.bvh").write_text(ARM.replace("Frames: 2", "Frames: 9"))
    again = tmp_path / "again.npz"
    done = subprocess.run([sys.executable, str(REPO / "mocap.py"), str(folder), "--out", str(again)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert "broken.bvh" in done.stderr and "truncated" in done.stderr
    assert not again.exists() and list(tmp_path.glob("*.tmp")) == []


def test_train_and_eval_mix_motion_capture_with_synthetic_poses(tmp_path):
    """train.py --mocap beside --synthetic holds out the clips' own validation poses; eval.py reports per source."""
    import json

    import eval as evaluate
    import train

    folder = str(clip_folder(tmp_path))
    out = tmp_path / "run"
    assert train.main(["--synthetic", "600", "--mocap", folder, "--mocap-views", "2", "--epochs", "1", "--dim", "16",
                       "--depth", "1", "--device", "cpu", "--out", str(out)]) == 0
    report = tmp_path / "report.json"
    assert evaluate.main(["--synthetic", "600", "--mocap", folder, "--mocap-views", "2", "--device", "cpu",
                          "--weights", str(out / "best_model_weights.pth"), "--json", str(report)]) == 0
    results = json.loads(report.read_text())
    assert "motion capture" in results["split_description"] and "holdout = 1" in results["split_description"]
    sources = {row["source"].split(" ")[0]: row for row in results["sources"]}
    assert set(sources) == {"synthetic", "motion"}
    # eval.py films the clips as videos at the temporal model's 25 fps: the 1 s test clip is 25 frames x 2 views.
    assert sources["motion"]["num_poses"] == 25 * 2
    assert 0 < results["joint_sets"]["test14"]["limb_angle"] < 180


# ---------------------------------------------------------------------------
# Issue 23: silent wrong joints and dropped data
# ---------------------------------------------------------------------------
def test_a_repeated_joint_name_is_refused_naming_both_lines(tmp_path):
    path = write_cmu_clip(tmp_path / "twice.bvh", frames=3)
    path.write_text(path.read_text().replace("JOINT LHipJoint", "JOINT LeftUpLeg"))  # LeftUpLeg twice, nested
    with pytest.raises(bvh.BvhError, match=r"twice.bvh, line \d+: the joint name 'LeftUpLeg' is used twice "
                                           r"\(first at line \d+\)"):
        bvh.read_bvh(path)


def test_more_motion_rows_than_frames_says_is_refused(tmp_path):
    path = write_cmu_clip(tmp_path / "long.bvh", frames=151)
    text = path.read_text().replace("Frames: 151", "Frames: 5")
    path.write_text(text)
    with pytest.raises(bvh.BvhError, match=r"says 5 frames but holds 151 rows.*correct the 'Frames:' line"):
        bvh.read_bvh(path)


def _motion_for(rig: list, like: list, motion: np.ndarray) -> np.ndarray:
    """motion of the rig `like` (its channels in depth-first order) laid out for `rig`: zeros for joints it lacks."""
    def order(r: list) -> list[str]:
        children = {name: [c for c, p, _ in r if p == name] for name, _, _ in r}
        out = []

        def visit(name: str) -> None:
            if not name.endswith("_end"):
                out.append(name)
            for child in children[name]:
                visit(child)
        visit(r[0][0])
        return out
    source = {name: motion[:, 3 + 3 * k: 6 + 3 * k] for k, name in enumerate(order(like))}
    columns = [motion[:, :3]] + [source.get(name, np.zeros((len(motion), 3))) for name in order(rig)]
    return np.hstack(columns)


def test_extra_joints_anywhere_are_ignored_and_a_head_chain_replaces_its_end_site(tmp_path):
    chain = [(f"Hair{k}", "Head" if k == 0 else f"Hair{k - 1}", (0, 2.0, 0)) for k in range(10)]
    rig = [row for row in CMU_RIG if row[0] != "Head_end"] + chain + [("Hair9_end", "Hair9", (0, 1.0, 0))]
    rig += [("LeftEye", "Head", (3, 2, 8)), ("LeftEye_end", "LeftEye", (0, 0, 1))]
    motion = random_motion(CMU_RIG, 4)
    joints, clip = mocap.load_clip_joints(write_bvh(tmp_path / "hair.bvh", rig, _motion_for(rig, CMU_RIG, motion)))
    assert mocap.detect_rig(clip.skeleton).name == "cmu"
    reference, _ = mocap.load_clip_joints(write_bvh(tmp_path / "plain.bvh", CMU_RIG, motion))
    keep = [j for j in range(sk.NUM_JOINTS) if j != sk.J["head_top"]]
    np.testing.assert_allclose(joints[:, keep], reference[:, keep], atol=1e-3)
    top = joints[:, sk.J["head_top"]]  # placed by the rule: beyond the head, away from the neck
    assert np.all(np.linalg.norm(top - joints[:, sk.J["head"]], axis=-1) > 20)


def test_a_needed_end_site_replaced_by_a_chain_is_named(tmp_path):
    rig = [row for row in CMU_RIG if row[0] != "LeftToeBase_end"] + [("LeftToe2", "LeftToeBase", (0, 0, 3)),
                                                                       ("LeftToe2_end", "LeftToe2", (0, 0, 2))]
    motion = np.hstack([random_motion(CMU_RIG, 3), np.zeros((3, 3))])
    with pytest.raises(bvh.BvhError, match=r"needs the End Site of LeftToeBase \(for left_toe\).*has children"):
        mocap.load_clip_joints(write_bvh(tmp_path / "toes.bvh", rig, motion))


def test_a_binary_file_named_bvh_is_named_not_printed(tmp_path):
    path = tmp_path / "photo.bvh"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 50)
    with pytest.raises(bvh.BvhError, match=r"photo.bvh: not a text file") as err:
        bvh.read_bvh(path)
    assert "\\x" not in str(err.value) and "JFIF" not in str(err.value)


def test_the_acclaim_unit_of_the_cgspeed_release_is_inferred(tmp_path):
    acclaim = write_cmu_clip(tmp_path / "cgspeed.bvh", scale=10.0 / mocap.UNIT_TO_MM["acclaim"])
    assert mocap.infer_unit(mocap.clip_to_mpiinf(bvh.read_bvh(acclaim))) == "acclaim"
    joints, _ = mocap.load_clip_joints(acclaim)
    reference, _ = mocap.load_clip_joints(write_cmu_clip(tmp_path / "cm.bvh"))
    np.testing.assert_allclose(joints, reference, atol=1e-2)
    tiny = write_cmu_clip(tmp_path / "tiny.bvh", scale=0.001)
    with pytest.raises(bvh.BvhError, match=r"no human height in any unit this reads \(mm .*acclaim .*\)\. If the body "
                                           r"is a person, pass the unit with --units \(nearest: --units \w+\)"):
        mocap.load_clip_joints(tiny)


@needs_shared
def test_the_shared_cgspeed_clips_are_read_in_acclaim_units():
    joints, clip = mocap.load_clip_joints(SHARED_MOCAP / "cmu_sitting" / "75_18.bvh")
    assert mocap.infer_unit(mocap.clip_to_mpiinf(clip)) == "acclaim"
    assert 1400 < bodies.standing_height(joints) < 1700
    assert joints[:, sk.J["pelvis"], 1].min() < 600  # sitting on a chair: the pelvis near seat height


def test_a_rate_above_the_clips_says_the_clips_own_rate_is_used(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    write_cmu_clip(folder / "walk.bvh", frames=12)
    said = []
    arrays = mocap.import_clips([str(folder)], fps=1000, views=1, say=said.append)
    assert len(arrays["pose2d"]) == 12  # every frame, not 1000 a second
    assert any("run slower than --fps 1000, so all their frames are kept, at their own rate: walk.bvh (120 fps)" in s
               for s in said), said
