"""Human bodies: anthropometric heights and segment proportions, a pose's standing height, and one
motion worn by bodies of other sizes. Shared by synthetic.py (its rest skeletons) and mocap.py (real
motion on many bodies).

Body frame: x = the person's left, y = up, z = forward; millimetres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import skeleton_utils as sk

# The joints a standing body rests on: the lowest of them sits just above the floor.
FEET = [sk.J[n] for n in ("left_ankle", "right_ankle", "left_toe", "right_toe")]


# ---------------------------------------------------------------------------
# Sampling bodies: anthropometric rest skeletons
# ---------------------------------------------------------------------------
# Segment proportions of body height (men, women), after Drillis & Contini / Winter.
_PROPORTIONS = {
    "thigh": (0.245, 0.245),  # hip to knee joint centre
    "shank": (0.246, 0.244),  # knee to ankle
    "ankle_height": (0.039, 0.039),
    "torso": (0.295, 0.292),  # pelvis (hip centres) up to the base of the neck
    "head": (0.112, 0.110),  # base of the neck to the head centre
    "shoulder_half": (0.106, 0.099),  # base of the neck to a shoulder joint
    "hip_half": (0.068, 0.073),  # pelvis to a hip joint
    "upper_arm": (0.186, 0.182),
    "forearm": (0.146, 0.140),
    "hand": (0.050, 0.048),  # wrist to the knuckles' middle
    "foot": (0.122, 0.120),  # ankle to the tip of the toes, horizontally
}
_HEIGHT_MM = {"male": (1760.0, 70.0), "female": (1630.0, 65.0)}
_HEIGHT_Z_LIMIT = 2.3  # heights are clipped to this many standard deviations from the mean
_PROPORTION_SD = 0.03  # individual variation of each segment, relative
# Rest curvature of the spine: how far back of the pelvis each spine joint is, as a fraction of the
# torso length (a gentle S: lumbar curve, rounder thoracic back, neck base forward again).
_SPINE_DEPTH = {"spine": -0.02, "spine2": -0.03, "spine3": -0.045, "spine4": -0.04, "neck": -0.01}


@dataclass(frozen=True)
class Bodies:
    """Generated bodies: body height (mm), sex, and each joint's rest offset from its parent (S, 28, 3)."""

    height: np.ndarray
    female: np.ndarray
    offsets: np.ndarray


def sample_bodies(num: int, rng: np.random.Generator) -> Bodies:
    """num bodies with sex-dependent heights and individually varied segment proportions."""
    female = rng.random(num) < 0.5
    mean = np.where(female, _HEIGHT_MM["female"][0], _HEIGHT_MM["male"][0])
    sd = np.where(female, _HEIGHT_MM["female"][1], _HEIGHT_MM["male"][1])
    height = mean + sd * np.clip(rng.standard_normal(num), -_HEIGHT_Z_LIMIT, _HEIGHT_Z_LIMIT)

    def segment(name: str) -> np.ndarray:
        male_ratio, female_ratio = _PROPORTIONS[name]
        variation = 1 + _PROPORTION_SD * np.clip(rng.standard_normal(num), -2.5, 2.5)
        return height * np.where(female, female_ratio, male_ratio) * variation

    seg = {name: segment(name) for name in _PROPORTIONS}
    posture = rng.uniform(0.5, 1.6, num)  # how round the back is
    head_forward = np.radians(rng.uniform(4, 12, num))
    knock = np.radians(np.where(female, rng.uniform(5, 9, num), rng.uniform(3, 7, num)))  # thighs converge
    toe_out = np.radians(rng.uniform(0, 8, num))

    off = np.zeros((num, sk.NUM_JOINTS, 3))
    previous = np.zeros((num, 3))
    for name in ("spine", "spine2", "spine3", "spine4", "neck"):
        up = sk.SPINE_FRACTIONS.get(name, 1.0) * seg["torso"]
        point = np.stack([np.zeros(num), up, _SPINE_DEPTH[name] * posture * seg["torso"]], axis=1)
        off[:, sk.J[name]] = point - previous
        previous = point
    off[:, sk.J["head"]] = seg["head"][:, None] * np.stack([0 * head_forward, np.cos(head_forward),
                                                           np.sin(head_forward)], axis=1)
    off[:, sk.J["head_top"]] = sk.HEAD_TOP_EXTENSION * off[:, sk.J["head"]]

    h = height
    # The clavicle joint (sternoclavicular) sits a little below and in front of the neck base,
    # sk.CLAVICLE_FRACTION of the way out to the shoulder; the shoulder joint slightly behind the neck.
    clavicle = np.stack([sk.CLAVICLE_FRACTION * seg["shoulder_half"], -0.010 * h, 0.010 * h], axis=1)
    shoulder = np.stack([seg["shoulder_half"], 0 * h, -0.006 * h], axis=1)
    # Ankle to toe tip: forward and down to the floor; the ball of the foot sk.FOOT_FRACTION along,
    # a little lower (the arch); toe-out is part of the rest pose.
    toe = np.stack([seg["foot"] * np.sin(toe_out), -(seg["ankle_height"] - 0.008 * h), seg["foot"] * np.cos(toe_out)],
                   axis=1)
    ball = sk.FOOT_FRACTION * toe + np.stack([0 * h, -0.004 * h, 0 * h], axis=1)
    left = {
        "clavicle": clavicle,
        "shoulder": shoulder - clavicle,
        "elbow": _down(seg["upper_arm"]),
        "wrist": _down(seg["forearm"]),
        "hand": _down(seg["hand"]),
        "hip": np.stack([seg["hip_half"], 0 * h, 0 * h], axis=1),
        "knee": seg["thigh"][:, None] * np.stack([-np.sin(knock), -np.cos(knock), 0 * h], axis=1),
        "ankle": _down(seg["shank"]),
        "foot": ball,
        "toe": toe - ball,
    }
    for part, offset in left.items():
        off[:, sk.J[f"left_{part}"]] = offset
        off[:, sk.J[f"right_{part}"]] = offset * np.array([-1.0, 1.0, 1.0])
    return Bodies(height=height, female=female, offsets=off)


