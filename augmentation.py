"""Augmentation of training batches, on the device, for a whole batch at once.

Left/right flips, a detector's 2D noise, dropped joints and half-body crops turn ground-truth 2D
poses into the input a detector gives (model_input.py builds it), so training sees what inference sees.
Used by train.py and benchmark.py (which times train.py's step).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import model_input as mi
import skeleton_utils as sk

# A detector's guess for a joint it cannot see is rough: its position error, as a fraction of the
# pose's 2D size, is larger than the ordinary keypoint noise.
DROPPED_JOINT_SIGMA = 0.1


@dataclass
class Augmentation:
    flip: bool = True
    noise: float = 0.05  # largest 2D noise sigma, as a fraction of the pose's 2D size
    drop: float = 0.15  # largest per-pose share of observed joints marked unseen
    crop: float = 0.2  # share of poses seen as in a photo cut off below a random image row


def flip_half(pose2d: torch.Tensor, pose3d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a random half of the poses, 2D and 3D together, swapping left and right joints."""
    mirrored = (torch.rand(len(pose2d), 1, 1, device=pose2d.device) < 0.5)
    return torch.where(mirrored, sk.flip_pose(pose2d), pose2d), torch.where(mirrored, sk.flip_pose(pose3d), pose3d)


def add_detector_noise(observed: torch.Tensor, size: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Gaussian noise on the 2D positions, sigma drawn per pose in [0, max_sigma] x pose size."""
    sigma = max_sigma * size * torch.rand_like(size)
    xy = observed[..., :2] + sigma * torch.randn_like(observed[..., :2])
    return torch.cat([xy, observed[..., 2:]], dim=-1)


def hide_joints(observed: torch.Tensor, hidden: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Mark the (B, K) `hidden` joints unseen and move them by a detector's rough guess."""
    hidden = hidden[..., None]
    guess = observed[..., :2] + DROPPED_JOINT_SIGMA * size * torch.randn_like(observed[..., :2])
    xy = torch.where(hidden, guess, observed[..., :2])
    return torch.cat([xy, observed[..., 2:] * ~hidden], dim=-1)


def drop_joints(observed: torch.Tensor, size: torch.Tensor, max_rate: float) -> torch.Tensor:
    """Mark a random share (drawn per pose in [0, max_rate]) of the joints unseen and move them further."""
    rate = max_rate * torch.rand(len(observed), 1, device=observed.device)
    return hide_joints(observed, torch.rand(observed.shape[:2], device=observed.device) < rate, size)


def crop_frame(observed: torch.Tensor, size: torch.Tensor, rate: float) -> torch.Tensor:
    """For a share `rate` of poses, hide every joint below a random image row.

    Photos are often portraits or half-body shots: the detector then sees the upper body and
    only guesses the rest, many joints at once, which independent drop-out almost never shows.
    The row lies between 25% and 95% of the way down from the pose's highest to its lowest joint.
    """
    v = observed[..., 1]
    top, bottom = v.min(dim=1, keepdim=True).values, v.max(dim=1, keepdim=True).values
    row = top + (bottom - top) * (0.25 + 0.7 * torch.rand_like(top))
    cropped = torch.rand_like(top) < rate
    return hide_joints(observed, (v > row) & cropped, size)


def augmented_batch(pose2d: torch.Tensor, pose3d: torch.Tensor, input_mode: str,
                    aug: Augmentation) -> tuple[torch.Tensor, torch.Tensor]:
    """(model input in pixels (B, 28, 3), 3D target (B, 28, 3)) for a batch of ground-truth poses."""
    if aug.flip:
        pose2d, pose3d = flip_half(pose2d, pose3d)
    observed = mi.observed_joints(pose2d, input_mode)
    size = mi.pose_size(pose2d)
    if aug.noise > 0:
        observed = add_detector_noise(observed, size, aug.noise)
    if aug.drop > 0:
        observed = drop_joints(observed, size, aug.drop)
    if aug.crop > 0:
        observed = crop_frame(observed, size, aug.crop)
    return mi.complete_joints(observed, input_mode), pose3d

