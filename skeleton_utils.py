"""The 28-joint MPI-INF-3DHP skeleton: the single source of truth.

Joint order, bones, left/right pairs, the 17 test-set joints, the keypoint layouts of 2D
detectors (MediaPipe, COCO-17, OpenPose BODY_25 and COCO-18) and their mappings, and the one function that synthesises the joints a 2D detector does
not see. Everything here works on NumPy arrays and on torch tensors (any batch shape)
without importing torch, so plotting code can use it on a machine without PyTorch.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

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


def _depth(joint: int) -> int:
    return 0 if PARENTS[joint] < 0 else 1 + _depth(PARENTS[joint])


# Every joint after its parent (the pelvis first): the order to build a pose from its bones.
TOPOLOGICAL_ORDER = tuple(sorted(range(len(PARENTS)), key=_depth))
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


# ---------------------------------------------------------------------------
# Detectors' keypoint layouts -> the detector joints -> 28 joints
# ---------------------------------------------------------------------------
# Where a detector joint without a position of its own is placed: at its neighbour towards the
# body's centre, marked unseen, so that the synthesis and the model get a plausible position they
# are told not to trust. A layout may lack the hands and toes; a detector may give no position for
# any limb joint (OpenPose writes (0, 0) for a part it did not find).
STAND_INS = {f"{side}_{joint}": f"{side}_{neighbour}" for side in ("left", "right") for joint, neighbour in (
    ("hand", "wrist"), ("wrist", "elbow"), ("elbow", "shoulder"), ("toe", "ankle"), ("ankle", "knee"), ("knee", "hip"))}


@dataclass(frozen=True)
class KeypointLayout:
    """A detector's keypoints and which of them (averaged) give each detector joint.

    A detector joint absent from `sources` is one the layout never gives: it is placed at its
    STAND_INS neighbour with visibility 0. The detector's confidence becomes visibility 1 at or
    above `visibility_threshold` and 0 below, as in training, where a joint is seen or dropped.
    """

    name: str
    keypoints: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]
    visibility_threshold: float

    @property
    def seen_joints(self) -> tuple[str, ...]:
        return tuple(name for name in DETECTOR_JOINT_NAMES if name in self.sources)

    @property
    def unseen_joints(self) -> tuple[str, ...]:
        return tuple(name for name in DETECTOR_JOINT_NAMES if name not in self.sources)


def _limbs(names: tuple[str, ...] = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")) -> dict[str, tuple[str]]:
    """Detector joints that a layout names exactly as we do: {'left_knee': ('left_knee',), ...}."""
    return {f"{s}_{j}": (f"{s}_{j}",) for s in ("left", "right") for j in names}


MEDIAPIPE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
# Every layout here, like us, names sides from the person's point of view. The head centre is
# midway between the ears, the face keypoints closest to the skull's centre; heels are never used:
# the dataset has no heel joint, so training could never see one.
HEAD_SOURCES = {"head": ("left_ear", "right_ear")}
# A visibility of 0.5 is MediaPipe's own "probably visible".
VISIBILITY_THRESHOLD = 0.5
MEDIAPIPE = KeypointLayout("mediapipe", MEDIAPIPE_LANDMARKS, {
    **HEAD_SOURCES, **_limbs(),
    # Hand: the middle of the index and pinky knuckle landmarks, the centre of the palm's edge.
    "left_hand": ("left_index", "left_pinky"), "right_hand": ("right_index", "right_pinky"),
    # Toe: the foot-index landmark is the tip of the foot.
    "left_toe": ("left_foot_index",), "right_toe": ("right_foot_index",),
}, VISIBILITY_THRESHOLD)

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# The hip and shoulder keypoints are taken as they are. COCO's annotators mark the hips nearer the
# pelvis's outer edge than the joint centre, but that offset is not measurable here: the only
# detector that runs offline is MediaPipe, whose 33 landmarks contain COCO-17's points exactly
# (MEDIAPIPE_TO_COCO17), so on the same people the two layouts agree to the pixel by construction,
# and no image with both COCO-style labels and 3D joint centres is at hand. MotionBERT's coco2h36m
# likewise takes COCO's hips as Human3.6M's hip joints unchanged. See README, "Keypoints of other detectors".
#
# COCO-17 scores: a COCO keypoint results file carries a detector's confidence in [0, 1], an
# annotation file the flag v (0 unlabelled, 1 labelled but hidden, 2 visible); 0.3 is MMPose's
# default keypoint-score threshold and keeps both v = 1 and v = 2, whose positions are labelled.
COCO17 = KeypointLayout("coco17", COCO17_NAMES, {**HEAD_SOURCES, **_limbs()}, 0.3)

BODY25_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
COCO18_NAMES = BODY25_NAMES[:8] + BODY25_NAMES[9:19]
# OpenPose reports confidence 0 at (0, 0) for a part it did not find; 0.1 keeps the weak but real
# detections its own renderer draws (its --render_threshold is 0.05) and drops the rest.
OPENPOSE_VISIBILITY_THRESHOLD = 0.1
# BODY_25: the big toe is the tip of the foot, like MediaPipe's foot index; OpenPose's neck and
# mid-hip are not used, the dataset's neck and pelvis come from the shoulders and hips as for every layout.
BODY25 = KeypointLayout("body25", BODY25_NAMES, {
    **HEAD_SOURCES, **_limbs(), "left_toe": ("left_big_toe",), "right_toe": ("right_big_toe",),
}, OPENPOSE_VISIBILITY_THRESHOLD)
COCO18 = KeypointLayout("coco18", COCO18_NAMES, {**HEAD_SOURCES, **_limbs()}, OPENPOSE_VISIBILITY_THRESHOLD)

# The layouts of a detector's per-person keypoint array, by its number of keypoints.
LAYOUTS_BY_COUNT = {len(layout.keypoints): layout for layout in (COCO17, COCO18, BODY25, MEDIAPIPE)}


_DETECTOR_MATRICES: dict[str, np.ndarray] = {}  # by layout name, built once: a video converts every frame


def _detector_matrix(layout: KeypointLayout) -> np.ndarray:
    """(17, K) weights averaging each detector joint's keypoints; a zero row for a joint the layout lacks."""
    if layout.name not in _DETECTOR_MATRICES:
        index = {name: i for i, name in enumerate(layout.keypoints)}
        weights = np.zeros((len(DETECTOR_JOINTS), len(layout.keypoints)))
        for k, name in enumerate(DETECTOR_JOINT_NAMES):
            sources = layout.sources.get(name, ())
            weights[k, [index[s] for s in sources]] = 1.0 / max(len(sources), 1)
        weights.flags.writeable = False
        _DETECTOR_MATRICES[layout.name] = weights
    return _DETECTOR_MATRICES[layout.name]


