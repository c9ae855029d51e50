"""Joint angles of the 28-joint body: their anatomical limits, the bones they turn, forward kinematics, and
the limbs' angles measured on any pose.

The parameterisation synthetic.py poses its bodies with (and the limits any generated or perturbed
pose must stay within). Angles are degrees; the body frame has x = the person's left, y = up,
z = forward.
"""
from __future__ import annotations

import numpy as np

from geometry import angle_between, turn, unit
from skeleton_utils import JOINT_NAMES, PARENTS, ROOT, TOPOLOGICAL_ORDER, J

SIDES = ("left", "right")

# ---------------------------------------------------------------------------
# Pose parameters and their limits (degrees)
# ---------------------------------------------------------------------------
# Whole-body orientation first (not joints): heading, lean of the whole body (lying is +-90)
# and the pelvis's own tilt, which bending at the hips and sitting use. Signs: pitch and flexion
# + forward, roll + raises the person's left side, lateral bend + to the left, twist + turns the
# front to the left.
MIDLINE_LIMITS = {
    "yaw": (-180.0, 180.0),
    "lean_pitch": (-100.0, 100.0),
    "lean_roll": (-100.0, 100.0),
    "pelvis_tilt": (-30.0, 100.0),
    "pelvis_roll": (-20.0, 20.0),
    # The trunk's totals, shared out over the five spine bones (pelvis -> ... -> neck).
    "spine_flex": (-30.0, 90.0),
    "spine_lat": (-35.0, 35.0),
    "spine_twist": (-45.0, 45.0),
    "neck_flex": (-50.0, 60.0),
    "neck_lat": (-40.0, 40.0),
    "neck_twist": (-70.0, 70.0),
    "head_nod": (-15.0, 20.0),
}
# One side's joints, named anatomically: the right side uses the mirror image of the same angles.
LIMB_LIMITS = {
    "clav_elev": (-10.0, 35.0),  # shrug
    "clav_prot": (-20.0, 25.0),  # shoulder forward
    # Upper arm relative to the thorax: elevation away from hanging, in a vertical plane at
    # shoulder_plane (0 sideways, 90 forward, -90 backward, 140 across the chest), then axial
    # rotation (+ internal). The elevation limit depends on the plane: shoulder_max_elevation.
    "shoulder_elev": (0.0, 175.0),
    "shoulder_plane": (-100.0, 140.0),
    "shoulder_rot": (-90.0, 90.0),
    "elbow_flex": (0.0, 150.0),  # never hyperextended
    "forearm_pron": (-80.0, 80.0),  # 0 = palm facing the thigh
    "wrist_flex": (-70.0, 80.0),
    "wrist_dev": (-20.0, 35.0),  # + ulnar
    "hip_flex": (-20.0, 125.0),
    "hip_abd": (-25.0, 45.0),
    "hip_rot": (-40.0, 40.0),  # + internal
    "knee_flex": (0.0, 150.0),  # never backwards
    "tibia_rot": (-15.0, 15.0),  # + internal
    "ankle_dorsi": (-50.0, 40.0),  # + toes up
    "foot_abd": (-25.0, 25.0),  # + toes out
    "toe_ext": (-30.0, 70.0),  # + toes up
}
ANGLE_LIMITS: dict[str, tuple[float, float]] = {
    **MIDLINE_LIMITS, **{f"{side}_{dof}": lim for side in SIDES for dof, lim in LIMB_LIMITS.items()}
}
# The arm reaches highest to the side and front, much less behind the back or across the chest.
_SHOULDER_REACH = ((-100.0, 45.0), (-90.0, 60.0), (-60.0, 90.0), (-30.0, 150.0), (0.0, 175.0), (100.0, 175.0),
                   (140.0, 125.0))
