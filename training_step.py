"""One training step of the lifter, as train.py takes it and benchmark.py times it: its defaults, loss and optimiser."""
from __future__ import annotations

from collections.abc import Iterable

import torch

import metrics
import skeleton_utils as sk

DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 0.002
BONE_LOSS_WEIGHT = 0.01


def pose_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MPJPE plus BONE_LOSS_WEIGHT x the mean absolute bone-length error, both in mm."""
    bone_error = (sk.bone_lengths(pred) - sk.bone_lengths(target)).abs().mean()
    return metrics.mpjpe(pred, target) + BONE_LOSS_WEIGHT * bone_error


def make_optimizer(parameters: Iterable, lr: float = DEFAULT_LR) -> torch.optim.AdamW:
    return torch.optim.AdamW(parameters, lr=lr)
