"""ASF/AMC: the parser on files the tests write, forward kinematics by hand, the BVH round trip, bad input."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import asf_amc
import bvh
import mocap
import skeleton_utils as sk

HDM05 = Path(__file__).resolve().parents[2] / "shared" / "mocap" / "hdm05"


def asf_text(bones: str, hierarchy: str, angle: str = "deg", root_order: str = "TX TY TZ RX RY RZ") -> str:
    return f"""# a test skeleton
:version 1.10
:name test
:units
  mass 1.0
  length 1.0
  angle {angle}
:documentation
   written by the tests
:root
   order {root_order}
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
{bones}
:hierarchy
  begin
{hierarchy}
  end
"""


def bone(name: str, direction: str, length: float, axis: str = "0 0 0", dof: str | None = None) -> str:
    return (f"  begin\n     id 1\n     name {name}\n     direction {direction}\n     length {length}\n"
            f"     axis {axis}  XYZ\n" + (f"    dof {dof}\n" if dof else "") + "  end")


def amc_text(frames: list[dict[str, str]], header: str = ":FULLY-SPECIFIED\n:DEGREES\n") -> str:
    lines = [header.rstrip("\n")]
    for number, frame in enumerate(frames, start=1):
        lines.append(str(number))
        lines += [f"{name} {values}" for name, values in frame.items()]
    return "\n".join(lines) + "\n"


def write(folder: Path, name: str, text: str, newline: str = "\n", prefix: bytes = b"") -> Path:
    path = folder / name
    path.write_bytes(prefix + text.replace("\n", newline).encode("latin-1"))
    return path


def joints(clip: bvh.Clip) -> dict[str, np.ndarray]:
    """Every joint's world position in frame 0, by name."""
    world, _ = bvh.forward_kinematics(clip)
    return dict(zip(clip.skeleton.names, world[0]))


LEG = asf_text("\n".join([bone("thigh", "0 -1 0", 10, dof="rx"), bone("shin", "0 -1 0", 8, dof="rx"),
                          bone("arm", "1 0 0", 5)]),
               "    root thigh arm\n    thigh shin")


def test_a_90_degree_knee_and_a_rotated_moved_root(tmp_path):
    skeleton = asf_amc.read_asf(write(tmp_path, "leg.asf", LEG))
    bent = write(tmp_path, "bent.amc", amc_text([{"root": "0 20 0 0 0 0", "thigh": "0", "shin": "90"}]))
    at = joints(asf_amc.read_amc(bent, skeleton))
    np.testing.assert_allclose(at["shin"], [0, 10, 0], atol=1e-9)  # the knee
    np.testing.assert_allclose(at["shin_end"], [0, 10, -8], atol=1e-9)  # Rx(90) turns down (-y) into -z
    turned = write(tmp_path, "turned.amc", amc_text([{"root": "1 2 3 0 90 0", "thigh": "0", "shin": "0"}]))
    at = joints(asf_amc.read_amc(turned, skeleton))
    np.testing.assert_allclose(at["root"], [1, 2, 3], atol=1e-9)
    np.testing.assert_allclose(at["arm_end"], [1, 2, 3 - 5], atol=1e-9)  # Ry(90) turns +x into -z
    np.testing.assert_allclose(at["shin_end"], [1, 2 - 18, 3], atol=1e-9)


def test_a_bone_axis_turns_its_dof_and_dof_compose_in_the_order_listed(tmp_path):
    bones = "\n".join([bone("tilted", "0 0 1", 4, axis="0 0 90", dof="rx"),  # C = Rz(90): its x is the world's y
                       bone("ordered", "1 0 0", 3, dof="rz rx")])
    skeleton = asf_amc.read_asf(write(tmp_path, "s.asf", asf_text(bones, "    root tilted ordered")))
    clip = asf_amc.read_amc(write(tmp_path, "m.amc", amc_text([{"root": "0 0 0 0 0 0", "tilted": "90",
                                                                  "ordered": "90 90"}])), skeleton)
    at = joints(clip)
    np.testing.assert_allclose(at["tilted_end"], [4, 0, 0], atol=1e-9)  # about the world's y: +z -> +x
    # rz first, then rx: +x -> +y -> +z (the other order would leave +y)
    np.testing.assert_allclose(at["ordered_end"], [0, 0, 3], atol=1e-9)


