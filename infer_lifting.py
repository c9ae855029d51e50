"""infer.py's lifting: the weights, the model call, and LiftedPerson, what every path (photo, video,
--keypoints) makes of one person in one frame."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import camera
import model_input as mi
import skeleton_utils as sk
from checkpoints import CheckpointError, load_lifter, resolve_device
from model import Lifter


@dataclass
class LiftedPerson:
    """One person in one frame: the detector's (K, 3) keypoints (pixels and visibility or confidence), the
    model's (28, 3) input (pixels + visibility) and (28, 3) mm output, and where the frame's size is known, its
    camera's (4,) intrinsics and the pelvis in camera space, (3,) mm. id: the track id (0 for a photo's person);
    world_mm: MediaPipe's own metric 3D landmarks (33, 3), where the detector gives them."""

    keypoints: np.ndarray
    joints2d: np.ndarray
    joints3d: np.ndarray
    intrinsics: np.ndarray | None = None
    pelvis_mm: np.ndarray | None = None
    id: int = 0
    world_mm: np.ndarray | None = None

    def placement(self) -> dict:
        """The record's placement fields (camera.PLACEMENT_COORDINATES); none when the person was not placed."""
        if self.pelvis_mm is None:
            return {}
        return camera.placement_record(self.joints2d, self.joints3d, self.pelvis_mm, self.intrinsics)


def load_for_inference(weights: Path, device: str | torch.device) -> tuple[Lifter, dict]:
    """The checkpoint as a Lifter on --device, with a SystemExit naming the problem when it cannot be used,
    and a warning when it was not trained on a detector's joints."""
    try:
        lifter, checkpoint = load_lifter(str(weights), resolve_device(str(device)))
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from err
    warn_if_not_for_detectors(weights, checkpoint)
    return lifter, checkpoint


def warn_if_not_for_detectors(weights: Path, checkpoint: dict) -> None:
    """A model trained on all 28 ground-truth joints gets, from MediaPipe, inputs it never saw."""
    if checkpoint["input_mode"] == "full":
        print(f"warning: {weights} was trained with --input full, on ground-truth 2D of all 28 joints, which "
              f"MediaPipe cannot provide: the joints it does not see are synthesised as for --input mediapipe, "
              f"and the 3D will be less accurate than from a model trained with --input mediapipe.",
              file=sys.stderr)


# Poses lifted at once: a whole keypoint sequence in one call would need gigabytes of activations.
LIFT_BATCH = 1024


def lift(lifter: Lifter, joints2d: np.ndarray) -> np.ndarray:
    """(..., 28, 3) pixel joints + visibility -> (..., 28, 3) root-relative mm."""
    device = next(lifter.buffers()).device
    flat = torch.as_tensor(np.asarray(joints2d), dtype=torch.float32).reshape(-1, sk.NUM_JOINTS, 3)
    with torch.inference_mode():
        out = torch.cat([lifter(chunk.to(device)).cpu() for chunk in flat.split(LIFT_BATCH)])
    return out.double().numpy().reshape(np.shape(joints2d))


def lift_people(keypoints: np.ndarray, layout: sk.KeypointLayout, lifter: Lifter, input_mode: str,
                intrinsics: list[np.ndarray | None], ids: list[int] | None = None) -> list[LiftedPerson]:
    """(P, K, 3) keypoints of a layout, lifted in one batched pass, each placed where its intrinsics are known."""
    joints2d = mi.layout_model_input(keypoints, layout, input_mode)
    joints3d = lift(lifter, joints2d)
    ids = ids if ids is not None else [0] * len(keypoints)
    return [LiftedPerson(k, j2, j3, K, None if K is None else camera.place_pelvis(j2, j3, K), pid)
            for k, j2, j3, K, pid in zip(keypoints, joints2d, joints3d, intrinsics, ids)]


def lift_detection(detection, lifter: Lifter, intrinsics: np.ndarray, input_mode: str) -> LiftedPerson:
    """MediaPipe's detection (detector.Detection) of one person, lifted and placed."""
    person = lift_people(detection.landmarks_px[None], sk.MEDIAPIPE, lifter, input_mode, [intrinsics])[0]
    person.world_mm = detection.world_mm
    return person
