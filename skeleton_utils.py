"""The 28-joint MPI-INF-3DHP skeleton: the single source of truth.

Joint order, bones, left/right pairs, the 17 test-set joints, the MediaPipe and COCO-17
keypoint mappings, and the one function that synthesises the joints a 2D detector does
not see. Everything here works on NumPy arrays and on torch tensors (any batch shape)
without importing torch, so plotting code can use it on a machine without PyTorch.
"""
from __future__ import annotations

import sys

import numpy as np

# ---------------------------------------------------------------------------
# The 28 joints, in the dataset's order (../shared/mpi_inf_3dhp.md)
# ---------------------------------------------------------------------------
JOINT_NAMES = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
)
NUM_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}
ROOT = J["pelvis"]

# Parent of each joint; the pelvis is the root of the kinematic tree.
PARENTS = (2, 0, 3, 4, -1, 1, 5, 6, 5, 8, 9, 10, 11, 5, 13, 14, 15, 16, 4, 18, 19, 20, 21, 4, 23, 24, 25, 26)
# The 27 bones as (parent, child) pairs.
MPIINF_EDGES = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


# FLIP_PERM[j] is the joint that j becomes in a horizontally mirrored image.
FLIP_PERM = tuple(J[_mirror_name(name)] for name in JOINT_NAMES)
LEFT_JOINTS = tuple(i for i, n in enumerate(JOINT_NAMES) if n.startswith("left_"))
RIGHT_JOINTS = tuple(i for i, n in enumerate(JOINT_NAMES) if n.startswith("right_"))

# The 17 joints of the official MPI-INF-3DHP test set, in the test set's order.
TEST17_INDICES = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
TEST17_NAMES = tuple(JOINT_NAMES[i] for i in TEST17_INDICES)
TEST17_ROOT = TEST17_NAMES.index("pelvis")
# The official evaluation script's PCK/AUC "total" averages the first 14 of them: its joint
# groups (head top, neck, shoulders, elbows, wrists, hips, knees, ankles) leave out pelvis, spine, head.
TEST14_NAMES = TEST17_NAMES[:14]
TEST17_EDGES = tuple(
    (TEST17_INDICES.index(p), TEST17_INDICES.index(c))
    for p, c in ((4, 3), (3, 5), (5, 6), (6, 7), (5, 9), (9, 10), (10, 11), (5, 14), (14, 15), (15, 16),
                 (4, 18), (18, 19), (19, 20), (4, 23), (23, 24), (24, 25))
)


