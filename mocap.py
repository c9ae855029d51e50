"""Motion capture as a pose source: real clips (BVH, ASF/AMC) -> the 28-joint MPI-INF-3DHP data contract.

    python mocap.py ../shared/mocap/cmu ../shared/mocap/cmu_cc --out real.npz --fps 10 --views 4

bvh.py (and asf_amc.py) read the files; here one name table per rig places the 28 joints where
MPI-INF-3DHP defines them (the pelvis midway between the hip joints, whatever the rig calls its
root), the length unit is inferred from the body, and the command films the clips with the virtual
studio cameras of camera.py, exactly as synthetic.py films its poses, writing the data contract of
data_loader.py, ready for `train.py --mocap` and `eval.py --mocap`.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

import camera
import skeleton_utils as sk
from atomic import output_problem, write_npz
from bodies import FEET, floor_height, random_bodies, standing_height
from recombine import recombined_poses
import asf_amc
from bvh import END_SITE_SUFFIX, BvhError, Clip, Skeleton, forward_kinematics, read_bvh
from sequences import INTERNAL_FPS, resample

# ---------------------------------------------------------------------------
# Rigs: which BVH joints give the 28 MPI-INF-3DHP joints
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rig:
    """How one naming convention gives the 28 joints.

    joints: MPI-INF-3DHP joint -> the rig joints whose mean is that joint (end sites as NAME_end).
    spine: the rig's trunk joints between the pelvis and the neck, bottom up; the four 3DHP spine
    joints are placed along them (the spine is bent, unlike the straight line a detector gives).
    Joints in neither (pelvis, neck, spine, clavicles, and head top where a rig has none) are placed by
    place_missing_joints(): where MPI-INF-3DHP defines them, in one place for every rig.
    """

    name: str
    joints: dict[str, tuple[str, ...]]
    spine: tuple[str, ...]


def _sided(template: dict[str, tuple[str, ...]], left: str, right: str) -> dict[str, tuple[str, ...]]:
    """Expand {"shoulder": ("{S}Arm",)} to left_/right_ entries with the rig's side words."""
    out = {}
    for joint, names in template.items():
        out[f"left_{joint}"] = tuple(n.format(S=left) for n in names)
        out[f"right_{joint}"] = tuple(n.format(S=right) for n in names)
    return out


