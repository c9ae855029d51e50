"""Procedural human poses in the 28-joint MPI-INF-3DHP skeleton, filmed by virtual studio cameras.

Bodies with anthropometric bone lengths (men and women, short and tall) are posed by forward
kinematics on the tree of skeleton_utils.PARENTS, with joint angles inside anatomical limits,
in a mix of everyday activities; each pose is stood on a floor, balanced over its feet where
it stands, and seen by one of its body's pinhole cameras placed like the MPI-INF-3DHP studio's
(2048 x 2048 images, focal ~1500 px, 3-6 m away). The bundled model is trained only on these
poses and then run on photos of real people, so their realism is the product.

    python synthetic.py --out synth.npz --n 20000 --seed 0 --preview synth.png

Body frame (rest pose and joint rotations): x = the person's left, y = up, z = forward.
Cameras and the output are OpenCV camera space in millimetres (x right, y down, z forward).
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import compare_real
from atomic import write_npz
from bodies import CLEARANCE, MASS_WEIGHTS, floor_height, sample_bodies
from camera import CAMERAS_PER_SUBJECT, project, stage_positions, studio_cameras, world_to_camera
from geometry import swing
from joint_angles import (ANGLE_LIMITS, MIDLINE_LIMITS, SIDES, clip_to_limits, forward_kinematics,
                          mirror_angles, shoulder_max_elevation)
from skeleton_utils import NUM_JOINTS, ROOT, J

POSES_PER_SUBJECT = 300  # default: one generated body per this many poses
# Poses generated at once: bounds the memory for a million poses. Fixed, because the random
# streams are per chunk, so the output for a seed must not depend on anything else.
_CHUNK = 32768


# ---------------------------------------------------------------------------
# Activities: joint angles for everyday poses
# ---------------------------------------------------------------------------
Ranges = dict  # DOF name -> (low, high) degrees, drawn uniformly; "both_<dof>" sets both sides alike
_HANG = "hang"  # an arm hanging under gravity beside the body, whatever the trunk's lean

# One arm's everyday presets (left-arm angles; the right arm uses the same numbers mirrored).
_ARM = {
    "front": {"shoulder_elev": (10, 35), "shoulder_plane": (60, 100), "shoulder_rot": (20, 55),
              "elbow_flex": (60, 100), "forearm_pron": (0, 60), "wrist_flex": (-15, 20)},
    "texting": {"shoulder_elev": (10, 30), "shoulder_plane": (60, 100), "shoulder_rot": (30, 60),
                "elbow_flex": (85, 115), "forearm_pron": (40, 80), "wrist_flex": (-25, 5)},
    "hip": {"shoulder_elev": (35, 55), "shoulder_plane": (-15, 15), "shoulder_rot": (65, 90),
            "elbow_flex": (90, 120), "forearm_pron": (40, 80), "wrist_flex": (-30, 0)},
    "crossed": {"shoulder_elev": (15, 35), "shoulder_plane": (45, 90), "shoulder_rot": (70, 90),
                "elbow_flex": (105, 135), "forearm_pron": (20, 60)},
    "ear": {"shoulder_elev": (40, 60), "shoulder_plane": (40, 80), "shoulder_rot": (0, 30),
            "elbow_flex": (140, 150), "forearm_pron": (30, 80)},
    "face": {"shoulder_elev": (25, 50), "shoulder_plane": (70, 100), "shoulder_rot": (20, 50),
             "elbow_flex": (130, 150), "forearm_pron": (30, 80)},
    "point": {"shoulder_elev": (50, 100), "shoulder_plane": (20, 120), "shoulder_rot": (-20, 40),
              "elbow_flex": (0, 30), "wrist_flex": (-20, 10)},
    "gesture": {"shoulder_elev": (10, 45), "shoulder_plane": (30, 100), "shoulder_rot": (-10, 40),
                "elbow_flex": (50, 110), "forearm_pron": (-40, 60), "wrist_flex": (-30, 30)},
    "behind": {"shoulder_elev": (10, 30), "shoulder_plane": (-100, -60), "shoulder_rot": (50, 85),
               "elbow_flex": (60, 100), "forearm_pron": (0, 60)},
    "pocket": {"shoulder_elev": (0, 12), "shoulder_plane": (-70, 20), "shoulder_rot": (0, 30),
               "elbow_flex": (25, 50), "forearm_pron": (20, 70), "wrist_flex": (0, 30)},
    "thigh": {"shoulder_elev": (15, 35), "shoulder_plane": (60, 100), "shoulder_rot": (20, 50),
              "elbow_flex": (40, 80), "forearm_pron": (40, 80)},
    "table": {"shoulder_elev": (25, 55), "shoulder_plane": (70, 100), "shoulder_rot": (30, 60),
              "elbow_flex": (80, 120), "forearm_pron": (40, 80)},
    "armrest": {"shoulder_elev": (5, 25), "shoulder_plane": (-30, 30), "shoulder_rot": (0, 30),
                "elbow_flex": (70, 100), "forearm_pron": (20, 70)},
    "chin": {"shoulder_elev": (30, 60), "shoulder_plane": (70, 100), "shoulder_rot": (10, 40),
             "elbow_flex": (135, 150), "forearm_pron": (30, 80)},
    "forward": {"shoulder_elev": (60, 95), "shoulder_plane": (70, 100), "shoulder_rot": (-10, 30),
                "elbow_flex": (0, 40)},
    "clasped": {"shoulder_elev": (25, 55), "shoulder_plane": (80, 110), "shoulder_rot": (40, 70),
                "elbow_flex": (70, 110), "forearm_pron": (30, 80)},
    "knee": {"shoulder_elev": (30, 60), "shoulder_plane": (50, 90), "shoulder_rot": (0, 30),
             "elbow_flex": (10, 50)},
    "floor_behind": {"shoulder_elev": (20, 45), "shoulder_plane": (-100, -65), "shoulder_rot": (-20, 20),
                     "elbow_flex": (0, 15), "wrist_flex": (-70, -40)},
    "overhead": {"shoulder_elev": (145, 175), "shoulder_plane": (0, 100), "shoulder_rot": (-40, 20),
                 "elbow_flex": (0, 40)},
    "side_out": {"shoulder_elev": (30, 80), "shoulder_plane": (0, 60), "shoulder_rot": (-20, 30),
                 "elbow_flex": (10, 60)},
    "head_rest": {"shoulder_elev": (100, 135), "shoulder_plane": (-20, 20), "shoulder_rot": (-90, -75),
                  "elbow_flex": (130, 150)},
    "sides": {"shoulder_elev": (0, 25), "shoulder_plane": (-20, 40), "shoulder_rot": (0, 30),
              "elbow_flex": (0, 30)},  # along the body, lying down
    "chest": {"shoulder_elev": (10, 35), "shoulder_plane": (80, 110), "shoulder_rot": (55, 85),
              "elbow_flex": (100, 140)},
    "prayer": {"shoulder_elev": (10, 30), "shoulder_plane": (80, 110), "shoulder_rot": (60, 90),
               "elbow_flex": (120, 150), "wrist_flex": (-70, -50)},
}
# Both arms: (weight, left preset, right preset); _HANG or a name in _ARM.
_EVERYDAY_ARMS = (
    (0.34, _HANG, _HANG), (0.10, "front", "front"), (0.07, "texting", _HANG), (0.05, "texting", "texting"),
    (0.06, "hip", "hip"), (0.04, "hip", _HANG), (0.06, "crossed", "crossed"), (0.04, "ear", _HANG),
    (0.04, "face", _HANG), (0.06, "point", _HANG), (0.05, "gesture", "gesture"), (0.04, "gesture", _HANG),
    (0.05, "behind", "behind"), (0.04, "pocket", "pocket"), (0.02, "pocket", _HANG),
)
# One free arm when the other is busy: (weight, preset).
_FREE_ARM = ((0.6, _HANG), (0.1, "front"), (0.1, "hip"), (0.05, "texting"), (0.05, "gesture"), (0.05, "pocket"),
             (0.05, "face"))
_SITTING_ARMS = (
    (0.2, "thigh", "thigh"), (0.1, "thigh", _HANG), (0.15, "table", "table"), (0.1, "armrest", "armrest"),
    (0.1, "texting", "texting"), (0.07, "chin", "table"), (0.08, "crossed", "crossed"), (0.05, "face", "thigh"),
    (0.1, _HANG, _HANG), (0.05, "gesture", "thigh"),
)
_SQUAT_ARMS = ((0.3, "forward", "forward"), (0.25, "clasped", "clasped"), (0.25, "knee", "knee"),
               (0.2, _HANG, _HANG))
_LYING_ARMS = ((0.35, "sides", "sides"), (0.15, "overhead", "overhead"), (0.2, "head_rest", "head_rest"),
               (0.15, "chest", "chest"), (0.15, "head_rest", "sides"))


@dataclass(frozen=True)
class _Variant:
    """One way of doing an activity.

    ranges: uniform DOF ranges (degrees). Leg flexion and abduction are given relative to
    upright, so a tilted pelvis keeps the legs where asked (_legs_follow_pelvis).
    arms: what the arms not set in ranges do, drawn from these (weight, left, right) presets.
    plant: sides whose foot stands flat on the floor, with the heel lifted by heel[side] degrees.
    balance: shift the pelvis over the planted feet (the legs lean) to hold the centre of mass there.
    """

    weight: float
    ranges: Ranges = field(default_factory=dict)
    arms: tuple = _EVERYDAY_ARMS
    plant: tuple[str, ...] = SIDES
    heel: dict = field(default_factory=dict)
    balance: bool = True


def _neutral(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Relaxed upright standing with small natural variation: the starting point of every activity."""
    def u(lo, hi):
        return rng.uniform(lo, hi, n)

    a = {name: np.zeros(n) for name in ANGLE_LIMITS}
    a.update(yaw=u(-180, 180), lean_pitch=rng.normal(0, 2, n), lean_roll=rng.normal(0, 1.5, n),
             pelvis_tilt=u(-4, 4), pelvis_roll=rng.normal(0, 1.5, n), spine_flex=u(-6, 6),
             spine_lat=rng.normal(0, 3, n), spine_twist=rng.normal(0, 5, n), neck_flex=rng.normal(0, 7, n),
             neck_lat=rng.normal(0, 4, n), neck_twist=rng.normal(0, 15, n), head_nod=rng.normal(0, 4, n))
    for side in SIDES:
        a.update({f"{side}_{dof}": values for dof, values in dict(
            clav_elev=u(-3, 5), clav_prot=u(-5, 8), shoulder_elev=u(3, 10), shoulder_plane=u(-20, 40),
            shoulder_rot=u(0, 30), elbow_flex=u(5, 40), forearm_pron=u(-10, 40), wrist_flex=u(-5, 20),
            wrist_dev=u(-5, 15), hip_flex=u(-4, 6), hip_abd=u(-1, 5), hip_rot=u(-12, 5), knee_flex=u(0, 18),
            tibia_rot=rng.normal(0, 4, n), foot_abd=u(-3, 10), toe_ext=u(-5, 5)).items()})
    return a