def test_radians_translations_latin1_comments_and_crlf(tmp_path):
    bones = "\n".join([bone("thigh", "0 -1 0", 10, dof="rx l"), bone("shin", "0 -1 0", 8, dof="rx")])
    skeleton = asf_amc.read_asf(write(tmp_path, "s.asf", asf_text(bones, "    root thigh\n    thigh shin", angle="rad",
                                                                   root_order="TX TY TZ RZ RY RX"), newline="\r\n"))
    assert skeleton.root_order == ["tx", "ty", "tz", "rz", "ry", "rx"] and not skeleton.degrees
    motion = amc_text([{"root": "0 0 0 0 0 0", "thigh": "0 2 # a comment", "shin": f"{math.pi / 2}"}],
                      header=":FULLY-SPECIFIED\n")
    amc = write(tmp_path, "m.amc", motion, newline="\r\n", prefix="# Universit\u00e4t Bonn\r\n".encode("latin-1"))
    at = joints(asf_amc.read_amc(amc, skeleton))
    np.testing.assert_allclose(at["shin"], [0, -12, 0], atol=1e-9)  # l stretches the thigh by 2
    np.testing.assert_allclose(at["shin_end"], [0, -12, -8], atol=1e-9)


def test_bones_without_dof_have_no_line_and_every_frame_is_read(tmp_path):
    skeleton = asf_amc.read_asf(write(tmp_path, "leg.asf", LEG))
    frames = [{"root": f"0 {20 + k} 0 0 0 0", "thigh": f"{10 * k}", "shin": "0"} for k in range(5)]
    clip = asf_amc.read_amc(write(tmp_path, "m.amc", amc_text(frames)), skeleton, fps=60)
    world, _ = bvh.forward_kinematics(clip)
    assert world.shape[0] == 5 and clip.fps == pytest.approx(60)
    np.testing.assert_allclose(world[:, clip.skeleton.names.index("root"), 1], [20, 21, 22, 23, 24])


# ---------------------------------------------------------------------------
# A whole Acclaim skeleton (the CMU bone names), into the 28 joints and through BVH
# ---------------------------------------------------------------------------
def cmu_like_skeleton() -> str:
    spec = [("lowerback", "root", "0 1 0", 2), ("upperback", "lowerback", "0 1 0", 2), ("thorax", "upperback", "0 1 0", 2),
            ("lowerneck", "thorax", "0 1 0", 1), ("upperneck", "lowerneck", "0 1 0", 1), ("head", "upperneck", "0 1 0", 1.5)]
    for s, x in (("l", 1), ("r", -1)):
        spec += [(f"{s}hipjoint", "root", f"{x} -1 0", 1.5), (f"{s}femur", f"{s}hipjoint", "0 -1 0", 7.3),
                 (f"{s}tibia", f"{s}femur", "0 -1 0", 7.0), (f"{s}foot", f"{s}tibia", "0 -0.3 1", 2.3),
                 (f"{s}toes", f"{s}foot", "0 0 1", 1.1), (f"{s}clavicle", "thorax", f"{x} 0.2 0", 3),
                 (f"{s}humerus", f"{s}clavicle", f"{x} 0 0", 5), (f"{s}radius", f"{s}humerus", f"{x} 0 0", 4.5),
                 (f"{s}wrist", f"{s}radius", f"{x} 0 0", 1), (f"{s}hand", f"{s}wrist", f"{x} 0 0", 1),
                 (f"{s}fingers", f"{s}hand", f"{x} 0 0", 0.8)]
    bones = "\n".join(bone(name, direction, length, axis="0 0 20" if "femur" in name else "0 0 0", dof="rx ry rz")
                      for name, _, direction, length in spec)
    children: dict[str, list[str]] = {}
    for name, parent, _, _ in spec:
        children.setdefault(parent, []).append(name)
    hierarchy = "\n".join(f"    {parent} {' '.join(kids)}" for parent, kids in children.items())
    return asf_text(bones, hierarchy), [name for name, *_ in spec]


