"""Motion capture in and out: BVH files <-> the 28-joint MPI-INF-3DHP contract.

    python mocap.py ../shared/mocap/cmu ../shared/mocap/cmu_cc --out real.npz --fps 10 --views 4

Reading: a BVH parser for files from the wild (any depth, End Sites, any rotation order per
joint, position channels on any joint, tabs, CRLF), vectorised forward kinematics, and one
name table per rig that places the 28 joints where MPI-INF-3DHP defines them (the pelvis midway
between the hip joints, whatever the rig calls its root). The command films the clips with the
virtual studio cameras of camera.py, exactly as synthetic.py films its poses, and writes the
data contract of data_loader.py, ready for `train.py --mocap` and `eval.py --mocap`.

BVH conventions followed (those of Blender's importer and most exporters): a joint's rotation
channels compose in the order they are listed, R = R_first @ R_second @ R_third (column vectors,
parent-to-child); position channels replace the joint's OFFSET; +Y is up.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import camera
import skeleton_utils as sk

AXES = {"X": 0, "Y": 1, "Z": 2}
END_SITE_SUFFIX = "_end"  # an End Site is named after its joint: "Head" -> "Head_end"


class BvhError(ValueError):
    """A BVH file that cannot be read or mapped; the message names the file (and line) and the fix."""


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
@dataclass
class Skeleton:
    """The HIERARCHY: joints in file order (parents first), End Sites included as channel-less joints."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3) in file units
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Zrotation"]

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass
class Clip:
    """A parsed BVH file: its skeleton, (F, C) channel values in file order and the frame time in seconds."""

    path: str
    skeleton: Skeleton
    values: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def _parse_hierarchy(lines: list[str], path: str) -> tuple[Skeleton, int]:
    """Parse from 'HIERARCHY' to 'MOTION'; returns the skeleton and the index of the MOTION line."""
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending: int | None = None  # the joint whose '{' comes next
    i = 0
    while i < len(lines):
        words = lines[i].split()
        line_no = i + 1
        i += 1
        if not words:
            continue
        key = words[0].upper()
        if key == "HIERARCHY":
            continue
        if key == "MOTION":
            if stack or not names:
                raise BvhError(f"{path}, line {line_no}: MOTION before the hierarchy is complete "
                               f"({'unclosed braces' if stack else 'no ROOT'}).")
            return Skeleton(names, parents, np.array(offsets, dtype=np.float64), channels), i - 1
        if key in ("ROOT", "JOINT") or (key == "END" and len(words) > 1 and words[1].upper() == "SITE"):
            if key == "ROOT" and stack:
                raise BvhError(f"{path}, line {line_no}: ROOT inside another joint.")
            if key != "ROOT" and not stack:
                raise BvhError(f"{path}, line {line_no}: {words[0]} outside any ROOT.")
            if key == "END":
                name = names[stack[-1]] + END_SITE_SUFFIX
            elif len(words) < 2:
                raise BvhError(f"{path}, line {line_no}: {words[0]} without a name.")
            else:
                name = " ".join(words[1:])
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
        elif key == "{":
            if pending is None:
                raise BvhError(f"{path}, line {line_no}: '{{' without a joint before it.")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise BvhError(f"{path}, line {line_no}: '}}' without a matching '{{'.")
            stack.pop()
        elif key == "OFFSET":
            if not stack or len(words) != 4:
                raise BvhError(f"{path}, line {line_no}: OFFSET needs three numbers inside a joint.")
            offsets[stack[-1]] = _numbers(words[1:], path, line_no)
        elif key == "CHANNELS":
            if not stack:
                raise BvhError(f"{path}, line {line_no}: CHANNELS outside a joint.")
            try:
                count = int(words[1])
            except (IndexError, ValueError):
                raise BvhError(f"{path}, line {line_no}: CHANNELS needs a count, then the channel names.") from None
            names_here = words[2:]
            if len(names_here) != count:
                raise BvhError(f"{path}, line {line_no}: CHANNELS says {count} but lists {len(names_here)} names.")
            for channel in names_here:
                if len(channel) != 9 or channel[0].upper() not in AXES or channel[1:].lower() not in ("position", "rotation"):
                    raise BvhError(f"{path}, line {line_no}: unknown channel {channel!r} (expected Xposition ... Zrotation).")
            channels[stack[-1]] = names_here
        else:
            raise BvhError(f"{path}, line {line_no}: unexpected {words[0]!r} in the HIERARCHY section.")
    raise BvhError(f"{path}: no MOTION section; the file is truncated or not a BVH file.")


def _numbers(words: list[str], path: str, line_no: int) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        bad = next(w for w in words if not _is_number(w))
        raise BvhError(f"{path}, line {line_no}: {bad!r} is not a number.") from None


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def _header_value(line: str, label: str, path: str, line_no: int) -> str:
    if ":" not in line or line.split(":", 1)[0].strip().lower() != label.lower():
        raise BvhError(f"{path}, line {line_no}: expected '{label}: ...', found {line.strip()[:60]!r}.")
    return line.split(":", 1)[1].strip()