def _down(length: np.ndarray) -> np.ndarray:
    return np.stack([0 * length, -length, 0 * length], axis=1)



# ---------------------------------------------------------------------------
# Measuring a body
# ---------------------------------------------------------------------------
def standing_height(pose: np.ndarray) -> float:
    """A person's standing height from (F, 28, 3) joints, whatever their posture: the median over
    frames of leg + trunk + head lengths (rotation-invariant), over the 96% of the height that
    they span (the ankle's height above the floor is the rest)."""
    J = sk.J
    length = lambda a, b: np.linalg.norm(pose[:, J[a]] - pose[:, J[b]], axis=-1)
    legs = 0.5 * (length("left_hip", "left_knee") + length("left_knee", "left_ankle")
                  + length("right_hip", "right_knee") + length("right_knee", "right_ankle"))
    return float(np.median(legs + length("pelvis", "neck") + length("neck", "head_top")) / 0.96)


_BONE_SD = 0.03  # individual variation of each bone's length, relative (as sample_bodies' segments)


def with_bone_lengths(pose: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(F, 28, 3) joints rebuilt from the pelvis with every bone's length times scale (F, 28) (indexed by child)."""
    out = pose.copy()
    for j in sk.TOPOLOGICAL_ORDER:
        parent = sk.PARENTS[j]
        if parent >= 0:
            out[:, j] = out[:, parent] + scale[:, j, None] * (pose[:, j] - pose[:, parent])
    return out


def random_bodies(pose: np.ndarray, rng: np.random.Generator, one_body: bool = False) -> np.ndarray:
    """The motion on bodies of other sizes: per frame (or, one_body, one for the whole clip), a height drawn
    as sample_bodies draws them and each bone (left and right alike) varied by _BONE_SD."""
    frames = len(pose)
    bodies = 1 if one_body else frames
    height = sample_bodies(bodies, rng).height
    overall = height / standing_height(pose)
    variation = 1 + _BONE_SD * np.clip(rng.standard_normal((bodies, sk.NUM_JOINTS)), -2.5, 2.5)
    variation = 0.5 * (variation + variation[:, list(sk.FLIP_PERM)])  # symmetric bodies
    varied = with_bone_lengths(pose, overall[:, None] * variation)
    # Keep each frame's lowest foot where it was: the pelvis moves, the feet stay on the floor.
    lift = pose[:, FEET, 1].min(axis=1) - varied[:, FEET, 1].min(axis=1)
    varied[..., 1] += lift[:, None]
    return varied


# ---------------------------------------------------------------------------
# Mass and surface: where the weight is and where the floor touches
# ---------------------------------------------------------------------------
# Segment masses (fraction of body mass, Dempster/Winter) placed at the middle of their joints.
_TRUNK_MASSES = (
    (("head",), 0.081), (("pelvis", "spine"), 0.142), (("spine", "spine2", "spine3"), 0.139),
    (("spine3", "spine4", "neck"), 0.216),
)
_LIMB_MASSES = (
    (("shoulder", "elbow"), 0.028), (("elbow", "wrist"), 0.016), (("hand",), 0.006), (("hip", "knee"), 0.100),
    (("knee", "ankle"), 0.0465), (("ankle", "toe"), 0.0145),
)


def _mass_weights() -> np.ndarray:
    w = np.zeros(sk.NUM_JOINTS)
    segments = list(_TRUNK_MASSES) + [(tuple(f"{side}_{j}" for j in joints), mass)
                                      for side in ("left", "right") for joints, mass in _LIMB_MASSES]
    for joints, mass in segments:
        w[[sk.J[j] for j in joints]] += mass / len(joints)
    return w / w.sum()


MASS_WEIGHTS = _mass_weights()
# How far each joint centre lies inside the body surface (mm): the floor is where the first one touches.
_CLEARANCE_MM = {
    "head_top": 10, "head": 95, "neck": 60, "pelvis": 90, "spine": 90, "spine2": 90, "spine3": 90, "spine4": 80,
    **{f"{s}_{j}": mm for s in ("left", "right")
       for j, mm in (("clavicle", 60), ("shoulder", 55), ("elbow", 40), ("wrist", 25), ("hand", 20), ("hip", 85),
                     ("knee", 50), ("ankle", 50), ("foot", 20), ("toe", 12))},
}
CLEARANCE = np.array([_CLEARANCE_MM[name] for name in sk.JOINT_NAMES])


def floor_height(pose: np.ndarray) -> np.ndarray:
    """(n,) height of the floor under upright poses (n, 28, 3): where the lowest body surface touches."""
    return (pose[..., 1] - CLEARANCE).min(-1)