def cmu_like_clip(folder: Path, frames: int = 6) -> Path:
    text, names = cmu_like_skeleton()
    write(folder, "CMU_01.asf", text)
    rng = np.random.default_rng(0)
    motion = [{"root": f"{k} 17 {-k} {rng.uniform(-20, 20):.4f} {rng.uniform(-180, 180):.4f} {rng.uniform(-20, 20):.4f}",
               **{n: " ".join(f"{v:.4f}" for v in rng.uniform(-25, 25, 3)) for n in names}} for k in range(frames)]
    return write(folder, "CMU_01_walk.amc", amc_text(motion))


def test_the_acclaim_rig_places_the_28_joints_in_acclaim_units(tmp_path):
    pose, clip = mocap.load_clip_joints(cmu_like_clip(tmp_path))
    assert mocap.detect_rig(clip.skeleton).name == "acclaim"
    assert mocap.infer_unit(mocap.clip_to_mpiinf(clip)) == "acclaim"
    raw = mocap.clip_to_mpiinf(clip)
    world = dict(zip(clip.skeleton.names, bvh.forward_kinematics(clip)[0][0]))
    np.testing.assert_allclose(raw[0, sk.J["left_knee"]], world["ltibia"])
    np.testing.assert_allclose(raw[0, sk.J["pelvis"]], 0.5 * (world["lfemur"] + world["rfemur"]))
    np.testing.assert_allclose(raw[0, sk.J["head_top"]], world["head_end"])
    assert 1.0 < np.ptp(pose[0, :, 1]) / 1000 < 2.2  # in mm now, a person's height


def test_asf_amc_written_as_bvh_reads_back_to_the_same_28_joints(tmp_path):
    clip = asf_amc.read_amc(cmu_like_clip(tmp_path), asf_amc.read_asf(tmp_path / "CMU_01.asf"))
    path = tmp_path / "converted.bvh"
    path.write_text(bvh.format_bvh(clip))
    back = bvh.read_bvh(path)
    np.testing.assert_allclose(mocap.clip_to_mpiinf(back), mocap.clip_to_mpiinf(clip), atol=1e-4)


def test_mocap_command_reads_amc_folders_with_the_performers_skeleton(tmp_path, capsys):
    cmu_like_clip(tmp_path)
    out = tmp_path / "real.npz"
    assert mocap.main([str(tmp_path), "--out", str(out), "--views", "2", "--fps", "60"]) == 0
    with np.load(out) as data:
        assert list(data["clip_names"]) == [f"{tmp_path.name}/CMU_01_walk.amc"]
        assert list(data["subject_names"]) == [f"{tmp_path.name}/CMU_01"]  # the skeleton file is the performer
        assert len(data["pose2d"]) == 2 * 3  # 6 frames at 120 fps, kept at 60 fps, 2 views


