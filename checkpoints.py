"""Checkpoints: self-describing weights files (save, read, load), the default weights, the device to run on.

A checkpoint holds the weights, the architecture and its config, the input mode, the joint set and
the input normalisation, so loading needs nothing else; Lifter (model.py) is the deployable whole.
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

import skeleton_utils as sk
from atomic import atomic_path
from model import TEMPORAL_ARCH, Lifter, SequenceLifter, build_model

CHECKPOINT_FORMAT = 1
# train.py writes this file into its --out folder (by default the working directory).
TRAINED_WEIGHTS = "best_model_weights.pth"
# The default model that ships with the repository (see the model card in README.md).
BUNDLED_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", TRAINED_WEIGHTS)
# The bundled model for detectors without hands or toes: the same data and flags as the default, `--input coco17`.
BUNDLED_COCO17_WEIGHTS = os.path.join(os.path.dirname(BUNDLED_WEIGHTS), "best_model_weights_coco17.pth")
# The bundled video model: the temporal lifter (model.TemporalLifter) on the default per-frame model.
BUNDLED_TEMPORAL_WEIGHTS = os.path.join(os.path.dirname(BUNDLED_WEIGHTS), "temporal_model_weights.pth")
WEIGHTS_HELP = (f"checkpoint (default: {TRAINED_WEIGHTS} in the working directory if train.py wrote one there, "
                f"else the bundled pretrained/{TRAINED_WEIGHTS})")


class CheckpointError(RuntimeError):
    """A weights file that is missing, corrupt, or not one of ours; the message names the file."""


def save_checkpoint(path: str, model: nn.Module, arch: str, config: dict, input_mode: str, norm_stats,
                    extra: dict | None = None) -> None:
    """Write weights, architecture, config, input mode, joint set and normalisation, atomically."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch,
        "config": dict(config),
        "input_mode": input_mode,
        "joint_names": list(sk.JOINT_NAMES),
        "norm_stats": torch.as_tensor(norm_stats, dtype=torch.float32).cpu(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    atomic_torch_save(checkpoint, path)


def atomic_torch_save(obj, path: str) -> None:
    """torch.save to a temporary file beside `path`, then rename: a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def default_weights() -> str:
    """The weights a script uses without --weights: train.py's output here, else the bundled model."""
    return TRAINED_WEIGHTS if os.path.isfile(TRAINED_WEIGHTS) else BUNDLED_WEIGHTS


def default_video_weights() -> str | None:
    """The temporal weights for videos without --weights: the bundled video model, when the per-frame default
    is the bundled model it was trained on; None when train.py's own weights are the default (they have no
    temporal model) or the video model is missing."""
    if default_weights() == BUNDLED_WEIGHTS and os.path.isfile(BUNDLED_TEMPORAL_WEIGHTS):
        return BUNDLED_TEMPORAL_WEIGHTS
    return None


def weights_for_layout(layout: str) -> tuple[str, str | None]:
    """The weights for keypoints of a skeleton_utils layout without --weights, and a note when they are a stand-in.

    MediaPipe's landmarks go to default_weights(). Layouts without hands (COCO-17, OpenPose's
    COCO-18 and BODY_25) go to the bundled model trained with `--input coco17`, which never saw a
    hand or a toe, when it is there; else to default_weights(), which then sees them all unseen.
    """
    if layout == "mediapipe":
        return default_weights(), None
    if os.path.isfile(BUNDLED_COCO17_WEIGHTS):
        return BUNDLED_COCO17_WEIGHTS, None
    fallback = default_weights()
    return fallback, (f"no model for {layout} keypoints ({BUNDLED_COCO17_WEIGHTS}, trained with --input coco17); "
                      f"using {fallback}, trained on MediaPipe's joints, with the hands and toes unseen")


def read_checkpoint(path: str, map_location="cpu") -> dict:
    """torch.load(weights_only=True) with errors that name the file and the fix."""
    if not os.path.isfile(path) and os.path.abspath(path) == BUNDLED_WEIGHTS:
        raise CheckpointError(
            f"{path}: the bundled weights are missing; restore them with `git checkout -- pretrained/` "
            f"or train a model with `python train.py --synthetic 200000`."
        )
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{path}: weights file not found. Train one with `python train.py --synthetic 200000` or "
            f"omit --weights to use the bundled model."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"{path}: cannot read the weights file; it is corrupt, truncated or not a PyTorch checkpoint "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})."
        ) from err
    required = ("arch", "config", "input_mode", "norm_stats", "state_dict")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in required):
        raise CheckpointError(
            f"{path}: not a checkpoint of this project (it needs the keys {required}); save one with train.py."
        )
    return checkpoint


def load_checkpoint(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model described by a checkpoint, in eval mode; returns (model, checkpoint)."""
    checkpoint = read_checkpoint(path)
    if list(checkpoint.get("joint_names", sk.JOINT_NAMES)) != list(sk.JOINT_NAMES):
        raise CheckpointError(f"{path}: was trained on a different joint set than the 28 MPI-INF-3DHP joints.")
    try:
        model = build_model(checkpoint["arch"], **checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except (ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(
            f"{path}: its weights do not fit the architecture it names ({checkpoint['arch']}, "
            f"{checkpoint['config']}): {str(err).splitlines()[0]}"
        ) from err
    return model.to(device).eval(), checkpoint


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; an explicit CUDA request without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise SystemExit(f"error: --device {name!r} is not a device name ({err}); use auto, cpu or cuda.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: CUDA is not available on this machine; use --device cpu.")
    return device


def load_lifter(path: str, device: str | torch.device = "cpu") -> tuple[Lifter, dict]:
    """The checkpoint as a Lifter taking raw pixel joints; returns (lifter in eval mode, checkpoint).

    A temporal checkpoint gives its per-frame model, the one that encodes each of its frames.
    """
    model, checkpoint = load_checkpoint(path, device)
    model = model.frame_model if is_temporal(checkpoint) else model
    return Lifter(model, checkpoint["norm_stats"]).to(device).eval(), checkpoint


def is_temporal(checkpoint: dict) -> bool:
    return checkpoint["arch"] == TEMPORAL_ARCH


def load_sequence_lifter(path: str, device: str | torch.device = "cpu") -> tuple[SequenceLifter, dict]:
    """A temporal checkpoint as a SequenceLifter taking raw pixel frames; an error naming the fix for a per-frame one."""
    model, checkpoint = load_checkpoint(path, device)
    if not is_temporal(checkpoint):
        raise CheckpointError(f"{path}: a per-frame model ({checkpoint['arch']}), not a temporal one; train one with "
                              f"train_temporal.py, or lift frame by frame (--per-frame).")
    return SequenceLifter(model, checkpoint["norm_stats"]).to(device).eval(), checkpoint