def _parse_motion(lines: list[str], start: int, skeleton: Skeleton, path: str) -> tuple[np.ndarray, float]:
    """The MOTION section from the line after 'MOTION': (F, C) values and the frame time."""
    rest = [(n, line) for n, line in enumerate(lines[start + 1:], start=start + 2) if line.strip()]
    if len(rest) < 2:
        raise BvhError(f"{path}: the MOTION section lacks its 'Frames:' and 'Frame Time:' lines (truncated file?).")
    (n1, frames_line), (n2, time_line) = rest[0], rest[1]
    try:
        frames = int(_header_value(frames_line, "Frames", path, n1))
        frame_time = float(_header_value(time_line, "Frame Time", path, n2))
    except ValueError as err:
        if isinstance(err, BvhError):
            raise
        raise BvhError(f"{path}, line {n1}-{n2}: 'Frames:' needs a whole number and 'Frame Time:' a number.") from None
    if frames < 1 or not frame_time > 0:
        raise BvhError(f"{path}, line {n1}: a clip needs at least one frame and a positive frame time.")
    rows = rest[2:]
    if len(rows) < frames:
        last = rows[-1][0] if rows else n2
        raise BvhError(f"{path}, line {last}: the file says {frames} frames but holds {len(rows)}; it is truncated.")
    rows = rows[:frames]
    split = [line.split() for _, line in rows]
    want = skeleton.num_channels
    for (line_no, _), words in zip(rows, split):
        if len(words) != want:
            raise BvhError(f"{path}, line {line_no}: {len(words)} values, but the hierarchy declares {want} channels.")
    try:
        values = np.array(split, dtype=np.float64)
    except ValueError:
        for (line_no, _), words in zip(rows, split):
            _numbers(words, path, line_no)
        raise
    if not np.isfinite(values).all():
        frame = int(np.argmax(~np.isfinite(values).all(axis=1)))
        raise BvhError(f"{path}, line {rows[frame][0]}: a value is NaN or infinite.")
    return values, frame_time


def read_bvh(path: str | os.PathLike) -> Clip:
    """Parse a BVH file; any problem raises BvhError naming the file and line."""
    path = str(path)
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            text = f.read()
    except OSError as err:
        raise BvhError(f"{path}: cannot read the file ({err.strerror}).") from None
    lines = text.splitlines()
    first = next((line.split()[0] for line in lines if line.strip()), "")
    if first.upper() != "HIERARCHY":
        raise BvhError(f"{path}, line 1: a BVH file starts with HIERARCHY, found {first[:40]!r}.")
    skeleton, motion_line = _parse_hierarchy(lines, path)
    values, frame_time = _parse_motion(lines, motion_line, skeleton, path)
    return Clip(path, skeleton, values, frame_time)


# ---------------------------------------------------------------------------
# Forward kinematics
# ---------------------------------------------------------------------------
def axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by `degrees` about coordinate axis 0, 1 or 2."""
    rad = np.radians(degrees)
    c, s = np.cos(rad), np.sin(rad)
    out = np.zeros(np.shape(degrees) + (3, 3))
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., i, j], out[..., j, i], out[..., j, j] = c, -s, s, c
    return out


def _ancestry(parents: list[int], joints: list[int]) -> list[int]:
    """The joints and all their ancestors, parents first."""
    keep = set()
    for j in joints:
        while j >= 0 and j not in keep:
            keep.add(j)
            j = parents[j]
    return sorted(keep)


def local_transforms(clip: Clip, joints: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For the given joints (file order), per frame: local rotation (F, K, 3, 3) and translation from
    the parent (F, K, 3). Vectorised over frames and joints: the k-th rotation channel of every joint
    about the same axis is applied in one batched product (at most 9, whatever the rig's size)."""
    sk_ = clip.skeleton
    starts = np.cumsum([0] + [len(c) for c in sk_.channels])
    rotation = np.broadcast_to(np.eye(3), (len(clip.values), len(joints), 3, 3)).copy()
    translation = np.broadcast_to(sk_.offsets[joints], (len(clip.values), len(joints), 3)).copy()
    steps: dict[tuple[int, int], tuple[list[int], list[int]]] = {}  # (k-th rotation, axis) -> (rows, columns)
    for row, j in enumerate(joints):
        k = 0
        for column, channel in enumerate(sk_.channels[j], start=starts[j]):
            axis = AXES[channel[0].upper()]
            if channel[1:].lower() == "rotation":
                rows, columns = steps.setdefault((k, axis), ([], []))
                rows.append(row)
                columns.append(column)
                k += 1
            else:
                translation[:, row, axis] = clip.values[:, column]
    for (_, axis), (rows, columns) in sorted(steps.items()):
        rotation[:, rows] = rotation[:, rows] @ axis_rotation(axis, clip.values[:, columns])
    return rotation, translation