def hide_at_stand_ins(observed, joint_names):
    """Mark the named detector joints of (..., 17, 3) unseen and move them onto their STAND_INS neighbours."""
    move, keep = np.eye(len(DETECTOR_JOINTS)), np.ones((len(DETECTOR_JOINTS), 1))
    for name in joint_names:
        k = DETECTOR_JOINT_NAMES.index(name)
        move[k] = np.eye(len(DETECTOR_JOINTS))[DETECTOR_JOINT_NAMES.index(STAND_INS[name])]
        keep[k] = 0.0
    xy = _constant_like(move, observed) @ observed[..., :2]
    return _backend(observed).concatenate([xy, observed[..., 2:] * _constant_like(keep, observed)], axis=-1)


def layout_detector_joints(keypoints, layout: KeypointLayout) -> np.ndarray:
    """(..., K, 3) keypoints (x, y, confidence) of a layout -> (..., 17, 3) detector joints (x, y, 0 or 1).

    A detector joint is seen when all its keypoints reach the layout's visibility threshold; one
    without a position (lacking from the layout, or not found) is placed along STAND_INS.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape[-2:] != (len(layout.keypoints), 3):
        raise ValueError(f"expected (..., {len(layout.keypoints)}, 3) {layout.name} keypoints (x, y, confidence), "
                         f"got {keypoints.shape}")
    weights = _detector_matrix(layout)
    # The mean of 0/1 flags reaches 1 only when every keypoint of the joint has the flag.
    seen = weights @ (keypoints[..., 2:] >= layout.visibility_threshold) > 1 - 1e-9
    positioned = weights @ _has_position(keypoints)[..., None] > 1 - 1e-9
    xy = _place_positionless(weights @ keypoints[..., :2], positioned[..., 0])
    # A joint the layout lacks has a zero row: no position, never seen, so it lands on its stand-in.
    return np.concatenate([xy, seen.astype(np.float64)], axis=-1)


def _has_position(keypoints: np.ndarray) -> np.ndarray:
    """(..., K) whether a keypoint has a position: not the (0, 0) with confidence 0 of one not found."""
    return (keypoints[..., :2] != 0).any(-1) | (keypoints[..., 2] > 0)


def _place_positionless(xy: np.ndarray, positioned: np.ndarray) -> np.ndarray:
    """Move (..., 17, 2) joints without a position along STAND_INS to the first that has one.

    A joint with none on its way (a hip, a shoulder, the head) goes to the mean of the positioned joints.
    """
    if positioned.all():  # MediaPipe always places all its landmarks: nothing to move
        return xy
    xy, positioned = xy.copy(), positioned.copy()
    for _ in range(3):  # the longest chain: hand -> wrist -> elbow -> shoulder
        for name, neighbour in STAND_INS.items():
            k, n = DETECTOR_JOINT_NAMES.index(name), DETECTOR_JOINT_NAMES.index(neighbour)
            fill = ~positioned[..., k] & positioned[..., n]
            xy[..., k, :] = np.where(fill[..., None], xy[..., n, :], xy[..., k, :])
            positioned[..., k] |= fill
    count = positioned.sum(-1, keepdims=True)[..., None]
    centre = (xy * positioned[..., None]).sum(-2, keepdims=True) / np.maximum(count, 1)
    return np.where(positioned[..., None], xy, centre)


def layout_to_mpiinf(keypoints, layout: KeypointLayout) -> np.ndarray:
    """(..., K, 3) keypoints of a layout -> (..., 28, 3) joints (x, y, visibility), the rest synthesised."""
    return synthesize_joints(layout_detector_joints(keypoints, layout))


def mediapipe_to_mpiinf(landmarks):
    """(..., 33, 3) MediaPipe (x, y, visibility) -> (..., 28, 3) joints (x, y, visibility)."""
    return layout_to_mpiinf(landmarks, MEDIAPIPE)


# MEDIAPIPE_TO_MPIINF[j, m] is the weight of landmark m in joint j. Joints the detector
# sees use their landmarks directly; the rest come from synthesize_joints().
MEDIAPIPE_TO_MPIINF = SYNTHESIS_MATRIX @ _detector_matrix(MEDIAPIPE)
_MP = {name: i for i, name in enumerate(MEDIAPIPE_LANDMARKS)}


# ---------------------------------------------------------------------------
# COCO-17, for the familiar 2D overlay
# ---------------------------------------------------------------------------
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
