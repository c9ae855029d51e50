"""Lifted poses as animation: the joints of a video's person -> a BVH clip a character can wear.

normalise_for_bvh() gives the bones constant lengths; lifted_to_clip() solves each joint's rotation
(the shortest swing onto its bone, the hips and chest fitted to their three children); MotionTrack
collects a video's frames, gaps included, and writes the file with bvh.format_bvh(). The skeleton
uses Mixamo's joint names, which Blender, Maya (HumanIK), MotionBuilder, Unreal and Unity retarget by
name; mocap.py reads it back through its "infer_bvh" rig table.
"""
from __future__ import annotations

import numpy as np

import skeleton_utils as sk
from bvh import END_SITE_SUFFIX, Clip, Skeleton, format_bvh
from geometry import (X_AXIS, Y_AXIS, Z_AXIS, best_rotation, euler_angles, perpendicular_part, swing, unit,
                      unwrap_euler)
from mocap import UNIT_TO_MM, on_floor


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
_X, _Y, _Z = X_AXIS, Y_AXIS, Z_AXIS


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


def _spine_chain(pose: np.ndarray) -> np.ndarray:
    """(F, 6, 3): pelvis, the four spine joints and the neck as the rule places it, midway between the shoulders."""
    neck = 0.5 * (pose[:, sk.J["left_shoulder"]] + pose[:, sk.J["right_shoulder"]])
    return np.concatenate([pose[:, [sk.J[n] for n in _SPINE[:-1]]], neck[:, None]], axis=1)


def _bone_directions(pose: np.ndarray) -> dict:
    """The directions normalise_for_bvh keeps: hip and shoulder lines, spine segments (F, 5, 3), head, free bones."""
    J = sk.J
    hips = unit(pose[:, J["left_hip"]] - pose[:, J["right_hip"]])
    shoulders = unit(pose[:, J["left_shoulder"]] - pose[:, J["right_shoulder"]])
    chain = _spine_chain(pose)
    spine = unit(np.diff(chain, axis=1))
    # The hips' and chest's children are rigid in their BVH joints: the spine leaves the hip line
    # at a right angle, and the neck the shoulder line.
    spine[:, 0], spine[:, -1] = perpendicular_part(spine[:, 0], hips), perpendicular_part(spine[:, -1], shoulders)
    return {"hips": hips, "shoulders": shoulders, "spine": spine, "head": unit(pose[:, J["head"]] - chain[:, -1]),
            **{c: unit(pose[:, c] - pose[:, p]) for p, c in _FREE_BONES}}


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
            local = swing(unit(skeleton.offsets[kids[0]]), np.einsum("fji,fj->fi", above, target[:, 0]))
        else:
            local = np.swapaxes(above, -1, -2) @ best_rotation(skeleton.offsets[kids], target)
        world[:, b] = above @ local
        order = _euler_order(skeleton.offsets[kids], parent < 0)
        skeleton.channels[b] = ["Xposition", "Yposition", "Zposition"] * (parent < 0) + \
            [f"{'XYZ'[axis]}rotation" for axis in order]
        if parent < 0:
            columns.append(pose[:, joint[b]] / UNIT_TO_MM[BVH_UNIT])
        columns.append(unwrap_euler(euler_angles(local, order)))
    skeleton.offsets = skeleton.offsets / UNIT_TO_MM[BVH_UNIT]
    return Clip(path, skeleton, np.concatenate(columns, axis=1), 1.0 / fps), pose


def camera_to_world(pose: np.ndarray) -> np.ndarray:
    """(F, 28, 3) camera-space mm (x right, y down, z away) -> y up, z towards the camera (a half
    turn about x), the floor at y = 0 under the clip's feet, the camera at x = z = 0 above it."""
    return on_floor(pose * np.array([1.0, -1.0, -1.0]))


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


class SceneMotion:
    """Several people's MotionTracks over one stream's frames, as they come: every person's track spans all
    the frames, so that their BVH files line up in time (frames before they appear are gaps)."""

    def __init__(self):
        self.tracks: dict[int, MotionTrack] = {}
        self._times: list[float] = []

    def add(self, people: dict[int, np.ndarray], time_s: float) -> None:
        """One frame: each person's (28, 3) camera-space mm joints by id (those not in it are gaps)."""
        for person_id in people.keys() - self.tracks.keys():
            self.tracks[person_id] = track = MotionTrack()
            for earlier in self._times:
                track.add(None, earlier)
        for person_id, track in self.tracks.items():
            track.add(people.get(person_id), time_s)
        self._times.append(time_s)


# ---------------------------------------------------------------------------