def forward_kinematics(clip: Clip, joints: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, K, 3) in file units and world rotations (F, K, 3, 3) of the given joints
    (default: all, in file order). Only they and their ancestors are computed, a depth level at a
    time: all frames and all joints of a level at once."""
    parents = clip.skeleton.parents
    wanted = list(range(len(parents))) if joints is None else list(joints)
    keep = _ancestry(parents, wanted)
    row = {j: r for r, j in enumerate(keep)}
    rotation, translation = local_transforms(clip, keep)
    parent_row = np.array([row.get(parents[j], -1) for j in keep])
    depth = np.zeros(len(keep), dtype=int)
    for r, j in enumerate(keep):
        depth[r] = 0 if parent_row[r] < 0 else depth[parent_row[r]] + 1
    world_rot, world_pos = rotation.copy(), translation.copy()  # roots: local is world
    for level in range(1, depth.max() + 1):
        idx = np.flatnonzero(depth == level)
        up = parent_row[idx]
        world_rot[:, idx] = world_rot[:, up] @ rotation[:, idx]
        world_pos[:, idx] = world_pos[:, up] + (world_rot[:, up] @ translation[:, idx, :, None])[..., 0]
    rows = [row[j] for j in wanted]
    return world_pos[:, rows], world_rot[:, rows]


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) joint positions of the rest pose (every channel zero, OFFSETs only)."""
    positions = np.zeros_like(skeleton.offsets)
    for j, parent in enumerate(skeleton.parents):
        positions[j] = skeleton.offsets[j] + (positions[parent] if parent >= 0 else 0.0)
    return positions


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


def detect_rig(skeleton: Skeleton, path: str = "") -> Rig:
    """The rig whose joint names the skeleton has; BvhError naming the missing joints otherwise."""
    present = {_plain(n) for n in skeleton.names}
    missing = {rig.name: sorted(_rig_names(rig) - present) for rig in RIGS}
    for rig in RIGS:
        if not missing[rig.name]:
            return rig
    closest = min(RIGS, key=lambda rig: len(missing[rig.name]))
    raise BvhError(
        f"{path}: unknown rig: no name table of mocap.RIGS ({', '.join(r.name for r in RIGS)}) fits its joints. "
        f"Closest is '{closest.name}', which needs {', '.join(missing[closest.name][:12])}"
        f"{', ...' if len(missing[closest.name]) > 12 else ''}. Add a Rig for this naming to mocap.RIGS."
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
    names = sorted(_rig_names(rig))
    plain = [_plain(n) for n in clip.skeleton.names]
    world, _ = forward_kinematics(clip, [plain.index(n) for n in names])
    index = {n: i for i, n in enumerate(names)}
    pose = np.zeros((len(world), sk.NUM_JOINTS, 3))
    for joint, sources in rig.joints.items():
        pose[:, sk.J[joint]] = world[:, [index[n] for n in sources]].mean(axis=1)
    spine = world[:, [index[n] for n in rig.spine]]
    place_missing_joints(pose, spine, has_head_top="head_top" in rig.joints)
    return pose


# ---------------------------------------------------------------------------
# Units, from the body
# ---------------------------------------------------------------------------
UNIT_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "inch": 25.4}
# Standing heights that a person may have: 1.0-2.5 m (children to the tallest adults) keeps the
# four units apart (in cm 100-250, in inches 39-98, in m 1.0-2.5, in mm 1000-2500).
_HEIGHT_RANGE_M = (1.0, 2.5)


def standing_height(pose: np.ndarray) -> float:
    """A person's standing height from (F, 28, 3) joints, whatever their posture: the median over
    frames of leg + trunk + head lengths (rotation-invariant), over the 96% of the height that
    they span (the ankle's height above the floor is the rest)."""
    J = sk.J
    length = lambda a, b: np.linalg.norm(pose[:, J[a]] - pose[:, J[b]], axis=-1)
    legs = 0.5 * (length("left_hip", "left_knee") + length("left_knee", "left_ankle")
                  + length("right_hip", "right_knee") + length("right_knee", "right_ankle"))
    return float(np.median(legs + length("pelvis", "neck") + length("neck", "head_top")) / 0.96)


def infer_unit(pose: np.ndarray, path: str = "") -> str:
    """The unit (mm, cm, m, inch) in which the body has a human standing height."""
    height = standing_height(pose)
    for unit, mm in UNIT_TO_MM.items():
        if _HEIGHT_RANGE_M[0] <= height * mm / 1000.0 <= _HEIGHT_RANGE_M[1]:
            return unit
    raise BvhError(
        f"{path}: cannot tell the file's length unit: the body is {height:.4g} units tall, which is no human "
        f"height in mm, cm, m or inches. Pass the unit (--units cm, say)."
    )


def load_clip_joints(path: str | os.PathLike, units: str | None = None) -> tuple[np.ndarray, Clip]:
    """(F, 28, 3) world joints in mm, y up, floor at y = 0, and the parsed clip."""
    clip = read_bvh(path)
    pose = clip_to_mpiinf(clip)
    return _on_floor(pose * UNIT_TO_MM[units or infer_unit(pose, clip.path)]), clip