RIGS = (
    # CMU's BVH conversion (../shared/mocap/cmu). Its root Hips sits ~10 cm above and 3.5 cm
    # behind the hip joints, so it is not used: the pelvis is the midpoint of LeftUpLeg/RightUpLeg.
    Rig("cmu", {
        "head": ("Head",), "head_top": ("Head_end",),
        **_sided({"shoulder": ("{S}Arm",), "elbow": ("{S}ForeArm",), "wrist": ("{S}Hand",),
                  "hand": ("{S}HandIndex1",), "hip": ("{S}UpLeg",), "knee": ("{S}Leg",), "ankle": ("{S}Foot",),
                  "foot": ("{S}ToeBase",), "toe": ("{S}ToeBase_end",)}, "Left", "Right"),
    }, spine=("Spine", "Spine1")),
    # Mixamo (names after the "mixamorig:" prefix). Its Head joint is the skull's base: the head
    # centre lies about halfway to the HeadTop_End.
    Rig("mixamo", {
        "head": ("Head", "HeadTop_End"), "head_top": ("HeadTop_End",),
        **_sided({"shoulder": ("{S}Arm",), "elbow": ("{S}ForeArm",), "wrist": ("{S}Hand",),
                  "hand": ("{S}HandIndex1", "{S}HandPinky1"), "hip": ("{S}UpLeg",), "knee": ("{S}Leg",),
                  "ankle": ("{S}Foot",), "foot": ("{S}ToeBase",), "toe": ("{S}Toe_End",)}, "Left", "Right"),
    }, spine=("Spine", "Spine1", "Spine2")),
    # Reallusion Character Creator (../shared/mocap/cmu_cc). CC_Base_Head is the skull's base; the
    # head centre (ear level) is halfway from it to the eyes. The hand is the middle of the index
    # and pinky knuckles, as MediaPipe's hand point. It has no head-top joint.
    Rig("character_creator", {
        "head": ("CC_Base_Head", "CC_Base_Head", "CC_Base_L_Eye", "CC_Base_R_Eye"),
        **_sided({"shoulder": ("CC_Base_{S}_Upperarm",), "elbow": ("CC_Base_{S}_Forearm",),
                  "wrist": ("CC_Base_{S}_Hand",), "hand": ("CC_Base_{S}_Index1", "CC_Base_{S}_Pinky1"),
                  "hip": ("CC_Base_{S}_Thigh",), "knee": ("CC_Base_{S}_Calf",), "ankle": ("CC_Base_{S}_Foot",),
                  "foot": ("CC_Base_{S}_ToeBase",), "toe": ("CC_Base_{S}_MidToe1",)}, "L", "R"),
    }, spine=("CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02")),
    # Acclaim ASF/AMC (CMU's own files, HDM05), as asf_amc.py reads them: a joint at the start of each
    # bone, so "lfemur" is the hip, "ltibia" the knee, "lfingers" the knuckles; END_SITE_SUFFIX marks a
    # leaf bone's end (the toe tip, the top of the head).
    Rig("acclaim", {
        "head": ("head",), "head_top": (f"head{END_SITE_SUFFIX}",),
        **_sided({"shoulder": ("{S}humerus",), "elbow": ("{S}radius",), "wrist": ("{S}wrist",),
                  "hand": ("{S}fingers",), "hip": ("{S}femur",), "knee": ("{S}tibia",), "ankle": ("{S}foot",),
                  "foot": ("{S}toes",), "toe": (f"{{S}}toes{END_SITE_SUFFIX}",)}, "l", "r"),
    }, spine=("upperback", "thorax")),
    # What write_bvh writes (Mixamo's names without the prefix; the hands and toe tips are End Sites).
    # Pelvis, neck, spine joints and clavicles follow from the others by place_missing_joints()'s
    # rule, and the writer puts them exactly there (normalise_for_bvh).
    Rig("infer_bvh", {
        "head": ("Head",), "head_top": (f"Head{END_SITE_SUFFIX}",),
        **_sided({"shoulder": ("{S}Arm",), "elbow": ("{S}ForeArm",), "wrist": ("{S}Hand",),
                  "hand": (f"{{S}}Hand{END_SITE_SUFFIX}",), "hip": ("{S}UpLeg",), "knee": ("{S}Leg",),
                  "ankle": ("{S}Foot",), "foot": ("{S}ToeBase",), "toe": (f"{{S}}ToeBase{END_SITE_SUFFIX}",)},
                 "Left", "Right"),
    }, spine=("Spine", "Spine1", "Spine2", "Spine3")),
)


def _plain(name: str) -> str:
    """A joint name without a namespace prefix ("mixamorig:Hips" -> "Hips")."""
    return name.rsplit(":", 1)[-1]


def _rig_names(rig: Rig) -> set[str]:
    return {n for names in rig.joints.values() for n in names} | set(rig.spine)


def _rule_placed(rig: Rig, name: str) -> bool:
    """Whether the rig joint `name` gives a joint that place_missing_joints() can place by rule instead
    (the head top, from the head and neck)."""
    return rig.joints.get("head_top") == (name,)


