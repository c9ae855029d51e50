"""Recombined real poses: new, real-looking poses made from real motion-capture frames, as PoseAug does.

Each new pose is a real frame (the receiver) with a part of another real frame (the donor): the whole
upper body, or one arm or leg, turned from the donor's pelvis or thorax into the receiver's. Then some of
its hips, knees, shoulders and elbows are bent a little more or less, each bend kept only where the limb's
measured angles stay within joint_angles' anatomical limits. Every bone keeps the receiver's length: a
pose is rebuilt from its bone directions. mocap.py puts the results on bodies of other sizes and films
them with its cameras, as it does the real frames.
"""
from __future__ import annotations

import numpy as np

import skeleton_utils as sk
from geometry import rotation_about, unit
from joint_angles import ANGLE_LIMITS, SIDES, limb_angles, pelvis_frame

J = sk.J


def _chain(*names: str) -> tuple[int, ...]:
    return tuple(J[name] for name in names)


# The bones (by child joint) a part is made of, and the frame its directions are taken relative to.
_ARM = ("elbow", "wrist", "hand")
_LEG = ("knee", "ankle", "foot", "toe")
UPPER_BODY = _chain("spine", "spine2", "spine3", "spine4", "neck", "head", "head_top",
                    *(f"{side}_{bone}" for side in SIDES for bone in ("clavicle", "shoulder", *_ARM)))
PARTS = {
    "upper body": (UPPER_BODY, "pelvis"),
    **{f"{side} arm": (_chain(*(f"{side}_{bone}" for bone in _ARM)), "thorax") for side in SIDES},
    **{f"{side} leg": (_chain(*(f"{side}_{bone}" for bone in _LEG)), "pelvis") for side in SIDES},
}
SWAP_CHANCES = {"upper body": 0.4, "left arm": 0.15, "right arm": 0.15, "left leg": 0.15, "right leg": 0.15}
BEND_CHANCE = 0.5  # of each limb being bent
HINGE_BEND_DEG = 20.0  # knees and elbows: flexion changed by up to this much
SWING_DEG = 20.0  # hips and shoulders: the whole limb turned by up to this much about a random axis
STRAIGHT_DEG = 10.0  # a hinge straighter than this has no plane to bend in: left as it is
# Per side: (ball joint, its limb's bones below it, hinge joint, the bones below the hinge).
LIMBS = {f"{side} {kind}": (J[f"{side}_{ball}"], _chain(*(f"{side}_{b}" for b in below)), J[f"{side}_{hinge}"],
                            _chain(*(f"{side}_{b}" for b in below[1:])))
         for side in SIDES for kind, ball, hinge, below in (("arm", "shoulder", "elbow", _ARM),
                                                             ("leg", "hip", "knee", _LEG))}