# Angles whose sign flips in the mirror image (left and right swapped).
MIRROR_NEGATED = ("yaw", "lean_roll", "pelvis_roll", "spine_lat", "spine_twist", "neck_lat", "neck_twist")
# Share of the trunk's flexion, lateral bend and twist taken by each spine bone (by child joint).
_SPINE_SHARES = {
    "spine": (0.20, 0.15, 0.05),
    "spine2": (0.30, 0.25, 0.15),
    "spine3": (0.25, 0.25, 0.25),
    "spine4": (0.15, 0.20, 0.30),
    "neck": (0.10, 0.15, 0.25),
}


def shoulder_max_elevation(plane: np.ndarray) -> np.ndarray:
    """Highest reachable upper-arm elevation (deg) in the given plane of elevation (deg)."""
    planes, limits = zip(*_SHOULDER_REACH)
    return np.interp(plane, planes, limits)


def clip_to_limits(angles: dict[str, np.ndarray]) -> None:
    """Clip every angle, in place, into ANGLE_LIMITS (and the shoulder's reach)."""
    for name, (lo, hi) in ANGLE_LIMITS.items():
        np.clip(angles[name], lo, hi, out=angles[name])
    for side in SIDES:
        elev = angles[f"{side}_shoulder_elev"]
        np.minimum(elev, shoulder_max_elevation(angles[f"{side}_shoulder_plane"]), out=elev)



# ---------------------------------------------------------------------------
# Mirroring, bones and forward kinematics
# ---------------------------------------------------------------------------
def mirror_angles(a: dict, rows: np.ndarray) -> None:
    """Mirror the poses in rows: swap left and right and negate the sideways angles."""
    for dof in LIMB_LIMITS:
        left, right = a[f"left_{dof}"], a[f"right_{dof}"]
        left[rows], right[rows] = right[rows], left[rows].copy()
    for name in MIRROR_NEGATED:
        a[name][rows] *= -1


_X, _Y, _Z = 0, 1, 2  # rotation axes


def _limb_bones(a: dict[str, np.ndarray], side: str) -> dict[str, tuple[str, list]]:
    """One side's bones: child joint -> (joint whose frame it turns from, elementary turns (axis, deg)).

    Angles are anatomical; the right side is the mirror image (x -> -x), which keeps turns about
    x and reverses turns about y and z.
    """
    g = {dof: a[f"{side}_{dof}"] for dof in LIMB_LIMITS}
    m = 1.0 if side == "left" else -1.0
    # The arm hangs along -y; it is twisted about itself, then swung up by shoulder_elev about the
    # horizontal axis (-sin plane, 0, cos plane), i.e. Ry(-plane) Rz(elev) Ry(plane) Ry(-rot).
    # Its angles are relative to the thorax, so a shrug does not swing the arm.
    arm = [(_Y, -m * g["shoulder_plane"]), (_Z, m * g["shoulder_elev"]),
           (_Y, m * (g["shoulder_plane"] - g["shoulder_rot"]))]
    bones = {
        "shoulder": ("clavicle", [(_Y, -m * g["clav_prot"]), (_Z, m * g["clav_elev"])]),
        "elbow": ("clavicle", arm),
        "wrist": ("elbow", [(_X, -g["elbow_flex"]), (_Y, -m * g["forearm_pron"])]),
        "hand": ("wrist", [(_Z, -m * g["wrist_flex"]), (_X, g["wrist_dev"])]),
        "knee": ("hip", [(_X, -g["hip_flex"]), (_Z, m * g["hip_abd"]), (_Y, -m * g["hip_rot"])]),
        "ankle": ("knee", [(_X, g["knee_flex"]), (_Y, -m * g["tibia_rot"])]),
        "foot": ("ankle", [(_X, -g["ankle_dorsi"]), (_Y, m * g["foot_abd"])]),
        "toe": ("foot", [(_X, -g["toe_ext"])]),
    }
    return {f"{side}_{bone}": (f"{side}_{base}", turns) for bone, (base, turns) in bones.items()}