def detect_rig(skeleton: Skeleton, path: str = "") -> Rig:
    """The rig whose joint names the skeleton has; BvhError naming the missing joints otherwise.

    Extra joints anywhere are ignored. A needed End Site that is missing because its joint has
    children of its own (a longer chain under the head) is placed by rule where one exists (the head
    top); otherwise the message names it and the joint it gives.
    """
    present = {_plain(n) for n in skeleton.names}
    missing = {rig.name: sorted(n for n in _rig_names(rig) - present if not _rule_placed(rig, n)) for rig in RIGS}
    for rig in RIGS:
        if not missing[rig.name]:
            return rig
    closest = min(RIGS, key=lambda rig: len(missing[rig.name]))
    lacking = missing[closest.name]
    end_sites = [n for n in lacking if n.endswith(END_SITE_SUFFIX) and n[:-len(END_SITE_SUFFIX)] in present]
    if end_sites and len(end_sites) == len(lacking):
        gives = {n: joint for joint, names in closest.joints.items() for n in names}
        raise BvhError(
            f"{path}: the '{closest.name}' rig needs the End Site of "
            + ", ".join(f"{n[:-len(END_SITE_SUFFIX)]} (for {gives.get(n, 'the spine')})" for n in end_sites)
            + ", the end of that bone; in this file the joint has children instead. Shorten the chain, or add a "
              "Rig to mocap.RIGS that names the joint at that point."
        )
    raise BvhError(
        f"{path}: unknown rig: no name table of mocap.RIGS ({', '.join(r.name for r in RIGS)}) fits its joints. "
        f"Closest is '{closest.name}', which needs {', '.join(lacking[:12])}"
        f"{', ...' if len(lacking) > 12 else ''}. Add a Rig for this naming to mocap.RIGS."
    )


def _along_chain(chain: np.ndarray, fractions: list[float]) -> np.ndarray:
    """Points at `fractions` of the arc length of (F, K, 3) polylines: (F, len(fractions), 3)."""
    seg = np.linalg.norm(np.diff(chain, axis=1), axis=-1)  # (F, K-1)
    cum = np.concatenate([np.zeros((len(chain), 1)), np.cumsum(seg, axis=1)], axis=1)
    out = np.empty((len(chain), len(fractions), 3))
    for k, f in enumerate(fractions):
        target = f * cum[:, -1:]
        i = np.clip((cum[:, 1:] < target).sum(1), 0, chain.shape[1] - 2)
        rows = np.arange(len(chain))
        t = (target[:, 0] - cum[rows, i]) / np.maximum(seg[rows, i], 1e-9)
        out[:, k] = chain[rows, i] + np.clip(t, 0, 1)[:, None] * (chain[rows, i + 1] - chain[rows, i])
    return out


def place_missing_joints(pose: np.ndarray, spine_chain: np.ndarray, has_head_top: bool) -> None:
    """Fill, in place, the joints of (F, 28, 3) that rigs do not carry, where MPI-INF-3DHP puts them.

    The pelvis is midway between the hips (as in the dataset, not at the rig's root) and the neck
    midway between the shoulders (rigs disagree by +-6 cm on where the neck's base is; the model's
    2D input defines it so too); the four spine joints lie along the rig's own spine at
    skeleton_utils.SPINE_FRACTIONS of the pelvis -> spine joints -> neck line's length;
    clavicles and, where missing, the head top follow skeleton_utils's synthesis constants.
    """
    J = sk.J
    pose[:, J["pelvis"]] = 0.5 * (pose[:, J["left_hip"]] + pose[:, J["right_hip"]])
    pose[:, J["neck"]] = 0.5 * (pose[:, J["left_shoulder"]] + pose[:, J["right_shoulder"]])
    chain = np.concatenate([pose[:, [J["pelvis"]]], spine_chain, pose[:, [J["neck"]]]], axis=1)
    names = list(sk.SPINE_FRACTIONS)
    pose[:, [J[n] for n in names]] = _along_chain(chain, [sk.SPINE_FRACTIONS[n] for n in names])
    for side in ("left", "right"):
        pose[:, J[f"{side}_clavicle"]] = ((1 - sk.CLAVICLE_FRACTION) * pose[:, J["neck"]]
                                          + sk.CLAVICLE_FRACTION * pose[:, J[f"{side}_shoulder"]])
    if not has_head_top:
        pose[:, J["head_top"]] = ((1 + sk.HEAD_TOP_EXTENSION) * pose[:, J["head"]]
                                  - sk.HEAD_TOP_EXTENSION * pose[:, J["neck"]])