def bone_vectors(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 3) unit directions and (N, 28) lengths of the bones of (N, 28, 3) joints, by child joint
    (the pelvis's are zero)."""
    parents = np.array([max(p, 0) for p in sk.PARENTS])
    vectors = pose - pose[:, parents]
    return unit(vectors), np.linalg.norm(vectors, axis=-1)


def rebuilt(pelvis: np.ndarray, directions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N, 28, 3) joints from the pelvis (N, 3) outwards along the bones' directions and lengths."""
    pose = np.zeros(directions.shape)
    pose[:, sk.ROOT] = pelvis
    for j in sk.TOPOLOGICAL_ORDER[1:]:
        pose[:, j] = pose[:, sk.PARENTS[j]] + lengths[:, j, None] * directions[:, j]
    return pose


def thorax_frame(pose: np.ndarray) -> np.ndarray:
    """(N, 3, 3) the thorax's frame as columns: y = spine3 -> neck, x = right -> left shoulder made orthogonal
    to y, z = x cross y (forward)."""
    y = unit(pose[:, J["neck"]] - pose[:, J["spine3"]])
    shoulders = pose[:, J["left_shoulder"]] - pose[:, J["right_shoulder"]]
    x = unit(shoulders - np.sum(shoulders * y, -1, keepdims=True) * y)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


ANCHOR_FRAMES = {"pelvis": pelvis_frame, "thorax": thorax_frame}


def swap_part(receiver: np.ndarray, donor: np.ndarray, part: str) -> np.ndarray:
    """The receivers (N, 28, 3) with the donors' (N, 28, 3) part, turned from the donor's anchor frame into
    the receiver's; every bone keeps the receiver's length."""
    bones, anchor = PARTS[part]
    directions, lengths = bone_vectors(receiver)
    donated = bone_vectors(donor)[0][:, bones]
    frame_of = ANCHOR_FRAMES[anchor]
    turn = frame_of(receiver) @ np.swapaxes(frame_of(donor), -1, -2)
    directions[:, bones] = np.einsum("nij,nkj->nki", turn, donated)
    return rebuilt(receiver[:, sk.ROOT], directions, lengths)


def within_limits(pose: np.ndarray, side: str, kind: str) -> np.ndarray:
    """(N,) whether one limb's measured angles lie within joint_angles.ANGLE_LIMITS."""
    dofs = ("shoulder_elev", "elbow_flex") if kind == "arm" else ("hip_flex", "hip_abd", "knee_flex")
    angles = limb_angles(pose, side)
    ok = np.ones(len(pose), bool)
    for dof in dofs:
        lo, hi = ANGLE_LIMITS[f"{side}_{dof}"]
        ok &= (angles[dof] >= lo) & (angles[dof] <= hi)
    return ok


def bend_limb(pose: np.ndarray, limb: str, rng: np.random.Generator) -> np.ndarray:
    """The poses with one limb swung at its ball joint (hip, shoulder) and its hinge (knee, elbow) flexed
    more or less; poses whose bent limb leaves the anatomical limits keep the limb as it was."""
    ball, below_ball, hinge, below_hinge = LIMBS[limb]
    side, kind = limb.split()
    n = len(pose)
    directions, lengths = bone_vectors(pose)
    upper, lower = directions[:, hinge], directions[:, below_hinge[0]]
    flexion = np.degrees(np.arccos(np.clip(np.sum(upper * lower, -1), -1.0, 1.0)))
    lo, hi = ANGLE_LIMITS[f"{side}_{'elbow_flex' if kind == 'arm' else 'knee_flex'}"]
    # Turning the lower bone about upper x lower moves it away from the upper bone's line: more flexion.
    change = np.clip(flexion + rng.uniform(-HINGE_BEND_DEG, HINGE_BEND_DEG, n), lo, hi) - flexion
    change[flexion < STRAIGHT_DEG] = 0.0
    hinge_turn = rotation_about(unit(np.cross(upper, lower)), change)
    directions[:, below_hinge] = np.einsum("nij,nkj->nki", hinge_turn, directions[:, below_hinge])
    swing = rotation_about(unit(rng.standard_normal((n, 3))), rng.uniform(0.0, SWING_DEG, n))
    directions[:, below_ball] = np.einsum("nij,nkj->nki", swing, directions[:, below_ball])
    bent = rebuilt(pose[:, sk.ROOT], directions, lengths)
    keep = ~within_limits(bent, side, kind)
    bent[keep] = pose[keep]
    return bent


def recombined_poses(poses: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` new poses (count, 28, 3) from real frames (N, 28, 3) (world or camera space): a part swapped
    between two random frames (SWAP_CHANCES), then each limb bent with BEND_CHANCE."""
    receivers, donors = poses[rng.integers(0, len(poses), count)], poses[rng.integers(0, len(poses), count)]
    parts = rng.choice(list(SWAP_CHANCES), count, p=list(SWAP_CHANCES.values()))
    out = receivers.astype(np.float64)
    for part in SWAP_CHANCES:
        rows = parts == part
        out[rows] = swap_part(receivers[rows], donors[rows], part)
    for limb in LIMBS:
        rows = rng.random(count) < BEND_CHANCE
        out[rows] = bend_limb(out[rows], limb, rng)
    return out