FLOOR_CLEARANCE_MM = 40.0  # the lowest foot joint sits about this far above the floor (ankle / toe centres)
_FEET = [sk.J[n] for n in ("left_ankle", "right_ankle", "left_toe", "right_toe")]


def _on_floor(pose: np.ndarray) -> np.ndarray:
    """Shift (F, 28, 3) world joints vertically so the clip's lowest feet stand on y = 0 (the 1st
    percentile over frames: a jump stays a jump, a glitch frame does not sink the floor)."""
    feet = pose[:, _FEET, 1].min(axis=1)
    return pose - np.array([0.0, np.percentile(feet, 1) - FLOOR_CLEARANCE_MM, 0.0])


# ---------------------------------------------------------------------------
# Many bodies from one: real joint angles with other bone lengths
# ---------------------------------------------------------------------------
_BONE_SD = 0.03  # individual variation of each bone's length, relative (as synthetic.py's segments)


def _depth(joint: int) -> int:
    return 0 if sk.PARENTS[joint] < 0 else 1 + _depth(sk.PARENTS[joint])


def with_bone_lengths(pose: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(F, 28, 3) joints rebuilt from the pelvis with every bone's length times scale (F, 28) (indexed by child)."""
    out = pose.copy()
    for j in sorted(range(sk.NUM_JOINTS), key=_depth):
        parent = sk.PARENTS[j]
        if parent >= 0:
            out[:, j] = out[:, parent] + scale[:, j, None] * (pose[:, j] - pose[:, parent])
    return out


def random_bodies(pose: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The motion on bodies of other sizes: per frame, a height drawn as synthetic.py draws them and
    each bone (left and right alike) varied by _BONE_SD."""
    from synthetic import sample_bodies  # the anthropometric height distribution lives there

    frames = len(pose)
    height = sample_bodies(frames, rng).height
    overall = height / standing_height(pose)
    variation = 1 + _BONE_SD * np.clip(rng.standard_normal((frames, sk.NUM_JOINTS)), -2.5, 2.5)
    variation = 0.5 * (variation + variation[:, list(sk.FLIP_PERM)])  # symmetric bodies
    varied = with_bone_lengths(pose, overall[:, None] * variation)
    # Keep each frame's lowest foot where it was: the pelvis moves, the feet stay on the floor.
    lift = pose[:, _FEET, 1].min(axis=1) - varied[:, _FEET, 1].min(axis=1)
    varied[..., 1] += lift[:, None]
    return varied


# ---------------------------------------------------------------------------
# Filming clips with the virtual studio: the data contract
# ---------------------------------------------------------------------------
DEFAULT_FPS = 10.0  # consecutive frames at 60-120 fps are near copies: keep this many per second
DEFAULT_VIEWS = 4
# The real-motion validation: the test clips of ../shared/mocap/cmu and subject 1 of cmu_cc
# (matched against "folder/file"), never trained on.
DEFAULT_VALIDATION = ("*_test.bvh", "cmu_cc/001_*.bvh")
INDEX_FILE = "index.csv"  # optional, beside the clips: columns file, subject (as in ../shared/mocap/cmu_cc)


def find_clips(paths: list[str]) -> list[Path]:
    """The .bvh files named or inside the folders named (recursively), sorted; an error if none."""
    clips = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            clips += sorted(p for p in path.rglob("*") if p.suffix.lower() == ".bvh")
        elif path.is_file():
            clips.append(path)
        else:
            raise BvhError(f"{name}: no such file or folder.")
    if not clips:
        raise BvhError(f"no .bvh files in {', '.join(paths)}.")
    return clips


def subject_label(path: Path) -> str:
    """The clip's performer: from an index.csv beside it (file, subject columns), else the clip itself."""
    index = path.parent / INDEX_FILE
    if index.is_file():
        with open(index, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("file") == path.name and row.get("subject"):
                    return f"{path.parent.name}/subject {row['subject']}"
    return f"{path.parent.name}/{path.stem}"


def is_validation_clip(path: Path, patterns: tuple[str, ...]) -> bool:
    from fnmatch import fnmatch
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


def import_clips(paths: list[str], fps: float = DEFAULT_FPS, views: int = DEFAULT_VIEWS, seed: int = 0,
                 units: str | None = None, validation: tuple[str, ...] = DEFAULT_VALIDATION,
                 say=print) -> dict[str, np.ndarray]:
    """BVH clips (files or folders) -> the data contract, subsampled to `fps`, seen by `views` cameras.

    Per pose: subject (performer), sequence (clip), camera, frame (the clip's frame number) and
    holdout (1 for the validation clips). In training clips every view but the first shows the
    motion on a body of another size (random_bodies); validation clips keep the real bodies.
    The arrays clip_names and subject_names name the sequence and subject ids.
    """
    if fps <= 0 or views < 1:
        raise ValueError(f"--fps must be positive and --views at least 1 (got {fps} and {views})")
    clips = find_clips(paths)
    subjects = sorted({subject_label(p) for p in clips})
    parts = []
    for number, path in enumerate(clips):
        rng = np.random.default_rng([seed, number])
        pose, clip = load_clip_joints(path, units)
        step = max(1, round(clip.fps / fps))
        frames = np.arange(0, len(pose), step)
        pose = pose[frames]
        held = is_validation_clip(path, validation)
        bodies = [pose] + [pose if held else random_bodies(pose, rng) for _ in range(views - 1)]
        view = np.repeat(np.arange(views), len(frames))
        part = film(np.concatenate(bodies), view, views, rng)
        part.update(camera=view.astype(np.int32), frame=np.tile(frames, views).astype(np.int32),
                    sequence=np.full(len(view), number, np.int32),
                    subject=np.full(len(view), subjects.index(subject_label(path)), np.int32),
                    holdout=np.full(len(view), int(held), np.int8))
        parts.append(part)
    arrays = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    arrays["clip_names"] = np.array([f"{p.parent.name}/{p.name}" for p in clips])
    arrays["subject_names"] = np.array(subjects)
    held = int(arrays["holdout"].sum())
    say(f"motion capture: {len(clips)} clips of {len(subjects)} performers -> {len(arrays['pose2d'])} poses "
        f"({fps:g} fps x {views} views), {held} of them in the validation clips")
    return arrays


# ---------------------------------------------------------------------------
# Writing: lifted joints -> a BVH file that retargeting tools recognise
# ---------------------------------------------------------------------------
def _limb_rows(side: str, s: str) -> tuple[tuple[str, str, str], ...]:
    return ((f"{side}Shoulder", f"{s}_clavicle", "Spine3"), (f"{side}Arm", f"{s}_shoulder", f"{side}Shoulder"),
            (f"{side}ForeArm", f"{s}_elbow", f"{side}Arm"), (f"{side}Hand", f"{s}_wrist", f"{side}ForeArm"),
            (f"{side}Hand{END_SITE_SUFFIX}", f"{s}_hand", f"{side}Hand"),
            (f"{side}UpLeg", f"{s}_hip", "Hips"), (f"{side}Leg", f"{s}_knee", f"{side}UpLeg"),
            (f"{side}Foot", f"{s}_ankle", f"{side}Leg"), (f"{side}ToeBase", f"{s}_foot", f"{side}Foot"),
            (f"{side}ToeBase{END_SITE_SUFFIX}", f"{s}_toe", f"{side}ToeBase"))


# The written skeleton: (BVH joint, the MPI-INF-3DHP joint at its head, its parent). The names are
# Mixamo's (without the "mixamorig:" prefix), which Blender's, Maya's (HumanIK), MotionBuilder's,
# Unreal's and Unity's retargeting map by name; the head top, hands and toe tips are End Sites.
WRITER_JOINTS = (
    ("Hips", "pelvis", ""), ("Spine", "spine", "Hips"), ("Spine1", "spine2", "Spine"),
    ("Spine2", "spine3", "Spine1"), ("Spine3", "spine4", "Spine2"), ("Neck", "neck", "Spine3"),
    ("Head", "head", "Neck"), (f"Head{END_SITE_SUFFIX}", "head_top", "Head"),
    *_limb_rows("Left", "left"), *_limb_rows("Right", "right"),
)
BVH_UNIT = "cm"
_SPINE = ("pelvis", "spine", "spine2", "spine3", "spine4", "neck")
# Where the spine joints lie along the pelvis -> neck chain, as place_missing_joints() places them.
_SPINE_SHARES = np.diff([0.0, *(sk.SPINE_FRACTIONS[n] for n in _SPINE[1:-1]), 1.0])
# Bones rebuilt from their own direction and median length: everything below the girdles.
_FREE_BONES = tuple((sk.PARENTS[sk.J[c]], sk.J[c]) for c in (
    "head_top", *(f"{s}_{j}" for s in ("left", "right")
                  for j in ("elbow", "wrist", "hand", "knee", "ankle", "foot", "toe"))))
_X, _Y, _Z = np.eye(3)


def _t_pose_direction(joint: str) -> np.ndarray:
    """The rest direction of the free bone ending at `joint`: y up, the person facing +z, their left +x."""
    if joint == "head_top":
        return _Y
    if joint.endswith(("foot", "toe")):
        return _Z
    if joint.endswith(("knee", "ankle")):
        return -_Y
    return _X if joint.startswith("left") else -_X  # arms out


_T_POSE = {"hips": _X, "shoulders": _X, "spine": _Y, "head": _Y,
           **{c: _t_pose_direction(sk.JOINT_NAMES[c]) for _, c in _FREE_BONES}}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _without(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Unit v made perpendicular to the unit `axis` (both (F, 3))."""
    return _unit(v - (v * axis).sum(-1, keepdims=True) * axis)


def _spine_chain(pose: np.ndarray) -> np.ndarray:
    """(F, 6, 3): pelvis, the four spine joints and the neck as the rule places it, midway between the shoulders."""
    neck = 0.5 * (pose[:, sk.J["left_shoulder"]] + pose[:, sk.J["right_shoulder"]])
    return np.concatenate([pose[:, [sk.J[n] for n in _SPINE[:-1]]], neck[:, None]], axis=1)


def _bone_directions(pose: np.ndarray) -> dict:
    """The directions normalise_for_bvh keeps: hip and shoulder lines, spine segments (F, 5, 3), head, free bones."""
    J = sk.J
    hips = _unit(pose[:, J["left_hip"]] - pose[:, J["right_hip"]])
    shoulders = _unit(pose[:, J["left_shoulder"]] - pose[:, J["right_shoulder"]])
    chain = _spine_chain(pose)
    spine = _unit(np.diff(chain, axis=1))
    # The hips' and chest's children are rigid in their BVH joints: the spine leaves the hip line
    # at a right angle, and the neck the shoulder line.
    spine[:, 0], spine[:, -1] = _without(spine[:, 0], hips), _without(spine[:, -1], shoulders)
    return {"hips": hips, "shoulders": shoulders, "spine": spine, "head": _unit(pose[:, J["head"]] - chain[:, -1]),
            **{c: _unit(pose[:, c] - pose[:, p]) for p, c in _FREE_BONES}}


def _bone_lengths(pose: np.ndarray) -> dict:
    """Per-bone medians over the clip (the hip and shoulder widths shared by both sides)."""
    J = sk.J
    length = lambda a, b: float(np.median(np.linalg.norm(a - b, axis=-1)))
    chain = _spine_chain(pose)
    return {"hips": length(pose[:, J["left_hip"]], pose[:, J["right_hip"]]) / 2,
            "shoulders": length(pose[:, J["left_shoulder"]], pose[:, J["right_shoulder"]]) / 2,
            "spine": float(np.median(np.linalg.norm(np.diff(chain, axis=1), axis=-1).sum(1))),
            "head": length(pose[:, J["head"]], chain[:, -1]),
            **{c: length(pose[:, c], pose[:, p]) for p, c in _FREE_BONES}}


def _assemble(pelvis: np.ndarray, directions: dict, lengths: dict) -> np.ndarray:
    """(F, 28, 3) joints built from the pelvis (F, 3) outwards with the given directions and lengths."""
    J = sk.J
    direction = lambda key: np.broadcast_to(directions[key], pelvis.shape)
    out = np.zeros((len(pelvis), sk.NUM_JOINTS, 3))
    out[:, J["pelvis"]] = pelvis
    for side, sign in (("left", 1.0), ("right", -1.0)):
        out[:, J[f"{side}_hip"]] = pelvis + sign * lengths["hips"] * direction("hips")
    segments = np.broadcast_to(directions["spine"], (len(pelvis), len(_SPINE_SHARES), 3))
    chain = pelvis[:, None] + np.cumsum(lengths["spine"] * _SPINE_SHARES[:, None] * segments, axis=1)
    out[:, [J[n] for n in _SPINE[1:]]] = chain
    neck = chain[:, -1]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder = sign * lengths["shoulders"] * direction("shoulders")
        out[:, J[f"{side}_shoulder"]] = neck + shoulder
        out[:, J[f"{side}_clavicle"]] = neck + sk.CLAVICLE_FRACTION * shoulder
    out[:, J["head"]] = neck + lengths["head"] * direction("head")
    for p, c in _FREE_BONES:  # parents first: the table follows the kinematic tree
        out[:, c] = out[:, p] + lengths[c] * direction(c)
    return out


def normalise_for_bvh(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 28, 3) joints (y up) as the BVH skeleton can hold them, and its (28, 3) T-pose.

    Bone lengths become their medians over the clip and the bones keep their directions, rebuilt
    from the pelvis. Where mocap.clip_to_mpiinf places joints by rule, they are put exactly there:
    the hips symmetric about the pelvis, the neck midway between the shoulders (which are
    symmetric about it, with the clavicles at skeleton_utils.CLAVICLE_FRACTION), the spine joints
    at skeleton_utils.SPINE_FRACTIONS of the spine's length; the lowest spine segment is made
    perpendicular to the hip line and the highest to the shoulder line, as the hips' and chest's
    rigid BVH joints require. The head keeps its direction from the neck (midway between the shoulders).
    """
    lengths = _bone_lengths(pose)
    normalised = _assemble(pose[:, sk.ROOT], _bone_directions(pose), lengths)
    return normalised, _assemble(np.zeros((1, 3)), _T_POSE, lengths)[0]


def _swing(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 3, 3) shortest rotations turning the unit `rest` (3,) onto the directions `target` (F, 3)."""
    target = _unit(target)
    axis = np.cross(rest, target)
    cos = target @ rest
    cross = np.zeros(target.shape + (3,))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    cross -= np.swapaxes(cross, 1, 2)
    opposite = cos < -1 + 1e-9
    out = np.eye(3) + cross + cross @ cross / np.maximum(1 + cos, 1e-9)[:, None, None]
    if opposite.any():  # a half turn about any axis perpendicular to rest
        normal = _unit(np.cross(rest, _X if abs(rest[0]) < 0.9 else _Y))
        out[opposite] = 2 * np.outer(normal, normal) - np.eye(3)
    return out


def _best_rotation(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations best turning the (K, 3) rest offsets onto (F, K, 3) targets (Kabsch)."""
    u, _, vt = np.linalg.svd(np.einsum("ki,fkj->fij", rest, target))
    flip = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    u[:, :, -1] *= flip[:, None]
    return np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)


def euler_angles(rotation: np.ndarray, order: tuple[int, int, int]) -> np.ndarray:
    """(..., 3) degrees a, b, c with rotation = R_i(a) R_j(b) R_k(c) for axes (i, j, k), |b| <= 90."""
    i, j, k = order
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # even (cyclic) or odd order
    r = rotation
    b = np.arcsin(np.clip(s * r[..., i, k], -1.0, 1.0))
    a = np.arctan2(-s * r[..., j, k], r[..., k, k])
    c = np.arctan2(-s * r[..., i, j], r[..., i, i])
    locked = np.cos(b) < 1e-9  # gimbal lock: only a + c (or a - c) is defined; put it all in a
    a = np.where(locked, np.arctan2(s * r[..., k, j], r[..., j, j]), a)
    c = np.where(locked, 0.0, c)
    return np.degrees(np.stack([a, b, c], axis=-1))


def unwrap_euler(angles: np.ndarray) -> np.ndarray:
    """(F, ..., 3) Euler angles made continuous over frames: of the two equivalent triples
    (a, b, c) and (a + 180, 180 - b, c + 180), each shifted by whole turns, take the one
    nearest the previous frame's."""
    out = angles.copy()
    other = angles + np.array([180.0, 0.0, 180.0])
    other[..., 1] = 180.0 - angles[..., 1]
    for f in range(1, len(angles)):
        candidates = []
        for triple in (angles[f], other[f]):
            triple = triple + 360.0 * np.round((out[f - 1] - triple) / 360.0)
            candidates.append((triple, np.abs(triple - out[f - 1]).sum(-1, keepdims=True)))
        (first, d1), (second, d2) = candidates
        out[f] = np.where(d2 < d1, second, first)
    return out


def _euler_order(offsets: np.ndarray, is_root: bool) -> tuple[int, int, int]:
    """Rotation axes of a joint: the bone's own axis in the middle, where a swing keeps its angle
    small and far from gimbal lock; the root turns about the vertical first (any heading)."""
    if is_root:
        return 1, 0, 2
    bone = int(np.argmax(np.abs(offsets.sum(axis=0))))
    return {0: (2, 0, 1), 1: (0, 1, 2), 2: (0, 2, 1)}[bone]


def _writer_skeleton(rest: np.ndarray) -> tuple[Skeleton, list[int]]:
    """The BVH skeleton of WRITER_JOINTS in depth-first file order, offsets in mm, no channels yet,
    and the MPI-INF-3DHP joint of each."""
    names = [name for name, _, _ in WRITER_JOINTS]
    children = {name: [n for n, _, p in WRITER_JOINTS if p == name] for name in names}
    order = []

    def visit(name: str) -> None:
        order.append(name)
        for child in children[name]:
            visit(child)
    visit("Hips")
    joint = {name: sk.J[j] for name, j, _ in WRITER_JOINTS}
    parent_of = {name: p for name, _, p in WRITER_JOINTS}
    parents = [order.index(parent_of[n]) if parent_of[n] else -1 for n in order]
    offsets = np.array([rest[joint[n]] - (rest[joint[parent_of[n]]] if parent_of[n] else rest[joint[n]])
                        for n in order])
    return Skeleton(order, parents, offsets, [[] for _ in order]), [joint[n] for n in order]


def lifted_to_clip(pose: np.ndarray, fps: float, path: str = "") -> tuple[Clip, np.ndarray]:
    """(F, 28, 3) world joints in mm (y up) -> the BVH clip (centimetres), and the normalised joints
    (mm) that the clip reproduces.

    A joint with one child turns by the shortest swing from its T-pose bone onto the bone's
    direction in its parent's frame (limbs keep no twist of their own); the hips and the chest,
    with three children each, by the rotation that fits all three: the hip line and the spine,
    the shoulder line and the neck, which gives their twist.
    """
    pose, rest = normalise_for_bvh(np.asarray(pose, np.float64))
    skeleton, joint = _writer_skeleton(rest)
    frames = len(pose)
    world = np.empty((frames, len(joint), 3, 3))
    columns = []
    for b, parent in enumerate(skeleton.parents):
        kids = [c for c, p in enumerate(skeleton.parents) if p == b]
        if not kids:  # an End Site
            continue
        above = world[:, parent] if parent >= 0 else np.broadcast_to(np.eye(3), (frames, 3, 3))
        target = pose[:, [joint[c] for c in kids]] - pose[:, [joint[b]]]
        if len(kids) == 1:
            local = _swing(_unit(skeleton.offsets[kids[0]]), np.einsum("fji,fj->fi", above, target[:, 0]))
        else:
            local = np.swapaxes(above, -1, -2) @ _best_rotation(skeleton.offsets[kids], target)
        world[:, b] = above @ local
        order = _euler_order(skeleton.offsets[kids], parent < 0)
        skeleton.channels[b] = ["Xposition", "Yposition", "Zposition"] * (parent < 0) + \
            [f"{'XYZ'[axis]}rotation" for axis in order]
        if parent < 0:
            columns.append(pose[:, joint[b]] / UNIT_TO_MM[BVH_UNIT])
        columns.append(unwrap_euler(euler_angles(local, order)))
    skeleton.offsets = skeleton.offsets / UNIT_TO_MM[BVH_UNIT]
    return Clip(path, skeleton, np.concatenate(columns, axis=1), 1.0 / fps), pose


def format_bvh(clip: Clip) -> str:
    """The text of a BVH file (tab-indented, End Sites for channel-less joints) that read_bvh reads back."""
    sk_ = clip.skeleton
    lines = ["HIERARCHY"]

    def write(b: int, depth: int) -> None:
        pad = "\t" * depth
        name = sk_.names[b]
        head = ("ROOT " + name if sk_.parents[b] < 0 else "End Site" if not sk_.channels[b] else "JOINT " + name)
        lines.extend([pad + head, pad + "{", pad + "\tOFFSET " + " ".join(f"{v:.6f}" for v in sk_.offsets[b])])
        if sk_.channels[b]:
            lines.append(pad + f"\tCHANNELS {len(sk_.channels[b])} " + " ".join(sk_.channels[b]))
        for c, p in enumerate(sk_.parents):
            if p == b:
                write(c, depth + 1)
        lines.append(pad + "}")
    write(0, 0)
    lines += ["MOTION", f"Frames: {len(clip.values)}", f"Frame Time: {clip.frame_time:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in clip.values]
    return "\n".join(lines) + "\n"


def camera_to_world(pose: np.ndarray) -> np.ndarray:
    """(F, 28, 3) camera-space mm (x right, y down, z away) -> y up, z towards the camera (a half
    turn about x), the floor at y = 0 under the clip's feet, the camera at x = z = 0 above it."""
    return _on_floor(pose * np.array([1.0, -1.0, -1.0]))


class MotionTrack:
    """A video's lifted person, frame by frame, for the BVH: a frame without a person repeats the
    last pose (the first pose fills frames before it) and counts as a gap."""

    SINGLE_FRAME_TIME = 1 / 30  # the frame time of a one-frame clip (a photo)

    def __init__(self):
        self._frames: list[np.ndarray | None] = []
        self._times: list[float] = []

    def add(self, joints_mm: np.ndarray | None, time_s: float = 0.0) -> None:
        """The person's (28, 3) camera-space mm joints (x right, y down, z away), or None for no person."""
        self._frames.append(None if joints_mm is None else np.asarray(joints_mm, np.float64))
        self._times.append(time_s)

    @classmethod
    def over_frames(cls, joints_mm: dict[int, np.ndarray], num_frames: int, fps: float) -> MotionTrack:
        """The track of one of several people over all num_frames frames of a sequence at fps, from their
        (28, 3) camera-space joints by frame index: frames without them are gaps, so that every person's
        BVH spans the same frames and the files line up in time."""
        track = cls()
        for index in range(num_frames):
            track.add(joints_mm.get(index), index / fps)
        return track

    @property
    def gaps(self) -> int:
        return sum(f is None for f in self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def frame_time(self) -> float:
        """The median time between frames: a video's 1 / fps, a camera's actual rate."""
        steps = np.diff(self._times)
        return float(np.median(steps)) if len(steps) and np.median(steps) > 0 else self.SINGLE_FRAME_TIME

    def bvh_text(self) -> str | None:
        """The BVH file's text, or None when no frame had a person."""
        seen = [f for f in self._frames if f is not None]
        if not seen:
            return None
        filled, last = [], seen[0]
        for frame in self._frames:
            last = last if frame is None else frame
            filled.append(last)
        clip, _ = lifted_to_clip(camera_to_world(np.stack(filled)), 1.0 / self.frame_time)
        return format_bvh(clip)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="BVH files or folders of them (searched recursively)")
    parser.add_argument("--out", required=True, help="output .npz in the data contract")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frames kept per second (default: %(default)s)")
    parser.add_argument("--views", type=int, default=DEFAULT_VIEWS, help="virtual cameras per clip (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cameras and bodies (default: %(default)s)")
    parser.add_argument("--units", choices=sorted(UNIT_TO_MM), help="the files' length unit (default: inferred from the body)")
    parser.add_argument("--validation", nargs="*", default=list(DEFAULT_VALIDATION), metavar="PATTERN",
                        help="clips held out for validation, as glob patterns on 'folder/file.bvh' or 'file.bvh' "
                             "(default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and not args.force:
        parser.error(f"{args.out} already exists; pass --force to overwrite it or choose another --out")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        parser.error(f"the folder of --out {args.out} does not exist; create it first")
    started = time.perf_counter()
    try:
        arrays = import_clips(args.clips, args.fps, args.views, args.seed, args.units, tuple(args.validation))
    except (BvhError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    from synthetic import save_npz  # the one atomic .npz writer
    save_npz(arrays, args.out)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