def clip_to_mpiinf(clip: Clip, rig: Rig | None = None) -> np.ndarray:
    """(F, 28, 3) world joint positions in file units (y up) of a clip, via its rig's name table."""
    rig = rig or detect_rig(clip.skeleton, clip.path)
    plain = [_plain(n) for n in clip.skeleton.names]
    names = sorted(n for n in _rig_names(rig) if n in plain)
    world, _ = forward_kinematics(clip, [plain.index(n) for n in names])
    index = {n: i for i, n in enumerate(names)}
    pose = np.zeros((len(world), sk.NUM_JOINTS, 3))
    has_head_top = False
    for joint, sources in rig.joints.items():
        if all(n in index for n in sources):
            pose[:, sk.J[joint]] = world[:, [index[n] for n in sources]].mean(axis=1)
            has_head_top |= joint == "head_top"
    spine = world[:, [index[n] for n in rig.spine]]
    place_missing_joints(pose, spine, has_head_top)
    return pose


# ---------------------------------------------------------------------------
# Units, from the body
# ---------------------------------------------------------------------------
# "acclaim": the length unit of CMU's own ASF files (':units length 0.45': one unit is 1/0.45 inch),
# which the widely used CMU BVH conversion (cgspeed) keeps.
UNIT_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "inch": 25.4, "acclaim": 25.4 / 0.45}
# Standing heights that a person may have: 1.0-2.5 m (children to the tallest adults) keeps the
# units nearly apart (in cm 100-250, inches 39-98, Acclaim units 18-44, m 1.0-2.5, mm 1000-2500);
# where two fit (39-44 units), the one nearer an adult's TYPICAL_HEIGHT_M wins.
_HEIGHT_RANGE_M = (1.0, 2.5)
TYPICAL_HEIGHT_M = 1.7


def infer_unit(pose: np.ndarray, path: str = "") -> str:
    """The unit (mm, cm, m, inch, acclaim) in which the body has a human standing height."""
    height = standing_height(pose)
    metres = {unit: height * mm / 1000.0 for unit, mm in UNIT_TO_MM.items()}
    fits = [unit for unit, m in metres.items() if _HEIGHT_RANGE_M[0] <= m <= _HEIGHT_RANGE_M[1]]
    if fits:
        return min(fits, key=lambda unit: abs(metres[unit] - TYPICAL_HEIGHT_M))
    nearest = min(metres, key=lambda unit: abs(np.log(metres[unit] / TYPICAL_HEIGHT_M)))
    raise BvhError(
        f"{path}: cannot tell the file's length unit: the body is {height:.4g} units tall, which is no human "
        f"height in any unit this reads ("
        + ", ".join(f"{unit} {m:.3g} m" for unit, m in metres.items())
        + f"). If the body is a person, pass the unit with --units (nearest: --units {nearest})."
    )


def read_clip(path: str | os.PathLike, asf: str | os.PathLike | None = None,
              amc_fps: float = asf_amc.DEFAULT_FPS) -> Clip:
    """A BVH file, or an Acclaim .amc with its skeleton (asf, else asf_amc.find_skeleton) at amc_fps."""
    if Path(path).suffix.lower() == ".amc":
        return asf_amc.read_amc(path, asf_amc.read_asf(asf_amc.find_skeleton(path, asf)), amc_fps)
    return read_bvh(path)


def load_clip_joints(path: str | os.PathLike, units: str | None = None, asf: str | os.PathLike | None = None,
                     amc_fps: float = asf_amc.DEFAULT_FPS) -> tuple[np.ndarray, Clip]:
    """(F, 28, 3) world joints in mm, y up, floor at y = 0, and the parsed clip (BVH or ASF/AMC)."""
    clip = read_clip(path, asf, amc_fps)
    pose = clip_to_mpiinf(clip)
    return on_floor(pose * UNIT_TO_MM[units or infer_unit(pose, clip.path)]), clip


