"""3D pose-error metrics, shared by train.py and eval.py.

Poses are (..., J, 3) joints in millimetres, root-relative, as torch tensors or NumPy
arrays; every function returns the kind it was given (torch functions stay differentiable,
so train.py uses mpjpe() as its loss). Protocols as in the literature:
- MPJPE (Protocol 1): mean Euclidean joint error.
- PA-MPJPE (Protocol 2): the same after a per-pose similarity (Procrustes) alignment.
- N-MPJPE: the same after scaling each pose only (Rhodin et al. 2018): what is left of MPJPE once
  the body's size, which a single image cannot tell, is forgiven.
- Limb angle: degrees between the predicted and true directions of the upper arms, forearms,
  thighs and shins (skeleton_utils.LIMBS). Blind to body size and to where a data source puts
  its joint centres along a limb, it compares fairly across data sets.
- MPJVE (mm/frame): mean per-joint error of the velocity, the frame-to-frame displacement, over a run
  of consecutive frames; acceleration error (mm/frame^2): the same of the second difference
  (Kanazawa et al. 2019, VIBE, MotionBERT). Both measure jitter: a lifter whose poses are each right
  but shake scores badly, and they are reported at the data's frame rate.
- PCK: percentage of joints closer than 150 mm; AUC: PCK averaged over the thresholds
  0, 5, ..., 150 mm. As in the official MPI-INF-3DHP evaluation, a joint counts as correct
  when its error is strictly below the threshold.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

import skeleton_utils as sk

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = tuple(5.0 * i for i in range(31))


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))


def _like(result: torch.Tensor, template):
    """Return `result` as the kind of `template`: a tensor, or NumPy (a float for a scalar)."""
    if isinstance(template, torch.Tensor):
        return result
    array = result.detach().cpu().numpy()
    return float(array) if array.ndim == 0 else array


def joint_errors(pred, target):
    """Euclidean distance of every joint, (..., J)."""
    errors = torch.linalg.vector_norm(_as_tensor(pred) - _as_tensor(target), dim=-1)
    return _like(errors, pred)


def mpjpe(pred, target):
    """Mean per-joint position error over all poses and joints (Protocol 1)."""
    return _like(_as_tensor(joint_errors(pred, target)).mean(), pred)


def procrustes_align(pred, target):
    """`pred` after the scale, rotation and translation that best fit it to `target`, per pose.

    Batched orthogonal Procrustes via SVD (Umeyama); the rotation is kept proper
    (determinant +1), so a mirrored prediction is not "fixed" by a reflection.
    """
    p, t = _as_tensor(pred), _as_tensor(target)
    p0 = p - p.mean(-2, keepdim=True)
    t0 = t - t.mean(-2, keepdim=True)
    u, s, vh = torch.linalg.svd(p0.transpose(-1, -2) @ t0)
    # Flip the axis of the smallest singular value when the best orthogonal map is a reflection.
    sign = torch.sign(torch.linalg.det(u @ vh))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    d = torch.ones_like(s)
    d[..., -1] = sign
    rotation = (u * d[..., None, :]) @ vh
    scale = (s * d).sum(-1) / p0.pow(2).sum((-1, -2)).clamp_min(1e-12)
    aligned = scale[..., None, None] * (p0 @ rotation) + t.mean(-2, keepdim=True)
    return _like(aligned, pred)


def pa_mpjpe(pred, target):
    """MPJPE after Procrustes alignment with scale (Protocol 2)."""
    return mpjpe(procrustes_align(pred, target), target)


def n_mpjpe(pred, target):
    """MPJPE after scaling each predicted pose by the factor that fits it best to the truth (N-MPJPE,
    Rhodin et al. 2018): the error left when the body's size, which one image cannot tell, is forgiven."""
    p, t = _as_tensor(pred), _as_tensor(target)
    scale = (p * t).sum((-1, -2), keepdim=True) / p.pow(2).sum((-1, -2), keepdim=True).clamp_min(1e-12)
    return mpjpe(_like(scale * p, pred), target)


