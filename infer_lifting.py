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
import sequences as seq
import skeleton_utils as sk
from checkpoints import CheckpointError, load_lifter, resolve_device
from model import Lifter, SequenceLifter


@dataclass
class LiftedPerson:
    """One person in one frame: the detector's (K, 3) keypoints (pixels and visibility or confidence), the
    model's (28, 3) input (pixels + visibility) and (28, 3) mm output, and where the frame's size is known, its
    camera's (4,) intrinsics and the pelvis in camera space, (3,) mm. id: the person's number in a photo (1, 2, ...,
    largest first) or their track id; world_mm: MediaPipe's own metric 3D landmarks (33, 3), and box, (4,) x0, y0,
    x1, y1 pixels around their seen landmarks, where MediaPipe found them."""

    keypoints: np.ndarray
    joints2d: np.ndarray
    joints3d: np.ndarray
    intrinsics: np.ndarray | None = None
    pelvis_mm: np.ndarray | None = None
    id: int = 0
    world_mm: np.ndarray | None = None
    box: np.ndarray | None = None

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


def lift_detections(detections: list, lifter: Lifter, intrinsics: np.ndarray, input_mode: str,
                    ids: list[int]) -> list[LiftedPerson]:
    """MediaPipe's detections (detector.Detection) of the people of one image, lifted in one pass and placed."""
    if not detections:
        return []
    people = lift_people(np.stack([d.landmarks_px for d in detections]), sk.MEDIAPIPE, lifter, input_mode,
                         [intrinsics] * len(detections), ids)
    for person, detection in zip(people, detections):
        person.world_mm, person.box = detection.world_mm, detection.box
    return people


def detection_input(detection, input_mode: str) -> np.ndarray:
    """The model's (28, 3) input of MediaPipe's detection of one person."""
    return mi.layout_model_input(detection.landmarks_px, sk.MEDIAPIPE, input_mode)


def placed_detection(detection, joints2d: np.ndarray, joints3d: np.ndarray, intrinsics: np.ndarray,
                     person_id: int = 0) -> LiftedPerson:
    """MediaPipe's detection with the 3D a (temporal) model gave it, placed in camera space."""
    return LiftedPerson(detection.landmarks_px, joints2d, joints3d, intrinsics,
                        camera.place_pelvis(joints2d, joints3d, intrinsics), person_id, detection.world_mm,
                        detection.box)



# ---------------------------------------------------------------------------
# The temporal model over a video: windows of frames at the model's rate
# ---------------------------------------------------------------------------
# A frame stands in for a window instant (target time + k / INTERNAL_FPS) when it lies within half a
# model frame of it: a 30 fps video then fills every instant with its nearest frame, a 60 fps video
# every other-or-third frame, and a 15 fps video leaves instants between its frames empty, as gaps.
WINDOW_TOLERANCE_S = 0.5 / seq.INTERNAL_FPS + 1e-6
WINDOW_BATCH = 512  # windows lifted at once