FLOOR_CLEARANCE_MM = 40.0  # the lowest foot joint sits about this far above the floor (ankle / toe centres)


def on_floor(pose: np.ndarray) -> np.ndarray:
    """Shift (F, 28, 3) world joints vertically so the clip's lowest feet stand on y = 0 (the 1st
    percentile over frames: a jump stays a jump, a glitch frame does not sink the floor)."""
    feet = pose[:, FEET, 1].min(axis=1)
    return pose - np.array([0.0, np.percentile(feet, 1) - FLOOR_CLEARANCE_MM, 0.0])


# ---------------------------------------------------------------------------
# Filming clips with the virtual studio: the data contract
# ---------------------------------------------------------------------------
DEFAULT_FPS = 10.0  # consecutive frames at 60-120 fps are near copies: keep this many per second
DEFAULT_VIEWS = 4
# The real-motion validation: the test clips of ../shared/mocap/cmu, subject 1 of cmu_cc and performer
# tr of HDM05 (matched against "folder/file"), never trained on.
DEFAULT_VALIDATION = ("*_test.bvh", "cmu_cc/001_*.bvh", "hdm05/HDM_tr_*.amc")
CLIP_SUFFIXES = (".bvh", ".amc")
INDEX_FILE = "index.csv"  # optional, beside the clips: columns file, subject (as in ../shared/mocap/cmu_cc)


def find_clips(paths: list[str]) -> list[Path]:
    """The .bvh and .amc files named or inside the folders named (recursively), sorted; an error if none."""
    clips = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            clips += sorted(p for p in path.rglob("*") if p.suffix.lower() in CLIP_SUFFIXES)
        elif path.is_file():
            clips.append(path)
        else:
            raise BvhError(f"{name}: no such file or folder.")
    if not clips:
        raise BvhError(f"no .bvh or .amc files in {', '.join(paths)}.")
    return clips