# The limbs whose direction the limb-angle metric scores: upper arm, forearm, thigh, shin, both sides.
LIMBS = tuple((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
              for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")))


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """Lengths of the 27 bones of (..., 28, D) joints, shape (..., 27). NumPy or torch."""
    parents = [p for p, _ in MPIINF_EDGES]
    children = [c for _, c in MPIINF_EDGES]
    return ((pose[..., children, :] - pose[..., parents, :]) ** 2).sum(-1) ** 0.5


def flip_pose(pose, axis: int = 0):
    """Mirror (..., 28, D) joints: negate coordinate `axis` and swap left and right."""
    flipped = pose[..., list(FLIP_PERM), :] * 1.0
    flipped[..., axis] = -flipped[..., axis]
    return flipped


# ---------------------------------------------------------------------------
# What a 2D detector observes, and the synthesis of everything else
# ---------------------------------------------------------------------------
# The joints that a 2D detector such as MediaPipe Pose locates directly. Training with
# `--input mediapipe` keeps exactly these from the ground-truth 2D and synthesises the
# rest with synthesize_joints(), the same function that completes MediaPipe's output,
# so the model never learns from joint positions that inference cannot give it.
DETECTOR_JOINTS = (
    J["head"],
    J["left_shoulder"], J["left_elbow"], J["left_wrist"], J["left_hand"],
    J["right_shoulder"], J["right_elbow"], J["right_wrist"], J["right_hand"],
    J["left_hip"], J["left_knee"], J["left_ankle"], J["left_toe"],
    J["right_hip"], J["right_knee"], J["right_ankle"], J["right_toe"],
)
DETECTOR_JOINT_NAMES = tuple(JOINT_NAMES[i] for i in DETECTOR_JOINTS)

# Fractions along the pelvis -> neck line where the four spine joints are placed: a
# detector sees no spine, so a straight line is all inference can know, and the model
# learns the true (bent) spine in 3D from it.
SPINE_FRACTIONS = {"spine": 0.08, "spine2": 0.33, "spine3": 0.58, "spine4": 0.83}
# A clavicle joint sits about a third of the way from the neck to the shoulder.
CLAVICLE_FRACTION = 0.3
# The head top lies beyond the head centre, on the neck -> head line, about half a
# neck-to-head distance further.
HEAD_TOP_EXTENSION = 0.5
# The foot joint (ball of the foot) lies a little past halfway from the ankle to the toe.
FOOT_FRACTION = 0.6


def _synthesis_matrix() -> np.ndarray:
    """(28, 17) weights: every joint as a linear combination of the detector joints."""
    col = {joint: k for k, joint in enumerate(DETECTOR_JOINTS)}
    w = np.zeros((NUM_JOINTS, len(DETECTOR_JOINTS)))
    for joint, k in col.items():
        w[joint, k] = 1.0
    # Pelvis: the midpoint of the hips, as in the dataset's own skeleton.
    w[J["pelvis"], [col[J["left_hip"]], col[J["right_hip"]]]] = 0.5
    # Neck: the midpoint of the shoulders (the base of the neck).
    w[J["neck"], [col[J["left_shoulder"]], col[J["right_shoulder"]]]] = 0.5
    for name, f in SPINE_FRACTIONS.items():
        w[J[name]] = (1 - f) * w[J["pelvis"]] + f * w[J["neck"]]
    for side in ("left", "right"):
        shoulder = np.zeros(len(DETECTOR_JOINTS))
        shoulder[col[J[f"{side}_shoulder"]]] = 1.0
        w[J[f"{side}_clavicle"]] = (1 - CLAVICLE_FRACTION) * w[J["neck"]] + CLAVICLE_FRACTION * shoulder
        ankle, toe = w[J[f"{side}_ankle"]], w[J[f"{side}_toe"]]
        w[J[f"{side}_foot"]] = (1 - FOOT_FRACTION) * ankle + FOOT_FRACTION * toe
    w[J["head_top"]] = (1 + HEAD_TOP_EXTENSION) * w[J["head"]] - HEAD_TOP_EXTENSION * w[J["neck"]]
    return w


SYNTHESIS_MATRIX = _synthesis_matrix()
# A synthesised joint is as visible as the mean of the joints it is built from.
_VISIBILITY_MATRIX = np.abs(SYNTHESIS_MATRIX) / np.abs(SYNTHESIS_MATRIX).sum(1, keepdims=True)


def _backend(x):
    """The array module of x (numpy or torch), without importing torch ourselves."""
    return sys.modules["torch"] if type(x).__module__.startswith("torch") else np


def _constant_like(matrix: np.ndarray, x):
    xp = _backend(x)
    if xp is np:
        return matrix.astype(x.dtype, copy=False)
    return xp.asarray(matrix, dtype=x.dtype, device=x.device)


def synthesize_joints(observed):
    """All 28 joints from the detector joints.

    observed: (..., 17, 2) positions or (..., 17, 3) positions + visibility, in
    DETECTOR_JOINTS order, as a NumPy array or a torch tensor. Returns (..., 28, C).
    """
    if observed.shape[-2] != len(DETECTOR_JOINTS) or observed.shape[-1] not in (2, 3):
        raise ValueError(
            f"synthesize_joints expects (..., {len(DETECTOR_JOINTS)}, 2 or 3) detector joints, "
            f"got shape {tuple(observed.shape)}"
        )
    xy = _constant_like(SYNTHESIS_MATRIX, observed) @ observed[..., :2]
    if observed.shape[-1] == 2:
        return xy
    vis = _constant_like(_VISIBILITY_MATRIX, observed) @ observed[..., 2:]
    return _backend(observed).concatenate([xy, vis], axis=-1)


def detector_view(pose28):
    """What a detector would report of (..., 28, C) joints: keep DETECTOR_JOINTS, synthesise the rest."""
    return synthesize_joints(pose28[..., list(DETECTOR_JOINTS), :])


# ---------------------------------------------------------------------------
# MediaPipe Pose (33 landmarks) -> 28 joints
# ---------------------------------------------------------------------------
MEDIAPIPE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_MP = {name: i for i, name in enumerate(MEDIAPIPE_LANDMARKS)}

# Which MediaPipe landmarks (averaged) give each detector joint. MediaPipe, like us,
# names sides from the person's point of view.
MEDIAPIPE_DETECTOR_SOURCES = {
    # Head centre: midway between the ears, the face landmark closest to the skull's centre.
    "head": ("left_ear", "right_ear"),
    **{f"{s}_{j}": (f"{s}_{j}",) for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")},
    # Hand: the middle of the index and pinky knuckle landmarks, the centre of the palm's edge.
    "left_hand": ("left_index", "left_pinky"),
    "right_hand": ("right_index", "right_pinky"),
    # Toe: the foot-index landmark is the tip of the foot. The heel is not used: the
    # dataset has no heel joint, so training could never see one.
    "left_toe": ("left_foot_index",),
    "right_toe": ("right_foot_index",),
}


def _mediapipe_detector_matrix() -> np.ndarray:
    """(17, 33) weights averaging each detector joint's MediaPipe landmarks."""
    weights = np.zeros((len(DETECTOR_JOINTS), len(MEDIAPIPE_LANDMARKS)))
    for k, name in enumerate(DETECTOR_JOINT_NAMES):
        sources = MEDIAPIPE_DETECTOR_SOURCES[name]
        weights[k, [_MP[s] for s in sources]] = 1.0 / len(sources)
    return weights


_MEDIAPIPE_TO_DETECTOR = _mediapipe_detector_matrix()
# MEDIAPIPE_TO_MPIINF[j, m] is the weight of landmark m in joint j. Joints the detector
# sees use their landmarks directly; the rest come from synthesize_joints().
MEDIAPIPE_TO_MPIINF = SYNTHESIS_MATRIX @ _MEDIAPIPE_TO_DETECTOR
VISIBILITY_THRESHOLD = 0.5


def mediapipe_to_mpiinf(landmarks):
    """(..., 33, 3) MediaPipe (x, y, visibility) -> (..., 28, 3) joints (x, y, visibility).

    Visibility is first made binary at VISIBILITY_THRESHOLD, as in training, where a
    joint is either seen or dropped: a detector joint is seen when all its landmarks are.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape[-2:] != (len(MEDIAPIPE_LANDMARKS), 3):
        raise ValueError(f"expected (..., 33, 3) MediaPipe landmarks (x, y, visibility), got {landmarks.shape}")
    xy = _MEDIAPIPE_TO_DETECTOR @ landmarks[..., :2]
    # The mean of 0/1 flags reaches 1 only when every landmark of the joint is seen.
    seen = _MEDIAPIPE_TO_DETECTOR @ (landmarks[..., 2:] >= VISIBILITY_THRESHOLD)
    return synthesize_joints(np.concatenate([xy, (seen > 1 - 1e-9).astype(np.float64)], axis=-1))


# ---------------------------------------------------------------------------
# COCO-17, for the familiar 2D overlay
# ---------------------------------------------------------------------------
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12),
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)
# MediaPipe's 33 landmarks contain the COCO-17 keypoints exactly.
MEDIAPIPE_TO_COCO17 = tuple(_MP[name] for name in COCO17_NAMES)
# The dataset has no face keypoints: the nose, eyes and ears all take the head centre.
MPIINF_TO_COCO17 = tuple(J["head"] if i < 5 else J[name] for i, name in enumerate(COCO17_NAMES))


def mpiinf_to_coco17(pose28):
    """(..., 28, C) joints -> (..., 17, C) COCO keypoints (face points at the head centre)."""
    return pose28[..., list(MPIINF_TO_COCO17), :]