_BOTH_SIDES_SPREAD = 0.08  # "both_" ranges: the sides differ by up to this fraction of the range


def _fill(a: dict, rows: np.ndarray, ranges: Ranges, rng: np.random.Generator) -> None:
    """Draw the DOFs in ranges; "both_<dof>" gives the two sides similar values (people move symmetrically)."""
    for key, (lo, hi) in ranges.items():
        shared = rng.uniform(lo, hi, len(rows))
        if not key.startswith("both_"):
            a[key][rows] = shared
            continue
        spread = _BOTH_SIDES_SPREAD * (hi - lo)
        for side in SIDES:
            a[f"{side}_{key[5:]}"][rows] = np.clip(shared + rng.uniform(-spread, spread, len(rows)), lo, hi)


def _trunk_pitch(a: dict, rows: np.ndarray) -> np.ndarray:
    """Forward pitch of the thorax from vertical (deg)."""
    return a["lean_pitch"][rows] + a["pelvis_tilt"][rows] + a["spine_flex"][rows]


def _arm_from_swing(forward: np.ndarray, sideways: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(elevation, plane) of an arm swung `forward` (deg, sagittal) after raising it `sideways`."""
    s, b = np.radians(forward), np.radians(sideways)
    elevation = np.degrees(np.arccos(np.clip(np.cos(b) * np.cos(s), -1, 1)))
    plane = np.degrees(np.arctan2(np.cos(b) * np.sin(s), np.sin(b)))
    return elevation, plane


def _hang(a: dict, rows: np.ndarray, side: str, rng: np.random.Generator) -> None:
    """A relaxed arm hanging under gravity: swung forward by as much as the thorax leans."""
    forward = _trunk_pitch(a, rows) + rng.uniform(-8, 10, len(rows))
    elev, plane = _arm_from_swing(forward, rng.uniform(2, 9, len(rows)))
    a[f"{side}_shoulder_elev"][rows], a[f"{side}_shoulder_plane"][rows] = elev, plane
    a[f"{side}_shoulder_rot"][rows] = rng.uniform(0, 30, len(rows))
    a[f"{side}_elbow_flex"][rows] = rng.uniform(5, 25, len(rows))


def _set_arm(a: dict, rows: np.ndarray, side: str, preset, rng: np.random.Generator) -> None:
    if preset == _HANG:
        _hang(a, rows, side, rng)
    else:
        _fill(a, rows, {f"{side}_{dof}": r for dof, r in _ARM[preset].items()}, rng)


def _set_arms(a: dict, rows: np.ndarray, library: tuple, rng: np.random.Generator, free: tuple[str, ...] = SIDES):
    """Draw a (left, right) preset pair per pose from library; with one arm busy, the free one from _FREE_ARM."""
    if len(free) < len(SIDES):
        library = tuple((w, preset, preset) for w, preset in _FREE_ARM)
    weights = np.array([entry[0] for entry in library])
    pick = rng.choice(len(library), len(rows), p=weights / weights.sum())
    for k, (_, *presets) in enumerate(library):
        chosen = rows[pick == k]
        for side, preset in zip(SIDES, presets):
            if side in free and len(chosen):
                _set_arm(a, chosen, side, preset, rng)


def _legs_follow_pelvis(a: dict, rows: np.ndarray) -> None:
    """Turn upright-relative leg angles into hip angles relative to the tilted pelvis."""
    for side, sign in (("left", -1.0), ("right", 1.0)):
        a[f"{side}_hip_flex"][rows] += a["pelvis_tilt"][rows]
        a[f"{side}_hip_abd"][rows] += sign * a["pelvis_roll"][rows]


def _flat_foot_dorsiflexion(a: dict, rows: np.ndarray, side: str) -> np.ndarray:
    """Ankle angle that sets the sole level with the floor (sagittal chain of pelvis, hip, knee)."""
    return (a[f"{side}_knee_flex"][rows] + a["pelvis_tilt"][rows] + a["lean_pitch"][rows]
            - a[f"{side}_hip_flex"][rows])


def _plant(a: dict, rows: np.ndarray, side: str, heel: tuple[float, float], rng: np.random.Generator) -> None:
    """Foot flat on the floor, or on its toes when the heel is lifted (or the ankle runs out of range)."""
    flat = _flat_foot_dorsiflexion(a, rows, side)
    lo, hi = ANGLE_LIMITS[f"{side}_ankle_dorsi"]
    dorsi = np.clip(flat - rng.uniform(*heel, len(rows)), lo, hi)
    a[f"{side}_ankle_dorsi"][rows] = dorsi
    a[f"{side}_toe_ext"][rows] = flat - dorsi + rng.uniform(-3, 3, len(rows))  # toes stay on the floor


def _apply_variants(variants: tuple[_Variant, ...], a: dict, rows: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pose rows as one of the variants each; returns which rows balance over their feet and which stand on both."""
    weights = np.array([v.weight for v in variants])
    pick = rng.choice(len(variants), len(rows), p=weights / weights.sum())
    balance = np.zeros(len(rows), dtype=bool)
    two_feet = np.zeros(len(rows), dtype=bool)
    for k, v in enumerate(variants):
        chosen = rows[pick == k]
        if not len(chosen):
            continue
        _fill(a, chosen, v.ranges, rng)
        _legs_follow_pelvis(a, chosen)
        busy = {side for side in SIDES for key in v.ranges
                if key in (f"{side}_shoulder_elev", "both_shoulder_elev")}
        free = tuple(side for side in SIDES if side not in busy)
        if free:
            _set_arms(a, chosen, v.arms, rng, free)
        for side in v.plant:
            _plant(a, chosen, side, v.heel.get(side, (0, 0)), rng)
        balance[pick == k] = v.balance
        two_feet[pick == k] = len(v.plant) == len(SIDES)
    return balance, two_feet


_STANDING = (
    _Variant(0.42),
    _Variant(0.30, {"left_hip_flex": (2, 12), "left_knee_flex": (8, 25), "left_hip_abd": (0, 8),
                    "pelvis_roll": (-6, -2), "right_hip_abd": (-2, 3)}, heel={"left": (0, 12)}),
    _Variant(0.10, {"both_hip_abd": (6, 15), "both_hip_rot": (-20, 0)}),
    _Variant(0.10, {"lean_pitch": (-12, 15), "lean_roll": (-10, 10), "both_knee_flex": (0, 12)}, balance=False),
    _Variant(0.08, {"neck_flex": (-45, -15), "head_nod": (-15, 0)}),  # looking up
)
_SITTING = (
    _Variant(0.30, {"pelvis_tilt": (-12, 12), "both_hip_flex": (75, 100), "both_knee_flex": (60, 115),
                    "both_hip_abd": (0, 20), "both_hip_rot": (-20, 10), "spine_flex": (-5, 20),
                    "neck_flex": (-10, 25)}, arms=_SITTING_ARMS, balance=False),
    _Variant(0.12, {"pelvis_tilt": (-25, -10), "spine_flex": (10, 35), "lean_pitch": (-10, 0),
                    "both_hip_flex": (65, 95), "both_knee_flex": (30, 90), "both_hip_abd": (0, 25),
                    "neck_flex": (0, 30)}, arms=_SITTING_ARMS, balance=False),
    _Variant(0.12, {"pelvis_tilt": (15, 35), "both_hip_flex": (80, 100), "both_knee_flex": (80, 120),
                    "spine_flex": (10, 35), "both_hip_abd": (0, 20), "neck_flex": (-20, 20)},
             arms=_SITTING_ARMS, balance=False),
    _Variant(0.13, {"pelvis_tilt": (-10, 10), "left_hip_flex": (95, 115), "left_hip_abd": (-20, -8),
                    "left_hip_rot": (-10, 10), "left_knee_flex": (70, 110), "right_hip_flex": (80, 95),
                    "right_knee_flex": (70, 100), "spine_flex": (0, 25)},
             arms=_SITTING_ARMS, plant=("right",), balance=False),
    _Variant(0.09, {"pelvis_tilt": (-25, 5), "both_hip_flex": (80, 100), "both_knee_flex": (0, 25),
                    "both_ankle_dorsi": (-30, 5), "spine_flex": (0, 30), "both_hip_abd": (0, 15)},
             arms=((0.5, "floor_behind", "floor_behind"), (0.3, "thigh", "thigh"), (0.2, "floor_behind", "knee")),
             plant=(), balance=False),
    _Variant(0.12, {"pelvis_tilt": (-10, 15), "both_hip_flex": (55, 85), "both_hip_abd": (30, 45),
                    "both_hip_rot": (-40, -25), "both_knee_flex": (125, 150), "both_ankle_dorsi": (-30, 0),
                    "spine_flex": (0, 30)}, arms=((0.6, "knee", "knee"), (0.4, "thigh", "chin")),
             plant=(), balance=False),
    _Variant(0.12, {"pelvis_tilt": (-25, 0), "both_hip_flex": (95, 125), "both_knee_flex": (100, 140),
                    "spine_flex": (10, 40), "both_hip_abd": (0, 15)},
             arms=((0.5, "clasped", "clasped"), (0.3, "floor_behind", "floor_behind"), (0.2, "knee", "knee")),
             balance=False),
)
_SQUATTING = (
    _Variant(0.35, {"pelvis_tilt": (15, 35), "both_hip_flex": (75, 100), "both_knee_flex": (110, 150),
                    "both_hip_abd": (10, 30), "both_hip_rot": (-30, -5), "spine_flex": (5, 30),
                    "neck_flex": (-30, 10)}, arms=_SQUAT_ARMS),
    _Variant(0.35, {"pelvis_tilt": (10, 35), "both_hip_flex": (40, 80), "both_knee_flex": (60, 100),
                    "both_hip_abd": (5, 20), "both_hip_rot": (-25, 0), "spine_flex": (0, 25)}, arms=_SQUAT_ARMS),
    _Variant(0.30, {"pelvis_tilt": (10, 35), "both_hip_flex": (80, 105), "both_knee_flex": (130, 150),
                    "both_hip_abd": (10, 30), "both_hip_rot": (-30, -5), "spine_flex": (5, 30)},
             arms=_SQUAT_ARMS, heel={"left": (15, 40), "right": (15, 40)}),
)
_BENDING = (
    _Variant(0.40, {"pelvis_tilt": (40, 90), "both_hip_flex": (-8, 8), "both_knee_flex": (0, 15),
                    "spine_flex": (10, 45), "neck_flex": (-40, 30)}, arms=((1.0, _HANG, _HANG),)),
    _Variant(0.35, {"pelvis_tilt": (30, 70), "both_hip_flex": (10, 40), "both_knee_flex": (20, 60),
                    "spine_flex": (10, 40), "neck_flex": (-40, 20)},
             arms=((0.6, _HANG, _HANG), (0.25, "knee", "knee"), (0.15, _HANG, "knee"))),
    _Variant(0.25, {"pelvis_tilt": (15, 45), "both_hip_flex": (-5, 5), "both_knee_flex": (0, 10),
                    "spine_flex": (0, 25), "neck_flex": (-30, 10)},
             arms=((0.6, "forward", "forward"), (0.4, "forward", _HANG))),
)
_REACHING = (
    _Variant(0.30, {"left_shoulder_elev": (60, 110), "left_shoulder_plane": (60, 110), "left_shoulder_rot": (-20, 40),
                    "left_elbow_flex": (0, 40), "left_clav_prot": (5, 25), "pelvis_tilt": (0, 25),
                    "spine_flex": (0, 25)}),
    _Variant(0.25, {"left_shoulder_elev": (120, 175), "left_shoulder_plane": (10, 100), "left_elbow_flex": (0, 30),
                    "neck_flex": (-45, -10), "spine_flex": (-15, 5), "spine_lat": (-10, 5)},
             heel={"left": (0, 35), "right": (0, 35)}),
    _Variant(0.20, {"left_shoulder_elev": (60, 110), "left_shoulder_plane": (-20, 30), "left_elbow_flex": (0, 30),
                    "spine_lat": (5, 25), "neck_twist": (10, 50), "left_hip_abd": (5, 20)}),
    _Variant(0.15, {"left_shoulder_elev": (30, 70), "left_shoulder_plane": (60, 100), "left_elbow_flex": (0, 20),
                    "pelvis_tilt": (30, 70), "spine_flex": (10, 40), "both_knee_flex": (10, 40),
                    "both_hip_flex": (0, 25)}),
    _Variant(0.10, {"left_shoulder_elev": (60, 100), "left_shoulder_plane": (100, 140), "left_elbow_flex": (0, 30),
                    "spine_twist": (-35, -10), "neck_twist": (-50, -10)}),
)
_ARMS_RAISED = (
    _Variant(0.25, {"both_shoulder_elev": (140, 175), "both_shoulder_plane": (0, 100), "both_shoulder_rot": (-40, 20),
                    "both_elbow_flex": (0, 40), "neck_flex": (-30, 5)}),
    _Variant(0.15, {"both_shoulder_elev": (115, 150), "both_shoulder_plane": (-10, 40), "both_elbow_flex": (0, 25),
                    "both_shoulder_rot": (-30, 10)}),
    _Variant(0.12, {"both_shoulder_elev": (75, 100), "both_shoulder_plane": (-15, 30), "both_elbow_flex": (0, 20),
                    "both_shoulder_rot": (-30, 30)}),
    _Variant(0.15, {"both_shoulder_elev": (100, 135), "both_shoulder_plane": (-20, 20), "both_shoulder_rot": (-90, -75),
                    "both_elbow_flex": (130, 150)}),
    _Variant(0.18, {"left_shoulder_elev": (80, 150), "left_shoulder_plane": (0, 70), "left_shoulder_rot": (-70, -30),
                    "left_elbow_flex": (30, 100)}),
    _Variant(0.15, {"both_shoulder_elev": (70, 100), "both_shoulder_plane": (-10, 30), "both_shoulder_rot": (-90, -60),
                    "both_elbow_flex": (70, 110)}),
)
# Sport and play (../shared/mocap's basketball, soccer, dance): the ready stance with bent knees and
# a forward trunk, wide stances, lunges and a leg lifted high. Real motion capture spends much time
# at 20-50 degrees of knee flexion, where the other activities are rare (synthetic.py --compare-real).
_SPORTS = (
    _Variant(0.40, {"pelvis_tilt": (5, 25), "both_hip_flex": (15, 45), "both_knee_flex": (20, 55),
                    "both_hip_abd": (5, 20), "spine_flex": (5, 30), "both_elbow_flex": (30, 100)},
             arms=((0.4, "front", "front"), (0.3, "gesture", "gesture"), (0.3, _HANG, _HANG))),
    _Variant(0.25, {"pelvis_tilt": (0, 20), "left_hip_flex": (30, 70), "left_knee_flex": (30, 75),
                    "right_hip_flex": (-15, 10), "right_knee_flex": (10, 40), "spine_flex": (0, 25),
                    "both_hip_abd": (0, 15)}, arms=((0.5, "gesture", "gesture"), (0.5, _HANG, _HANG)), balance=False),
    _Variant(0.20, {"both_hip_abd": (12, 30), "both_knee_flex": (15, 45), "both_hip_flex": (5, 30),
                    "both_hip_rot": (-30, -5), "spine_twist": (-30, 30)},
             arms=((0.5, "point", "gesture"), (0.5, "front", _HANG))),
    _Variant(0.15, {"left_hip_flex": (50, 100), "left_hip_abd": (0, 40), "left_knee_flex": (10, 90),
                    "right_knee_flex": (5, 30), "spine_flex": (-10, 15)},
             arms=((0.6, "side_out", "side_out"), (0.4, "gesture", "gesture")), plant=("right",)),
)
_CROUCHING = (
    _Variant(0.30, {"pelvis_tilt": (30, 60), "both_hip_flex": (75, 100), "both_knee_flex": (120, 150),
                    "spine_flex": (15, 40), "both_hip_abd": (5, 25), "both_hip_rot": (-25, 0)},
             arms=((0.5, _HANG, _HANG), (0.3, "forward", "forward"), (0.2, "knee", "knee")),
             heel={"left": (15, 40), "right": (15, 40)}),
    _Variant(0.30, {"pelvis_tilt": (-5, 15), "left_hip_flex": (75, 95), "left_knee_flex": (75, 100),
                    "right_hip_flex": (-15, 10), "right_knee_flex": (80, 105), "spine_flex": (0, 25),
                    "left_hip_abd": (0, 15)}, arms=((0.5, _HANG, _HANG), (0.3, "knee", _HANG), (0.2, "knee", "knee")),
             balance=False),
    _Variant(0.15, {"pelvis_tilt": (-5, 15), "both_hip_flex": (-10, 20), "both_knee_flex": (80, 100),
                    "both_hip_abd": (0, 10)}, balance=False),
    _Variant(0.12, {"pelvis_tilt": (0, 25), "both_hip_flex": (45, 60), "both_knee_flex": (140, 150),
                    "both_ankle_dorsi": (-50, -35), "spine_flex": (0, 25), "both_hip_abd": (0, 15)},
             arms=((0.6, "thigh", "thigh"), (0.4, _HANG, _HANG)), plant=(), balance=False),
    _Variant(0.13, {"pelvis_tilt": (45, 70), "spine_flex": (-10, 15), "both_hip_flex": (-5, 15),
                    "both_knee_flex": (80, 100), "neck_flex": (-45, -15), "both_elbow_flex": (0, 15)},
             arms=((1.0, _HANG, _HANG),), balance=False),
)
_LYING = (
    _Variant(0.40, {"lean_pitch": (-95, -85), "both_hip_flex": (-5, 10), "both_knee_flex": (0, 15),
                    "both_ankle_dorsi": (-40, -10), "neck_flex": (-10, 30)},
             arms=_LYING_ARMS, plant=(), balance=False),
    _Variant(0.15, {"lean_pitch": (-95, -85), "both_hip_flex": (40, 80), "both_knee_flex": (70, 120),
                    "neck_flex": (-10, 30)}, arms=_LYING_ARMS, balance=False),
    _Variant(0.20, {"lean_pitch": (85, 95), "both_hip_flex": (-10, 5), "both_knee_flex": (0, 30),
                    "both_ankle_dorsi": (-50, -30), "neck_twist": (-70, 70), "neck_flex": (-40, -10)},
             arms=((0.4, "head_rest", "head_rest"), (0.3, "sides", "sides"), (0.3, "overhead", "overhead")),
             plant=(), balance=False),
    # On the right side (the mirror image gives the left): the upper (left) leg rests on the lower one.
    _Variant(0.25, {"lean_roll": (80, 95), "both_hip_flex": (10, 60), "both_knee_flex": (20, 90),
                    "left_hip_abd": (-25, -12), "right_hip_abd": (0, 10), "both_ankle_dorsi": (-40, 0),
                    "neck_lat": (-25, 0)},
             arms=((0.5, "forward", "forward"), (0.3, "head_rest", "forward"), (0.2, "sides", "forward")),
             plant=(), balance=False),
)
_EXERCISE = (
    _Variant(0.22, {"pelvis_tilt": (-5, 15), "left_hip_flex": (70, 95), "left_knee_flex": (70, 100),
                    "right_hip_flex": (-30, -10), "right_knee_flex": (60, 100)},
             arms=((0.4, "hip", "hip"), (0.3, _HANG, _HANG), (0.3, "overhead", "overhead"))),
    _Variant(0.13, {"pelvis_tilt": (20, 45), "left_hip_flex": (20, 50), "left_hip_abd": (25, 40),
                    "left_hip_rot": (-30, -10), "left_knee_flex": (70, 110), "right_hip_flex": (0, 15),
                    "right_hip_abd": (25, 40), "right_knee_flex": (0, 10)},
             arms=((0.5, "clasped", "clasped"), (0.5, "forward", "forward"))),
    _Variant(0.17, {"pelvis_tilt": (-15, 5), "left_hip_flex": (40, 100), "left_hip_abd": (-5, 30),
                    "left_knee_flex": (0, 60), "left_ankle_dorsi": (-40, 0), "right_knee_flex": (5, 25),
                    "spine_flex": (-15, 5)}, arms=((1.0, "side_out", "side_out"),), plant=("right",)),
    _Variant(0.12, {"both_hip_abd": (15, 30), "both_knee_flex": (0, 20), "both_shoulder_elev": (130, 175),
                    "both_shoulder_plane": (-10, 30), "both_elbow_flex": (0, 25)},
             heel={"left": (0, 20), "right": (0, 20)}),
    _Variant(0.08, {"both_hip_abd": (0, 10), "both_knee_flex": (0, 20), "both_shoulder_elev": (10, 60),
                    "both_shoulder_plane": (-10, 30), "both_elbow_flex": (0, 25)},
             heel={"left": (0, 20), "right": (0, 20)}),
    _Variant(0.10, {"left_hip_flex": (60, 100), "left_knee_flex": (60, 120), "left_ankle_dorsi": (-30, 10),
                    "right_knee_flex": (0, 10)}, arms=((0.5, "side_out", "side_out"), (0.5, "prayer", "prayer")),
             plant=("right",)),
    _Variant(0.10, {"left_hip_flex": (20, 60), "left_hip_abd": (30, 45), "left_hip_rot": (-40, -25),
                    "left_knee_flex": (110, 145), "left_ankle_dorsi": (-40, -10), "right_knee_flex": (0, 8)},
             arms=((0.5, "overhead", "overhead"), (0.5, "prayer", "prayer")), plant=("right",)),
    _Variant(0.08, {"spine_lat": (20, 35), "right_shoulder_elev": (150, 175), "right_shoulder_plane": (0, 40),
                    "right_elbow_flex": (0, 30), "both_hip_abd": (5, 15)}, arms=((1.0, "hip", "hip"),)),
)

# Gait cycles (phase 0 = this foot's heel strike): sagittal hip (relative to an upright pelvis),
# knee and ankle angles after normal-gait curves (Winter), running after sprint-coaching curves.
_WALK = {
    "hip_flex": ((0, 25), (0.1, 22), (0.3, 5), (0.5, -10), (0.6, -5), (0.75, 15), (0.88, 27), (1.0, 25)),
    "knee_flex": ((0, 3), (0.15, 18), (0.35, 5), (0.45, 6), (0.6, 38), (0.72, 62), (0.85, 35), (0.95, 5), (1.0, 3)),
    "ankle_dorsi": ((0, 0), (0.07, -6), (0.3, 8), (0.45, 12), (0.55, 0), (0.62, -18), (0.75, -2), (0.9, 2),
                    (1.0, 0)),
    "toe_ext": ((0, 10), (0.1, 0), (0.4, 5), (0.5, 20), (0.6, 35), (0.66, 15), (0.72, 0), (1.0, 10)),
}
_RUN = {
    "hip_flex": ((0, 30), (0.15, 15), (0.35, -12), (0.45, -15), (0.6, 10), (0.8, 55), (0.9, 45), (1.0, 30)),
    "knee_flex": ((0, 20), (0.12, 40), (0.35, 20), (0.5, 60), (0.7, 115), (0.85, 70), (0.95, 25), (1.0, 20)),
    "ankle_dorsi": ((0, 5), (0.15, 20), (0.35, -25), (0.5, -10), (0.7, 5), (1.0, 5)),
    "toe_ext": ((0, 5), (0.25, 10), (0.35, 35), (0.45, 10), (1.0, 5)),
}


def _gait(curves: dict, arm_swing: tuple[float, float], elbow: tuple[float, float], tilt: tuple[float, float],
          a: dict, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Walking or running: legs half a cycle apart, each arm swinging opposite its own leg."""
    n = len(rows)
    phase = rng.random(n)
    stride = rng.uniform(0.75, 1.2, n)
    swing = rng.uniform(*arm_swing, n) * stride
    a["pelvis_tilt"][rows] = rng.uniform(*tilt, n)
    a["spine_twist"][rows] = rng.normal(0, 3, n) + 0.3 * swing * np.cos(2 * np.pi * phase)
    own_arms = rng.random(n) < 0.75  # the rest carry, text or gesture while walking
    for side, offset in (("left", 0.0), ("right", 0.5)):
        p = (phase + offset) % 1.0
        for dof, keys in curves.items():
            xs, ys = zip(*keys)
            a[f"{side}_{dof}"][rows] = stride * np.interp(p, xs, ys)
        forward = -swing * np.cos(2 * np.pi * p)  # arm back when its own leg is forward
        elev, plane = _arm_from_swing(forward + _trunk_pitch(a, rows), rng.uniform(4, 12, n))
        lo, hi = elbow
        flex = rng.uniform(lo, hi, n) + 0.4 * np.maximum(forward, 0)
        for dof, value in (("shoulder_elev", elev), ("shoulder_plane", plane), ("elbow_flex", flex),
                           ("shoulder_rot", rng.uniform(5, 30, n))):
            a[f"{side}_{dof}"][rows] = np.where(own_arms, value, a[f"{side}_{dof}"][rows])
    _set_arms(a, rows[~own_arms], _EVERYDAY_ARMS, rng)
    _legs_follow_pelvis(a, rows)
    return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)


def _random_pose(a: dict, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Any joint angles within the limits, the body upright-ish: diversity beyond the scripted activities.

    Each angle is the mean of two uniform draws over its range, so the whole range is covered but
    extreme combinations, which look like puppets rather than people, stay rarer.
    """
    def draw(lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * rng.random((2, len(rows))).mean(0)

    for name, (lo, hi) in ANGLE_LIMITS.items():
        if name not in MIDLINE_LIMITS or name.startswith(("spine", "neck", "head")):
            a[name][rows] = draw(lo, hi)
    a["pelvis_tilt"][rows] = draw(-20, 60)
    a["pelvis_roll"][rows] = draw(-15, 15)
    for side in SIDES:
        a[f"{side}_shoulder_elev"][rows] = draw(0, 1) * shoulder_max_elevation(a[f"{side}_shoulder_plane"][rows])
    return np.ones(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)


_SAMPLERS = {
    "standing": partial(_apply_variants, _STANDING),
    "walking": partial(_gait, _WALK, (8, 25), (10, 30), (-2, 8)),
    "running": partial(_gait, _RUN, (30, 55), (70, 100), (5, 15)),
    "sitting": partial(_apply_variants, _SITTING),
    "squatting": partial(_apply_variants, _SQUATTING),
    "bending": partial(_apply_variants, _BENDING),
    "reaching": partial(_apply_variants, _REACHING),
    "arms_raised": partial(_apply_variants, _ARMS_RAISED),
    "crouching": partial(_apply_variants, _CROUCHING),
    "lying": partial(_apply_variants, _LYING),
    "exercise": partial(_apply_variants, _EXERCISE),
    "sports": partial(_apply_variants, _SPORTS),
    "random": _random_pose,
}
ACTIVITY_WEIGHTS = {
    "standing": 0.13, "walking": 0.13, "running": 0.06, "sitting": 0.12, "squatting": 0.06, "bending": 0.07,
    "reaching": 0.08, "arms_raised": 0.06, "crouching": 0.06, "lying": 0.04, "exercise": 0.06, "sports": 0.08,
    "random": 0.05,
}
ACTIVITIES = tuple(ACTIVITY_WEIGHTS)


def _scapular_rhythm(a: dict) -> None:
    """The shoulder girdle follows the arm: it rises as the arm goes overhead, comes forward as it reaches."""
    for side in SIDES:
        elev, plane = a[f"{side}_shoulder_elev"], a[f"{side}_shoulder_plane"]
        a[f"{side}_clav_elev"] += 0.15 * np.maximum(elev - 40, 0)
        a[f"{side}_clav_prot"] += 0.12 * np.maximum(elev - 20, 0) * np.sin(np.radians(plane))


def sample_angles(activity: np.ndarray, rng: np.random.Generator
                  ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Joint angles (deg, within ANGLE_LIMITS) for poses of the given activity indices.

    Also returns which poses balance over their feet and which stand on both feet.
    """
    n = len(activity)
    a = _neutral(rng, n)
    balance, two_feet = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for k, name in enumerate(ACTIVITIES):
        rows = np.flatnonzero(activity == k)
        if len(rows):
            balance[rows], two_feet[rows] = _SAMPLERS[name](a, rows, rng)
    mirror_angles(a, np.flatnonzero(rng.random(n) < 0.5))
    _scapular_rhythm(a)
    clip_to_limits(a)
    return a, balance, two_feet


# ---------------------------------------------------------------------------
# Standing on the floor and keeping balance
# ---------------------------------------------------------------------------
_MAX_BALANCE_LEAN = 25.0  # deg, forward and back
_MAX_BALANCE_ROLL = 8.0  # deg, sideways
# The weight of a foot flat on the floor falls about a third of the way from the ankle to the toes;
# on tiptoe, on the ball of the foot. A foot is flat when it points down no more than at rest (~14 deg).
_FLAT_FOOT_SUPPORT = 0.35
_FLAT_FOOT_PITCH = 15.0


def _foot_contact_heights(pose: np.ndarray) -> np.ndarray:
    """(n, 2) height of the lowest point of each foot's sole (left, right), in the pose's own frame."""
    return np.stack([np.minimum(pose[:, J[f"{side}_foot"], 1] - CLEARANCE[J[f"{side}_foot"]],
                                pose[:, J[f"{side}_toe"], 1] - CLEARANCE[J[f"{side}_toe"]]) for side in SIDES], axis=1)


def _level_feet(a: dict, pose: np.ndarray, rows: np.ndarray) -> None:
    """Put both feet on the floor: the higher one points its toes down (lifting its heel) to reach it."""
    p = pose[rows]
    contact = _foot_contact_heights(p)
    for k, side in enumerate(SIDES):
        gap = contact[:, k] - contact.min(1)
        ankle, toe = p[:, J[f"{side}_ankle"]], p[:, J[f"{side}_toe"]]
        length = np.linalg.norm(toe - ankle, axis=-1)
        down = (ankle[:, 1] - toe[:, 1]) / length  # sine of the foot's downward pitch
        turn = np.degrees(np.arcsin(np.clip(down + gap / length, -1, 1)) - np.arcsin(np.clip(down, -1, 1)))
        a[f"{side}_ankle_dorsi"][rows] -= turn
        a[f"{side}_toe_ext"][rows] += turn  # the toes stay flat on the floor


def _support_point(pose: np.ndarray, two_feet: np.ndarray) -> np.ndarray:
    """(n, 3) centre of the feet's contact with the floor, for upright poses (n, 28, 3).

    Poses standing on both feet share the weight between them; otherwise only the feet on
    (or near) the floor carry it.
    """
    contact = _foot_contact_heights(pose)
    near_floor = np.exp(-(contact - contact.min(1, keepdims=True)) / 40.0)
    weights = np.where(two_feet[:, None], 1.0, near_floor)[..., None]
    points = []
    for side in SIDES:
        ankle, ball, toe = (pose[:, J[f"{side}_{j}"]] for j in ("ankle", "foot", "toe"))
        length = np.linalg.norm(toe - ankle, axis=-1)
        pitch = np.degrees(np.arcsin(np.clip((ankle[:, 1] - toe[:, 1]) / length, -1, 1)))
        flat = np.clip(1 - (pitch - _FLAT_FOOT_PITCH) / 10, 0, 1)[:, None]
        points.append(flat * (ankle + _FLAT_FOOT_SUPPORT * (toe - ankle)) + (1 - flat) * ball)
    return (np.stack(points, axis=1) * weights).sum(1) / weights.sum(1)


def _balance(a: dict, pose: np.ndarray, rows: np.ndarray, two_feet: np.ndarray) -> None:
    """Shift the pelvis over the feet on the floor: the legs lean about the ankles, the trunk keeps its attitude.

    The legs carry everything above the hips with them and half their own mass, so leaning them
    by p moves the centre of mass sideways by about 0.8 * (hip height) * sin(p).
    """
    p = pose[rows]
    com = np.einsum("j,njk->nk", MASS_WEIGHTS, p)
    support = _support_point(p, two_feet[rows])
    reach = 0.8 * np.maximum(p[:, ROOT, 1] - support[:, 1], 100.0)
    pitch = -np.degrees(np.arcsin(np.clip((com[:, 2] - support[:, 2]) / reach, -1, 1)))
    roll = np.degrees(np.arcsin(np.clip((com[:, 0] - support[:, 0]) / reach, -1, 1)))
    pitch = np.clip(pitch, -_MAX_BALANCE_LEAN, _MAX_BALANCE_LEAN)
    roll = np.clip(roll, -_MAX_BALANCE_ROLL, _MAX_BALANCE_ROLL)
    a["lean_pitch"][rows] += pitch
    a["pelvis_tilt"][rows] -= pitch
    a["lean_roll"][rows] += roll
    a["pelvis_roll"][rows] -= roll
    for side, sign in (("left", 1.0), ("right", -1.0)):
        a[f"{side}_hip_abd"][rows] += sign * roll
        a[f"{side}_ankle_dorsi"][rows] += pitch  # the feet stay flat as the legs pivot over them


def pose_bodies(offsets: np.ndarray, activity: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Upright poses (n, 28, 3) standing on the floor y = 0 below the pelvis, and their angles."""
    angles, balance, two_feet = sample_angles(activity, rng)
    pose = forward_kinematics(offsets, angles)
    _level_feet(angles, pose, np.flatnonzero(two_feet))
    _balance(angles, pose, np.flatnonzero(balance), two_feet)
    clip_to_limits(angles)
    rows = np.flatnonzero(balance | two_feet)
    pose[rows] = forward_kinematics(offsets[rows], {k: v[rows] for k, v in angles.items()})
    pose[..., 1] -= floor_height(pose)[:, None]
    return pose, angles


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------
def _check_request(n: int, seed: int, num_subjects: int | None) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of poses, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if num_subjects is None:
        return max(1, round(n / POSES_PER_SUBJECT))
    if not 1 <= num_subjects <= n:
        raise ValueError(f"num_subjects must be between 1 and n = {n} (each body needs a pose), got {num_subjects}")
    return int(num_subjects)


def generate_with_details(n: int, seed: int = 0, num_subjects: int | None = None,
                          keep_angles: bool = True) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """generate_poses() and details: "up" (n, 3), the world's up direction in each pose's camera
    frame, and (with keep_angles) every ANGLE_LIMITS angle (n,) in degrees that built each pose.
    """
    num_subjects = _check_request(n, seed, num_subjects)
    streams = np.random.SeedSequence(seed).spawn(1 + (n + _CHUNK - 1) // _CHUNK)
    setup = np.random.default_rng(streams[0])
    bodies = sample_bodies(num_subjects, setup)
    cameras = studio_cameras(num_subjects, setup)
    weights = np.array(list(ACTIVITY_WEIGHTS.values()))

    index = np.arange(n)
    subject = (index * num_subjects // n).astype(np.int32)  # contiguous blocks, one per body
    first = np.searchsorted(subject, np.arange(num_subjects))
    out = {
        "pose2d": np.empty((n, NUM_JOINTS, 2), np.float32),
        "pose3d": np.empty((n, NUM_JOINTS, 3), np.float32),
        "subject": subject,
        "camera": np.empty(n, np.int32),
        "frame": (index - first[subject]).astype(np.int32),
        "intrinsics": np.empty((n, 4), np.float32),
        "activity": np.empty(n, np.int32),
    }
    details = {"up": np.empty((n, 3), np.float32)}
    if keep_angles:
        details.update({name: np.empty(n, np.float32) for name in ANGLE_LIMITS})
    for chunk, stream in enumerate(streams[1:]):
        rng = np.random.default_rng(stream)
        rows = slice(chunk * _CHUNK, min(n, (chunk + 1) * _CHUNK))
        who = subject[rows]
        activity = rng.choice(len(ACTIVITIES), len(who), p=weights / weights.sum())
        pose, angles = pose_bodies(bodies.offsets[who], activity, rng)
        camera = rng.integers(0, CAMERAS_PER_SUBJECT, len(who))
        place = stage_positions(len(who), rng)
        pose3d = world_to_camera(pose, angles["yaw"], place, cameras, who, camera).astype(np.float32)
        intrinsics = cameras.intrinsics[who, camera]
        out["pose3d"][rows] = pose3d
        out["pose2d"][rows] = project(pose3d.astype(np.float64), intrinsics)  # exact for the stored 3D
        out["intrinsics"][rows] = intrinsics
        out["camera"][rows] = camera
        out["activity"][rows] = activity
        details["up"][rows] = cameras.rotation[who, camera][:, :, 1]
        for name in details.keys() & angles.keys():
            details[name][rows] = angles[name]
    return out, details


def generate_poses(n: int, seed: int = 0, num_subjects: int | None = None) -> dict[str, np.ndarray]:
    """n synthetic poses in the data contract, deterministic for a seed.

    Returns pose2d (n, 28, 2) float32 pixels, pose3d (n, 28, 3) float32 camera mm, intrinsics
    (n, 4) float32, and int32 subject (body id), camera (0..7, that body's camera), frame (index
    within the body) and activity (index into ACTIVITIES). num_subjects: the number of bodies,
    by default one per POSES_PER_SUBJECT poses.
    """
    return generate_with_details(n, seed, num_subjects, keep_angles=False)[0]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def activity_mix(activity: np.ndarray) -> str:
    counts = np.bincount(activity, minlength=len(ACTIVITIES))
    return ", ".join(f"{name} {100 * c / len(activity):.1f}%" for name, c in zip(ACTIVITIES, counts))


def _level(pose: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotate a camera-space pose about its pelvis so that the world's up is the camera's -y."""
    rotation = swing(up / np.linalg.norm(up), np.array([[0.0, -1.0, 0.0]]))[0]
    root = pose[ROOT]
    return (pose - root) @ rotation.T + root


def save_preview(arrays: dict[str, np.ndarray], up: np.ndarray, path: str, seed: int = 0) -> None:
    """A 5 x 5 grid of random poses drawn in 3D (visualize.plot_3d), levelled so the floor is horizontal."""
    from visualize import save_pose_grid  # matplotlib and OpenCV: only the preview needs them

    picks = np.random.default_rng(seed).choice(len(arrays["pose3d"]), min(25, len(arrays["pose3d"])), replace=False)
    save_pose_grid([_level(arrays["pose3d"][i].astype(np.float64), up[i]) for i in picks],
                   [f"{ACTIVITIES[arrays['activity'][i]]} (body {arrays['subject'][i]})" for i in picks],
                   "25 random synthetic poses, levelled to the floor (blue: the person's left, red: right)", path)


def compare_command(args: argparse.Namespace) -> None:
    if os.path.exists(args.out) and not args.force:
        raise SystemExit(f"{args.out} already exists; pass --force to overwrite it or choose another --out.")
    try:
        real = compare_real.load_real_joints(args.compare_real)
    except ValueError as err:  # bvh.BvhError and mocap's errors name the clip
        raise SystemExit(f"error: {err}") from err
    poses, details = generate_with_details(args.n, args.seed, keep_angles=False)
    report = compare_real.compare_with_real(real, poses["pose3d"].astype(np.float64),
                                            details["up"].astype(np.float64), args.out)
    compare_real.print_report(report, len(real), args.n, args.out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output .npz (data contract arrays)")
    parser.add_argument("--n", type=int, default=20000, help="number of poses (default: 20000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--subjects", type=int, default=None,
                        help=f"number of bodies (default: one per {POSES_PER_SUBJECT} poses)")
    parser.add_argument("--preview", help="also draw 25 random poses into this image (e.g. synth.png)")
    parser.add_argument("--compare-real", nargs="+", metavar="BVH",
                        help="compare the joint angles of these real clips (files or folders) with the generated "
                             "poses': prints the share of real poses the generator does not cover, per angle, and "
                             "draws both distributions into --out (a .png) instead of writing poses")
    parser.add_argument("--force", action="store_true", help="overwrite --out and --preview if they exist")
    args = parser.parse_args(argv)
    if args.compare_real:
        return compare_command(args)
    for option, path in (("--out", args.out), ("--preview", args.preview)):
        if path and os.path.exists(path) and not args.force:
            raise SystemExit(f"{path} already exists; pass --force to overwrite it or choose another {option}.")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise SystemExit(f"the folder of --out {args.out} does not exist; create it first.")
    start = time.perf_counter()
    try:
        arrays, details = generate_with_details(args.n, args.seed, args.subjects, keep_angles=False)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    generated = time.perf_counter() - start
    write_npz(args.out, arrays)
    bodies = len(np.unique(arrays["subject"]))
    print(f"{args.n} poses of {bodies} {'body' if bodies == 1 else 'bodies'} (seed {args.seed}) -> {args.out}")
    print(f"activities: {activity_mix(arrays['activity'])}")
    print(f"time: {generated:.1f} s to generate, {time.perf_counter() - start - generated:.1f} s to write")
    if args.preview:
        save_preview(arrays, details["up"], args.preview, args.seed)
        print(f"preview: {args.preview}")


if __name__ == "__main__":
    main()