def subject_label(path: Path, asf: str | os.PathLike | None = None) -> str:
    """The clip's performer: from an index.csv beside it (file, subject columns), for an .amc its skeleton
    file (one per performer), else the clip itself."""
    index = path.parent / INDEX_FILE
    if index.is_file():
        with open(index, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("file") == path.name and row.get("subject"):
                    return f"{path.parent.name}/subject {row['subject']}"
    if path.suffix.lower() == ".amc":
        return f"{path.parent.name}/{asf_amc.find_skeleton(path, asf).stem}"
    return f"{path.parent.name}/{path.stem}"


def is_validation_clip(path: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(f"{path.parent.name}/{path.name}", p) or fnmatch(path.name, p) for p in patterns)


def film(world: np.ndarray, view: np.ndarray, views: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(N, 28, 3) world poses, each seen by its camera `view` (N,) of one ring of `views` studio cameras.

    Each pose is turned to a random heading and stood at a random stage point (a single-frame
    lifter needs no trajectory, and the studio keeps everyone in view); camera.py films it as it
    films synthetic.py's poses. Returns pose2d, pose3d and intrinsics of the data contract.
    """
    cameras = camera.studio_cameras(1, rng, per_subject=views)
    centred = world.copy()
    centred[..., [0, 2]] -= world[:, sk.ROOT:sk.ROOT + 1][..., [0, 2]]
    place = camera.stage_positions(len(world), rng)
    yaw = rng.uniform(-180.0, 180.0, len(world))
    pose3d = camera.world_to_camera(centred, yaw, place, cameras, np.zeros_like(view), view)
    intrinsics = cameras.intrinsics[0, view]
    return {"pose2d": camera.project(pose3d, intrinsics).astype(np.float32), "pose3d": pose3d.astype(np.float32),
            "intrinsics": intrinsics.astype(np.float32)}


RECOMBINED = "recombined"  # the clip and performer name of recombined poses
RECOMBINED_PER_RING = 1000  # recombined poses filmed by one ring of cameras, so they see many rings


def film_recombined(frames: np.ndarray, count: int, views: int, sequence: int, subject: int,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """`count` recombined poses of the (N, 28, 3) world frames, each on the floor on a body of its own,
    filmed by one random camera of a ring of `views`, with the data contract's metadata."""
    pose = recombined_poses(frames, count, rng)
    pose[..., 1] -= floor_height(pose)[:, None]
    pose = random_bodies(pose, rng)
    view = rng.integers(0, views, count)
    rings = [film(pose[i:i + RECOMBINED_PER_RING], view[i:i + RECOMBINED_PER_RING], views, rng)
             for i in range(0, count, RECOMBINED_PER_RING)]
    part = {key: np.concatenate([r[key] for r in rings]) for key in rings[0]}
    part.update(camera=view.astype(np.int32), frame=np.arange(count, dtype=np.int32),
                sequence=np.full(count, sequence, np.int32), subject=np.full(count, subject, np.int32),
                holdout=np.zeros(count, np.int8))
    return part


def import_clips(paths: list[str], fps: float = DEFAULT_FPS, views: int = DEFAULT_VIEWS, seed: int = 0,
                 units: str | None = None, validation: tuple[str, ...] = DEFAULT_VALIDATION, say=print,
                 asf: str | os.PathLike | None = None, amc_fps: float = asf_amc.DEFAULT_FPS,
                 sequences: bool = False, recombined: int = 0) -> dict[str, np.ndarray]:
    """Motion-capture clips (BVH or ASF/AMC files, or folders) -> the data contract, subsampled to at most
    `fps`, seen by `views` cameras.

    Per pose: subject (performer), sequence (clip), camera, frame (the clip's frame number) and
    holdout (1 for the validation clips). In training clips every view but the first shows the
    motion on a body of another size (random_bodies); validation clips keep the real bodies.
    The arrays clip_names and subject_names name the sequence and subject ids.
    With `sequences`, each clip is resampled to exactly `fps` (written as the contract's fps) and each view
    is a static camera filming the whole clip on one body (camera.film_motion), for the temporal model.
    With `recombined`, that many recombined real poses (recombine.py) made from the training clips' kept
    frames are added, each on a body of its own seen by one camera, as one more training "clip" and
    "performer" named recombined.
    """
    if fps <= 0 or views < 1 or amc_fps <= 0 or recombined < 0:
        raise ValueError(f"--fps and --amc-fps must be positive, --views at least 1 and --recombined not negative "
                         f"(got {fps}, {amc_fps}, {views} and {recombined})")
    if recombined and sequences:
        raise ValueError("--recombined makes single poses, not motion: it cannot be combined with --sequences")
    clips = find_clips(paths)
    labels = {path: subject_label(path, asf) for path in clips}  # each clip's performer, found once
    subjects = sorted(set(labels.values()))
    parts, slower, training_frames = [], [], []
    for number, path in enumerate(clips):
        rng = np.random.default_rng([seed, number])
        pose, clip = load_clip_joints(path, units, asf, amc_fps)
        held = is_validation_clip(path, validation)
        if sequences:
            pose = resample(pose, clip.fps, fps)
            frames = np.arange(len(pose))
            bodies = [pose] + [pose if held else random_bodies(pose, rng, one_body=True) for _ in range(views - 1)]
            part, keep = camera.film_motion(np.stack(bodies), rng)
        else:
            step = max(1, round(clip.fps / fps))
            if clip.fps < fps:
                slower.append(f"{path.name} ({clip.fps:.4g} fps)")
            frames = np.arange(0, len(pose), step)
            pose = pose[frames]
            if not held:
                training_frames.append(pose)
            bodies = [pose] + [pose if held else random_bodies(pose, rng) for _ in range(views - 1)]
            part = film(np.concatenate(bodies), np.repeat(np.arange(views), len(frames)), views, rng)
            keep = np.ones(views * len(frames), bool)
        view = np.repeat(np.arange(views), len(frames))
        part.update(camera=view.astype(np.int32), frame=np.tile(frames, views).astype(np.int32),
                    sequence=np.full(len(view), number, np.int32),
                    subject=np.full(len(view), subjects.index(labels[path]), np.int32),
                    holdout=np.full(len(view), int(held), np.int8))
        part = {key: value[keep] for key, value in part.items()}
        parts.append(part)
    names = [f"{p.parent.name}/{p.name}" for p in clips]
    if recombined:
        if not training_frames:
            raise ValueError("--recombined needs training clips to recombine, and every clip given is a validation clip")
        parts.append(film_recombined(np.concatenate(training_frames), recombined, views, len(clips), len(subjects),
                                     np.random.default_rng([seed, len(clips)])))
        names.append(RECOMBINED)
        subjects.append(RECOMBINED)
    arrays = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    arrays["clip_names"] = np.array(names)
    arrays["subject_names"] = np.array(subjects)
    if sequences:
        arrays["fps"] = np.float32(fps)
    held = int(arrays["holdout"].sum())
    say(f"motion capture: {len(clips)} clips of {len(subjects) - bool(recombined)} performers -> "
        f"{len(arrays['pose2d']) - recombined} poses ({'sequences at' if sequences else 'at most'} {fps:g} fps x "
        f"{views} views), {held} of them in the validation clips"
        + (f"; and {recombined} recombined real poses from the training clips' frames" if recombined else ""))
    if slower:
        say(f"note: {len(slower)} clips run slower than --fps {fps:g}, so all their frames are kept, at their own rate: "
            + ", ".join(slower[:5]) + (", ..." if len(slower) > 5 else ""))
    return arrays


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="BVH or ASF/AMC (.amc) clips, or folders of them (searched recursively)")
    parser.add_argument("--out", required=True, help="output .npz in the data contract")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frames kept per second (default: %(default)s)")
    parser.add_argument("--views", type=int, default=DEFAULT_VIEWS, help="virtual cameras per clip (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cameras and bodies (default: %(default)s)")
    parser.add_argument("--units", choices=sorted(UNIT_TO_MM), help="the files' length unit; acclaim is 1/0.45 inch, "
                        "CMU's ASF unit (default: inferred from the body)")
    parser.add_argument("--asf", metavar="FILE", help="the skeleton of every .amc clip (default: the .asf beside a clip "
                        "whose name the clip's name starts with, else the only .asf in its folder)")
    parser.add_argument("--amc-fps", type=float, default=asf_amc.DEFAULT_FPS,
                        help="frames per second of .amc clips, which do not say (default: %(default)s, the Acclaim "
                             "and CMU rate)")
    parser.add_argument("--validation", nargs="*", default=list(DEFAULT_VALIDATION), metavar="PATTERN",
                        help="clips held out for validation, as glob patterns on 'folder/file' or 'file' "
                             "(default: %(default)s)")
    parser.add_argument("--sequences", action="store_true",
                        help="film each clip as a video for the temporal model: resampled to exactly --fps "
                             f"(use {INTERNAL_FPS:g}, the model's rate), one static camera and one body per view")
    parser.add_argument("--recombined", type=int, default=0, metavar="N",
                        help="add N recombined real poses made from the training clips' frames (recombine.py: body "
                             "parts swapped between frames, limbs bent within joint limits; default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    problem = output_problem(args.out, args.force)
    if problem:
        parser.error(f"--out {problem}")
    started = time.perf_counter()
    try:
        arrays = import_clips(args.clips, args.fps, args.views, args.seed, args.units, tuple(args.validation),
                              asf=args.asf, amc_fps=args.amc_fps, sequences=args.sequences, recombined=args.recombined)
    except ValueError as err:  # BvhError, AsfAmcError
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_npz(args.out, arrays)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