def bone_turns(a: dict[str, np.ndarray]) -> dict[int, tuple[int, list]]:
    """Each bone's rotation, keyed by child joint: (joint whose frame it turns from, elementary turns).

    That joint is the parent except for the upper arm (the thorax); a bone not listed moves
    rigidly with its parent.
    """
    bones = {
        "pelvis": ("pelvis", [(_X, a["lean_pitch"]), (_Z, a["lean_roll"]), (_X, a["pelvis_tilt"]), (_Z, a["pelvis_roll"])]),
        "head": ("neck", [(_X, a["neck_flex"]), (_Z, -a["neck_lat"]), (_Y, a["neck_twist"])]),
        "head_top": ("head", [(_X, a["head_nod"])]),
    }
    for name, (flex, lat, twist) in _SPINE_SHARES.items():
        parent = JOINT_NAMES[PARENTS[J[name]]]
        bones[name] = (parent, [(_X, flex * a["spine_flex"]), (_Z, -lat * a["spine_lat"]), (_Y, twist * a["spine_twist"])])
    for side in SIDES:
        bones.update(_limb_bones(a, side))
    return {J[child]: (J[base], turns) for child, (base, turns) in bones.items()}


def forward_kinematics(offsets: np.ndarray, angles: dict[str, np.ndarray]) -> np.ndarray:
    """(n, 28, 3) joint positions, pelvis at the origin, upright frame (y up), for rest offsets (n, 28, 3).

    The pelvis's frame is the body's orientation (lean, then pelvis tilt; no heading); every other
    bone's frame is a frame nearer the root turned by that bone's joint angles.
    """
    turns = bone_turns(angles)
    n = len(offsets)
    frames = {}
    pos = np.zeros(offsets.shape)
    for j in TOPOLOGICAL_ORDER:
        base, steps = turns.get(j, (PARENTS[j], []))
        frame = np.broadcast_to(np.eye(3), (n, 3, 3)) if j == ROOT else frames[base]
        for axis, degrees in steps:
            frame = turn(frame, axis, degrees)
        frames[j] = frame
        if j != ROOT:
            pos[:, j] = pos[:, PARENTS[j]] + np.einsum("nij,nj->ni", frame, offsets[:, j])
    return pos


# ---------------------------------------------------------------------------
# Measuring joint angles on poses
# ---------------------------------------------------------------------------
def pelvis_frame(pose: np.ndarray) -> np.ndarray:
    """(N, 3, 3) the pelvis's frame of (N, 28, 3) joints, as columns: x = right hip -> left hip, y = pelvis ->
    spine2 made orthogonal to x, z = x cross y (forward)."""
    x = unit(pose[:, J["left_hip"]] - pose[:, J["right_hip"]])
    spine = pose[:, J["spine2"]] - pose[:, ROOT]
    y = unit(spine - np.sum(spine * x, -1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def limb_angles(pose: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """One side's limb angles (deg) measured on (N, 28, 3) joints, named as in LIMB_LIMITS.

    Flexions are 0 when straight; hip flexion and abduction are the thigh's angles in the pelvis's sagittal
    and frontal planes; shoulder elevation is the upper arm's angle from the trunk's downward line (pelvis ->
    neck; 0 hanging, 180 overhead).
    """
    p = lambda name: pose[:, J[f"{side}_{name}"]]
    x, y, z = np.moveaxis(pelvis_frame(pose), -1, 0)
    thigh = p("knee") - p("hip")
    outward = 1.0 if side == "left" else -1.0
    return {
        "knee_flex": 180.0 - angle_between(p("hip") - p("knee"), p("ankle") - p("knee")),
        "hip_flex": np.degrees(np.arctan2(np.sum(thigh * z, -1), -np.sum(thigh * y, -1))),
        "hip_abd": np.degrees(np.arcsin(np.clip(outward * np.sum(unit(thigh) * x, -1), -1, 1))),
        "elbow_flex": 180.0 - angle_between(p("shoulder") - p("elbow"), p("wrist") - p("elbow")),
        "shoulder_elev": angle_between(p("elbow") - p("shoulder"), pose[:, ROOT] - pose[:, J["neck"]]),
    }