def window_frames(times: np.ndarray, found: np.ndarray, targets: np.ndarray, radius: int,
                  causal: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each target frame, the frames (T, 2 x radius + 1) nearest to its window's instants at the
    model's rate, and which of them hold a person there (T, W). Causal, no frame after the target."""
    wanted = times[targets][:, None] + np.arange(-radius, radius + 1) / seq.INTERNAL_FPS
    after = np.searchsorted(times, wanted).clip(0, len(times) - 1)
    before = (after - 1).clip(0)
    nearest = np.where(np.abs(times[before] - wanted) <= np.abs(times[after] - wanted), before, after)
    valid = (np.abs(times[nearest] - wanted) <= WINDOW_TOLERANCE_S) & found[nearest]
    if causal:
        valid &= times[nearest] <= times[targets][:, None]
    return nearest, valid


def lift_windows(lifter: SequenceLifter, tokens: torch.Tensor, poses: torch.Tensor, frames: np.ndarray,
                 valid: np.ndarray, causal: bool) -> np.ndarray:
    """The 3D of the centre frame of each gathered window (T, W) of encoded frames: (T, 28, 3) mm."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(frames), WINDOW_BATCH):
            index = torch.as_tensor(frames[start:start + WINDOW_BATCH], device=tokens.device)
            found = torch.as_tensor(valid[start:start + WINDOW_BATCH], device=tokens.device)
            out.append(lifter.attend_window(tokens[index], poses[index], found, causal).cpu())
    return torch.cat(out).double().numpy() if out else np.zeros((0, sk.NUM_JOINTS, 3))


def encode_frames(lifter: SequenceLifter, joints2d: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 28, 3) raw frames -> their tokens and per-frame 3D, each frame encoded once."""
    device = next(lifter.buffers()).device
    flat = torch.as_tensor(np.asarray(joints2d), dtype=torch.float32, device=device)
    with torch.inference_mode():
        parts = [lifter.encode(chunk) for chunk in flat.split(LIFT_BATCH)]
    return torch.cat([t for t, _ in parts]), torch.cat([p for _, p in parts])


def lift_sequence(lifter: SequenceLifter, joints2d: np.ndarray, found: np.ndarray, fps: float,
                  causal: bool = False) -> np.ndarray:
    """A run of frames (N, 28, 3) at `fps` with found (N,) -> (N, 28, 3) mm by the temporal model.

    Frames not found give garbage, which callers do not use.
    """
    if len(joints2d) == 0:
        return np.zeros((0, sk.NUM_JOINTS, 3))
    times = np.arange(len(joints2d)) / fps
    found = np.asarray(found, dtype=bool)
    tokens, poses = encode_frames(lifter, joints2d)
    frames, valid = window_frames(times, found, np.arange(len(times)), lifter.radius, causal)
    return lift_windows(lifter, tokens, poses, frames, valid, causal)


class TemporalTrack:
    """One person's frames through the temporal model as they arrive, each encoded once.

    push() takes a frame's time and its (28, 3) raw joints, or None where nobody was found, and returns the
    frames whose 3D is ready, as (frame number, (28, 3) mm or None): causal, the frame just pushed; offline,
    the frames whose window's last instant has arrived (a delay of radius model frames). finish() gives the rest.
    """

    def __init__(self, lifter: SequenceLifter, causal: bool):
        self.lifter, self.causal = lifter, causal
        self.reach_s = lifter.radius / seq.INTERNAL_FPS
        self.times: list[float] = []
        self.found: list[bool] = []
        self.tokens: list[torch.Tensor] = []
        self.poses: list[torch.Tensor] = []
        self.first = 0  # the frame number of the oldest frame kept
        self.next_out = 0  # the next frame number whose 3D is owed

    @property
    def held(self) -> int:
        """Frames pushed whose 3D is not given yet."""
        return self.first + len(self.times) - self.next_out

    def push(self, t: float, joints2d: np.ndarray | None) -> list[tuple[int, np.ndarray | None]]:
        token = pose = None  # a frame without a person: masked in every window
        if joints2d is not None:
            tokens, poses = encode_frames(self.lifter, np.asarray(joints2d)[None])
            token, pose = tokens[0], poses[0]
        self.times.append(t)
        self.found.append(joints2d is not None)
        self.tokens.append(token)
        self.poses.append(pose)
        ready = [n for n in range(self.next_out, self.first + len(self.times))
                 if self.causal or self.times[n - self.first] + self.reach_s <= t + WINDOW_TOLERANCE_S]
        return self._lift(ready)

    def finish(self) -> list[tuple[int, np.ndarray | None]]:
        return self._lift(list(range(self.next_out, self.first + len(self.times))))

    def _lift(self, numbers: list[int]) -> list[tuple[int, np.ndarray | None]]:
        if not numbers:
            return []
        if not any(self.found):
            out = [(n, None) for n in numbers]
        else:
            tokens, poses = (torch.stack(_zero_filled(values)) for values in (self.tokens, self.poses))
            times, found = np.array(self.times), np.array(self.found)
            targets = np.array(numbers) - self.first
            frames, valid = window_frames(times, found, targets, self.lifter.radius, self.causal)
            lifted = lift_windows(self.lifter, tokens, poses, frames, valid, self.causal)
            out = [(n, lifted[k] if found[n - self.first] else None) for k, n in enumerate(numbers)]
        self.next_out = numbers[-1] + 1
        self._forget()
        return out

    def _forget(self) -> None:
        """Drop the frames no window still owed can reach."""
        if self.next_out - self.first >= len(self.times):
            horizon = self.times[-1] - self.reach_s - WINDOW_TOLERANCE_S
        else:
            horizon = self.times[self.next_out - self.first] - self.reach_s - WINDOW_TOLERANCE_S
        drop = 0
        while drop < len(self.times) - 1 and self.times[drop + 1] < horizon:
            drop += 1
        if drop:
            del self.times[:drop], self.found[:drop], self.tokens[:drop], self.poses[:drop]
            self.first += drop


def _zero_filled(values: list[torch.Tensor | None]) -> list[torch.Tensor]:
    """The tensors with zeros in place of the Nones (frames without a person, which windows mask)."""
    zero = torch.zeros_like(next(v for v in values if v is not None))
    return [zero if v is None else v for v in values]