# ---------------------------------------------------------------------------
# Bad input: a clear error naming the file (and line), and nothing written
# ---------------------------------------------------------------------------
def _refused(tmp_path, capsys, args: list[str], *messages: str) -> None:
    out = tmp_path / "out.npz"
    assert mocap.main([*args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    for message in messages:
        assert message in err, err
    assert not out.exists()
    assert not [p for p in tmp_path.rglob(".*tmp*")]


def test_an_amc_without_its_asf(tmp_path, capsys):
    alone = tmp_path / "alone"
    alone.mkdir()
    amc = write(alone, "walk.amc", amc_text([{"root": "0 0 0 0 0 0"}]))
    _refused(tmp_path, capsys, [str(amc)], "walk.amc: no skeleton for this motion", "--asf FILE")


@pytest.mark.parametrize("frames, line, message", [
    ([{"root": "0 20 0 0 0 0", "thigh": "0", "shin": "0", "tail": "1"}], 7, "bone 'tail' of the motion is not in it"),
    ([{"root": "0 20 0 0 0 0", "thigh": "0 1", "shin": "0"}], 5, "thigh has 2 values, but the skeleton"),
    ([{"root": "0 20 0 0 0 0", "thigh": "zero", "shin": "0"}], 5, "'zero' is not a number"),
])
def test_bad_motion_lines_name_file_and_line(tmp_path, capsys, frames, line, message):
    write(tmp_path, "leg.asf", LEG)
    amc = write(tmp_path, "leg_walk.amc", amc_text(frames))
    _refused(tmp_path, capsys, [str(amc), "--units", "cm"], f"leg_walk.amc, line {line}:", message)


def test_frames_out_of_order(tmp_path, capsys):
    write(tmp_path, "leg.asf", LEG)
    text = amc_text([{"root": "0 20 0 0 0 0", "thigh": "0", "shin": "0"}] * 3).replace("\n3\n", "\n5\n")
    amc = write(tmp_path, "leg_walk.amc", text)
    _refused(tmp_path, capsys, [str(amc), "--units", "cm"], "leg_walk.amc, line 11: frame 5 follows frame 2")


def test_a_skeleton_without_hierarchy(tmp_path, capsys):
    write(tmp_path, "leg.asf", LEG.split(":hierarchy")[0])
    amc = write(tmp_path, "leg_walk.amc", amc_text([{"root": "0 20 0 0 0 0", "thigh": "0", "shin": "0"}]))
    _refused(tmp_path, capsys, [str(amc)], "leg.asf: no :hierarchy section")


def test_a_binary_file_is_named_not_printed(tmp_path, capsys):
    write(tmp_path, "leg.asf", LEG)
    amc = tmp_path / "leg_walk.amc"
    amc.write_bytes(b"\x00\x01\x02\xff" * 100)
    _refused(tmp_path, capsys, [str(amc)], "leg_walk.amc: not a text file")


# ---------------------------------------------------------------------------
# Real files
# ---------------------------------------------------------------------------
@pytest.mark.skipif(not HDM05.is_dir(), reason="../shared/mocap/hdm05 is absent (real HDM05 clips)")
def test_a_real_hdm05_clip():
    clip_path = sorted(HDM05.glob("HDM_bd_squat1Reps_*.amc"))[0]
    pose, clip = mocap.load_clip_joints(clip_path)
    assert clip.fps == pytest.approx(120) and mocap.infer_unit(mocap.clip_to_mpiinf(clip)) == "acclaim"
    assert 1.3 < pose[0, sk.J["head_top"], 1] / 1000 < 2.0  # standing at the start, on the floor, in mm
    knee = np.degrees(np.arccos(np.clip(np.sum(
        (pose[:, sk.J["left_hip"]] - pose[:, sk.J["left_knee"]]) * (pose[:, sk.J["left_ankle"]] - pose[:, sk.J["left_knee"]]),
        -1) / np.linalg.norm(pose[:, sk.J["left_hip"]] - pose[:, sk.J["left_knee"]], axis=-1)
        / np.linalg.norm(pose[:, sk.J["left_ankle"]] - pose[:, sk.J["left_knee"]], axis=-1), -1, 1)))
    assert knee.max() > 135 and knee.min() < 60  # a squat: near straight legs, then the knees bent past 120 degrees
    assert mocap.subject_label(clip_path) == "hdm05/HDM_bd"
    assert mocap.is_validation_clip(HDM05 / "HDM_tr_squat1Reps_001_120.amc", mocap.DEFAULT_VALIDATION)
    assert not mocap.is_validation_clip(clip_path, mocap.DEFAULT_VALIDATION)


def test_the_vectorised_reader_and_the_careful_one_agree(tmp_path):
    amc = cmu_like_clip(tmp_path, frames=12)
    skeleton = asf_amc.read_asf(tmp_path / "CMU_01.asf")
    text = amc.read_text()
    fast, degrees = asf_amc._regular_motion_values(text, skeleton)
    careful, careful_degrees = asf_amc._motion_values(asf_amc._lines(text), skeleton, str(amc))
    assert degrees == careful_degrees and fast.keys() == careful.keys()
    for name in careful:
        np.testing.assert_array_equal(fast[name], careful[name])
    lines = text.splitlines()
    lines[next(i for i, line in enumerate(lines) if line.startswith("lfemur "))] = "lfemur x1 0 0"
    broken = "\n".join(lines)
    assert asf_amc._regular_motion_values(broken, skeleton) is None  # left to the careful reader, which names it
    with pytest.raises(asf_amc.AsfAmcError, match="'x1' is not a number"):
        asf_amc._motion_values(asf_amc._lines(broken), skeleton, str(amc))
    commented = text.replace("\n3\n", "\n3 # the third frame\n")
    assert asf_amc._regular_motion_values(commented, skeleton) is None  # comments in the motion: the careful path
    np.testing.assert_array_equal(asf_amc.read_amc(write(tmp_path, "c.amc", commented), skeleton).values,
                                  asf_amc.read_amc(amc, skeleton).values)