def mpjve(pred, target):
    """Mean per-joint velocity error of a run of consecutive frames (T, J, 3), mm/frame (needs T >= 2)."""
    p, t = _as_tensor(pred), _as_tensor(target)
    return mpjpe(_like(torch.diff(p, dim=0), pred), _like(torch.diff(t, dim=0), pred))


def acceleration_error(pred, target):
    """Mean per-joint acceleration error of a run of consecutive frames (T, J, 3), mm/frame^2 (needs T >= 3)."""
    p, t = _as_tensor(pred), _as_tensor(target)
    return mpjpe(_like(torch.diff(p, n=2, dim=0), pred), _like(torch.diff(t, n=2, dim=0), pred))


def pck(errors, threshold: float = PCK_THRESHOLD_MM):
    """Percentage (0-100) of joint errors strictly below `threshold` mm."""
    e = _as_tensor(errors)
    return _like(100.0 * (e < threshold).double().mean(), errors)


def auc(errors, thresholds: Sequence[float] = AUC_THRESHOLDS_MM):
    """Area under the PCK curve: PCK (0-100) averaged over `thresholds` mm."""
    e = _as_tensor(errors)
    levels = torch.as_tensor(thresholds, dtype=e.dtype, device=e.device)
    return _like(100.0 * (e[..., None] < levels).double().mean(), errors)


def limb_angles(pred, target, joint_names: Sequence[str] = sk.JOINT_NAMES):
    """Angle in degrees between predicted and true limb directions, (..., len(LIMBS))."""
    p, t = _as_tensor(pred), _as_tensor(target)
    starts = [list(joint_names).index(a) for a, _ in sk.LIMBS]
    ends = [list(joint_names).index(b) for _, b in sk.LIMBS]
    dp, dt = p[..., ends, :] - p[..., starts, :], t[..., ends, :] - t[..., starts, :]
    cos = (dp * dt).sum(-1) / (torch.linalg.vector_norm(dp, dim=-1) * torch.linalg.vector_norm(dt, dim=-1)).clamp_min(1e-9)
    return _like(torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0))), pred)


def limb_angle_error(pred, target, joint_names: Sequence[str] = sk.JOINT_NAMES):
    """Mean limb-direction angle error in degrees over all poses and limbs."""
    return _like(_as_tensor(limb_angles(pred, target, joint_names)).mean(), pred)


def per_joint_mpjpe(pred, target):
    """Mean error of each joint over all poses, (J,)."""
    errors = _as_tensor(joint_errors(pred, target))
    return _like(errors.reshape(-1, errors.shape[-1]).mean(0), pred)


def compute_metrics(pred, target, joint_names: Sequence[str] | None = None) -> dict:
    """MPJPE, PA-MPJPE and N-MPJPE (mm), PCK@150 and AUC (%), the limb angle error (degrees) and, with joint
    names, the per-joint MPJPE. Without joint names the joints are the 28 of skeleton_utils.

    The values are Python floats, ready for printing or JSON.
    """
    p = _as_tensor(pred).detach().double().cpu()
    t = _as_tensor(target).detach().double().cpu()
    errors = joint_errors(p, t)
    result = {
        "num_poses": int(errors.reshape(-1, errors.shape[-1]).shape[0]),
        "mpjpe": float(errors.mean()),
        "pa_mpjpe": float(pa_mpjpe(p, t)),
        "n_mpjpe": float(n_mpjpe(p, t)),
        "pck150": float(pck(errors)),
        "auc": float(auc(errors)),
        "limb_angle": float(limb_angle_error(p, t, joint_names or sk.JOINT_NAMES)),
    }
    if joint_names is not None:
        if len(joint_names) != errors.shape[-1]:
            raise ValueError(f"{len(joint_names)} joint names for {errors.shape[-1]} joints")
        result["per_joint_mpjpe"] = dict(zip(joint_names, per_joint_mpjpe(p, t).tolist()))
    return result
