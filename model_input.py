"""The model's input: a detector's 2D joints completed to 28 joints, and normalisation, in one place.

Training (augmentation.py), evaluation and inference (infer_lifting.py) all build the model's
(..., 28, 3) input (x, y pixels, visibility) with these functions, so the model sees in training
exactly what it gets at inference; normalize_input() is the one place where pixels become model units.
"""
from __future__ import annotations

import numpy as np
import torch

import skeleton_utils as sk
from atomic import write_npy

INPUT_MODES = ("mediapipe", "coco17", "full")
DEFAULT_INPUT_MODE = "mediapipe"
# The detector joints each detector input mode never sees: COCO-17 (and OpenPose) give no hands or toes.
UNSEEN_BY_MODE = {"mediapipe": (), "coco17": sk.COCO17.unseen_joints}
NORM_STATS_FILE = "pose2d_mean_std.npy"


# ---------------------------------------------------------------------------
# The model's 2D input: what a detector sees, completed to 28 joints
# ---------------------------------------------------------------------------
def observed_joints(pose2d: torch.Tensor, input_mode: str) -> torch.Tensor:
    """The joints the model's input is built from, of (..., 28, 2) ground-truth pixels, with visibility 1
    where seen: (..., K, 3).

    'mediapipe': the detector joints (skeleton_utils.DETECTOR_JOINTS); 'coco17': the same, with the
    hands and toes, which COCO-17 lacks, always unseen at their stand-ins; 'full': all 28.
    """
    check_input_mode(input_mode)
    picked = pose2d if input_mode == "full" else pose2d[..., list(sk.DETECTOR_JOINTS), :]
    observed = torch.cat([picked, torch.ones_like(picked[..., :1])], dim=-1)
    return observed if input_mode == "full" else sk.hide_at_stand_ins(observed, UNSEEN_BY_MODE[input_mode])


def check_input_mode(input_mode: str) -> None:
    if input_mode not in INPUT_MODES:
        raise ValueError(f"input mode must be one of {INPUT_MODES}, not {input_mode!r}")


def complete_joints(observed: torch.Tensor, input_mode: str) -> torch.Tensor:
    """Observed (..., K, 3) joints -> the model's (..., 28, 3) input (x, y, visibility) in pixels.

    The joints the mode never sees are put back at their stand-ins here, after augmentation moved
    them: at inference the keypoint layouts place them exactly there (skeleton_utils.layout_detector_joints).
    """
    if input_mode == "full":
        return observed
    return sk.synthesize_joints(sk.hide_at_stand_ins(observed, UNSEEN_BY_MODE[input_mode]))


# ---------------------------------------------------------------------------
# Normalisation: the one place where pixels become model units
# ---------------------------------------------------------------------------
def center_and_scale(xy: torch.Tensor) -> torch.Tensor:
    """Root-centre (..., 28, 2) pixel joints and divide by their RMS distance from the root.

    This makes the input independent of where the person stands in the image and of the
    image's resolution: a translated or scaled copy of the 2D joints gives the same result.
    """
    centred = xy - xy[..., sk.ROOT: sk.ROOT + 1, :]
    scale = root_rms(centred).clamp_min(1e-6)
    return centred / scale[..., None, None]


def compute_norm_stats(inputs: torch.Tensor) -> np.ndarray:
    """Per-joint mean and std of the centred, scaled 2D: (2, 28, 2) as saved in pose2d_mean_std.npy."""
    xy = center_and_scale(inputs[..., :2]).double()
    mean = xy.mean(0)
    # The root is always at 0 after centring: a std of 1 keeps it at 0 rather than dividing by 0.
    std = xy.std(0).clamp_min(1e-3).masked_fill(xy.std(0) < 1e-6, 1.0)
    return torch.stack([mean, std]).float().cpu().numpy()


def normalize_input(joints: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(..., 28, 3) pixel joints + visibility -> the model's standardised input (visibility unchanged)."""
    xy = (center_and_scale(joints[..., :2]) - mean) / std
    return torch.cat([xy, joints[..., 2:3]], dim=-1)


def save_norm_stats(stats: np.ndarray, path: str) -> None:
    write_npy(path, stats)


def pose_size(pose2d: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1) RMS distance of the joints from the root, in pixels: the scale that normalisation removes."""
    return root_rms(pose2d - pose2d[:, sk.ROOT: sk.ROOT + 1])[:, None, None]


def root_rms(centred: torch.Tensor) -> torch.Tensor:
    """(...,) RMS length of root-centred (..., J, 2) joints."""
    return centred.pow(2).sum(-1).mean(-1).sqrt()


# ---------------------------------------------------------------------------
# Keypoints of a detector's layout -> the model's input
# ---------------------------------------------------------------------------
def layout_model_input(keypoints: np.ndarray, layout: sk.KeypointLayout, input_mode: str) -> np.ndarray:
    """(..., K, 3) keypoints of a layout -> the (..., 28, 3) input that a model trained with input_mode expects.

    A model trained on all 28 ground-truth joints (--input full) gets the detector joints synthesised as
    for --input mediapipe, with a warning at loading (infer_lifting.warn_if_not_for_detectors).
    """
    observed = sk.layout_detector_joints(keypoints, layout)
    return complete_joints(observed, "mediapipe" if input_mode == "full" else input_mode)

