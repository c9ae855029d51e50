"""A detector's 2D noise over a video, measured on MediaPipe and applied to training and evaluation sequences.

    python detector_noise.py --measure            # MediaPipe in tracking mode on a still subject: the figures

A still subject (the bundled portrait) is filmed as a camera would: sub-pixel shifts of a slow hand
tremor, sensor noise and JPEG, and MediaPipe runs in tracking mode over the frames. Whatever its
detector joints do beyond the known shift is its noise. The measurement says the noise is not one
Gaussian: a joint it sees well drifts slowly (a few px over seconds) with a small jitter on top, while
a joint of low visibility jumps tens of px from frame to frame. MEASURED holds the figures, in mm at the
subject (pixels x the body's mm per pixel), so they hold for a person of any size in the image.

add_sequence_noise() turns ground-truth 2D sequences into what that detector gives: drift (a first-order
autoregressive process of the measured spread and time constant), jitter, joints it loses for a run of
frames (unseen, and placed where the detector guesses), visibility flicker and frames without anyone.
Training (train_temporal.py) and eval.py --noise use it, so the model trains on the noise it is scored on.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from matplotlib import cbook

import model_input as mi
import skeleton_utils as sk
from detector import PoseDetector

# The distance between the shoulder joint centres of an adult, to turn the portrait's pixels into mm
# at the subject (the shoulder landmarks are the joint centres, narrower than the shoulders' breadth).
SHOULDER_WIDTH_MM = 330.0
SHOULDERS = (sk.DETECTOR_JOINT_NAMES.index("left_shoulder"), sk.DETECTOR_JOINT_NAMES.index("right_shoulder"))


@dataclass(frozen=True)
class NoiseModel:
    """A detector's noise on its 17 detector joints, in mm at the subject and frames of MEASURED_FPS."""

    drift_mm: float  # spread of the slow wander of a well-seen joint
    drift_frames: float  # its time constant (autoregressive coefficient exp(-1 / drift_frames))
    jitter_mm: float  # white noise from frame to frame on a well-seen joint
    unseen_jump_mm: float  # white noise on a joint of low visibility (the detector's guess jumps)
    unseen_rate: float  # share of joints of low visibility at a time
    unseen_run_frames: float  # mean length of a run of low visibility
    missed_rate: float  # share of frames with nobody found


MEASURED_FPS = 25.0
# Measured by `python detector_noise.py --measure --image ../shared/people/coco/000000000785.jpg` (a skier,
# every joint well seen; 150 frames) for the well-seen figures, and `--measure` (the portrait, whose arms
# and legs are of low visibility) for the jump of low-visibility joints; the model card lists both runs.
# MediaPipe found the person in every frame of both (missed_rate 0). The share and run length of low
# visibility are not measurable on a still subject (a joint is seen throughout or never): 10% in runs of
# a second is our choice for people who turn and are occluded; training randomises every figure per sequence.
MEASURED = NoiseModel(drift_mm=6.0, drift_frames=4.0, jitter_mm=2.7, unseen_jump_mm=12.0,
                      unseen_rate=0.1, unseen_run_frames=25.0, missed_rate=0.0)


# ---------------------------------------------------------------------------
# Applying the noise to sequences of ground-truth 2D
# ---------------------------------------------------------------------------
def mm_per_pixel(pose3d: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Millimetres at the body per image pixel of camera-space (..., 28, 3) poses: root depth over focal length."""
    return pose3d[..., sk.ROOT, 2] / intrinsics[..., 0]


def autoregressive(shape: tuple[int, ...], frames: float, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor:
    """(B, T, ...) a stationary first-order autoregressive process of unit spread along axis 1."""
    a = float(np.exp(-1.0 / max(frames, 1e-6)))
    steps = torch.randn(shape, generator=generator, device=device) * np.sqrt(1 - a * a)
    out = torch.empty(shape, device=device)
    out[:, 0] = torch.randn(out[:, 0].shape, generator=generator, device=device)
    for t in range(1, shape[1]):
        out[:, t] = a * out[:, t - 1] + steps[:, t]
    return out


def unseen_runs(shape: tuple[int, int, int], rate: torch.Tensor, run_frames: float,
                generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(B, T, K) bool: runs of low visibility, a two-state Markov chain of stationary share `rate` (B,)."""
    leave = 1.0 / max(run_frames, 1.0)
    rate = rate.clamp(0, 0.95)[:, None]
    enter = leave * rate / (1 - rate)
    draws = torch.rand(shape, generator=generator, device=device)
    state = draws[:, 0] < rate
    out = torch.empty(shape, dtype=torch.bool, device=device)
    out[:, 0] = state
    for t in range(1, shape[1]):
        state = torch.where(state, draws[:, t] >= leave, draws[:, t] < enter)
        out[:, t] = state
    return out


def add_sequence_noise(observed: torch.Tensor, mm_per_px: torch.Tensor, model: NoiseModel = MEASURED,
                       scale: torch.Tensor | float = 1.0,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Observed detector joints (B, T, K, 3) of ground truth, mm at the body per pixel (B, T) -> (what the
    detector gives, frames found (B, T)).

    scale (B,) or a number multiplies every figure of the noise model (training draws it per sequence).
    """
    b, t, k = observed.shape[:3]
    device = observed.device
    scale = torch.as_tensor(scale, dtype=torch.float32, device=device).expand(b)[:, None, None, None]
    px = scale / mm_per_px[..., None, None]  # pixels per mm at the subject, x the noise scale
    noise = (model.drift_mm * autoregressive((b, t, k, 2), model.drift_frames, generator, device)
             + model.jitter_mm * torch.randn((b, t, k, 2), generator=generator, device=device)) * px
    lost = unseen_runs((b, t, k), torch.full((b,), model.unseen_rate, device=device), model.unseen_run_frames,
                       generator, device)
    lost &= observed[..., 2] > 0
    jump = model.unseen_jump_mm * torch.randn((b, t, k, 2), generator=generator, device=device) * px
    xy = observed[..., :2] + torch.where(lost[..., None], jump, noise)
    seen = observed[..., 2:] * ~lost[..., None]
    found = torch.rand((b, t), generator=generator, device=device) >= model.missed_rate
    return torch.cat([xy, seen], dim=-1), found


def add_plain_noise(observed: torch.Tensor, sigma_px: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """White Gaussian noise of sigma_px pixels on every joint of (..., K, 3) observed joints."""
    noise = sigma_px * torch.randn(observed[..., :2].shape, generator=generator, device=observed.device)
    return torch.cat([observed[..., :2] + noise, observed[..., 2:]], dim=-1)


NOISE_HELP = ("the detector noise added to the ground-truth 2D: 'mediapipe' (the measured model, detector_noise.py), "
              "a number (white Gaussian noise of that many pixels), or 'none'")


def check_noise(text: str) -> str:
    """An argparse type: 'mediapipe', 'none' or a non-negative number of pixels."""
    if text in ("mediapipe", "none"):
        return text
    try:
        if float(text) >= 0:
            return text
    except ValueError:
        pass
    raise ValueError(f"--noise must be 'mediapipe', 'none' or a number of pixels of 0 or more, not {text!r}")


def detector_input(observed: torch.Tensor, mm_per_px: torch.Tensor | None, input_mode: str, noise: str,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Observed ground-truth sequences (B, T, K, 3) -> (the model's input (B, T, 28, 3) as the detector gives
    it, found (B, T)). mm_per_px (B, T) is needed for the measured noise (its figures are mm at the body).

    The same code builds the 2D for the temporal model's validation and for eval.py --noise.
    """
    found = torch.ones(observed.shape[:2], dtype=torch.bool, device=observed.device)
    if noise == "mediapipe":
        if mm_per_px is None:
            raise ValueError("the measured detector noise needs the camera (the pose file's intrinsics) to turn "
                             "its mm into pixels; give the file intrinsics, or use --noise PIXELS")
        observed, found = add_sequence_noise(observed, mm_per_px, generator=generator)
    elif noise != "none":
        observed = add_plain_noise(observed, float(noise), generator)
    return mi.complete_joints(observed, input_mode), found


# ---------------------------------------------------------------------------
# Measuring MediaPipe
# ---------------------------------------------------------------------------
def filmed_still(image: np.ndarray, frames: int, rng: np.random.Generator, sensor_sigma: float = 3.0,
                 jpeg_quality: int = 85):
    """Frames of a still image as a hand-held camera films it, with each frame's known (dx, dy) shift."""
    shift = np.zeros(2)
    for _ in range(frames):
        shift = np.clip(0.9 * shift + rng.normal(0, 0.3, 2), -3, 3)  # a slow sub-pixel tremor
        moved = cv2.warpAffine(image, np.array([[1, 0, shift[0]], [0, 1, shift[1]]]), image.shape[1::-1],
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noisy = np.clip(moved + rng.normal(0, sensor_sigma, moved.shape), 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        yield cv2.imdecode(jpeg, cv2.IMREAD_COLOR), shift.copy()


def measure(image: np.ndarray, frames: int = 150, seed: int = 0) -> dict:
    """MediaPipe's detector joints on a filmed still: its noise, per well-seen and low-visibility joint."""
    rng = np.random.default_rng(seed)
    joints, missed = [], 0
    with PoseDetector(tracking=True) as detector:
        for frame, shift in filmed_still(image, frames, rng):
            detection = detector.detect(frame)
            if detection is None:
                missed += 1
                continue
            found = sk.layout_detector_joints(detection.landmarks_px, sk.MEDIAPIPE)
            found[:, :2] -= shift
            joints.append(found)
    if len(joints) < 10:
        raise RuntimeError(f"MediaPipe found the person in only {len(joints)} of {frames} frames; nothing to measure")
    joints = np.stack(joints)  # (F, 17, 3)
    mm = SHOULDER_WIDTH_MM / np.linalg.norm(joints[:, SHOULDERS[0], :2] - joints[:, SHOULDERS[1], :2], axis=-1).mean()
    seen = joints[..., 2].mean(0)
    offsets = (joints[..., :2] - joints[..., :2].mean(0)) * mm
    steps = np.diff(joints[..., :2], axis=0) * mm
    spread = offsets.std(0).mean(-1)  # per joint
    jitter = steps.std(0).mean(-1) / np.sqrt(2)  # a step of white noise has sqrt(2) x its sigma
    well, low = seen >= 0.9, seen <= 0.1
    drift = np.sqrt(np.maximum(spread[well] ** 2 - jitter[well] ** 2, 0))
    # The time constant of the drift: where the offsets' autocorrelation falls to 1/e.
    centred = offsets[:, well].reshape(len(offsets), -1)
    lag = next((k for k in range(1, len(centred) // 2)
                if np.mean(np.sum(centred[k:] * centred[:-k], 0) / np.sum(centred * centred, 0)) < np.exp(-1)),
               len(centred) // 2)
    return {"frames": frames, "found": len(joints), "mm_per_px": float(mm),
            "well_seen_joints": int(well.sum()), "low_visibility_joints": int(low.sum()),
            "drift_mm": float(np.median(drift)) if well.any() else None,
            "drift_frames": float(lag),
            "jitter_mm": float(np.median(jitter[well])) if well.any() else None,
            "unseen_jump_mm": float(np.mean(jitter[low])) if low.any() else None,
            "visibility_flicker": float(np.mean(np.diff(joints[..., 2], axis=0) != 0)),
            "missed_rate": missed / frames,
            "per_joint": {name: {"seen": float(seen[i]), "spread_mm": float(spread[i]), "jitter_mm": float(jitter[i])}
                          for i, name in enumerate(sk.DETECTOR_JOINT_NAMES)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", action="store_true", help="measure MediaPipe on a filmed still portrait")
    parser.add_argument("--image", help="the still image (default: matplotlib's grace_hopper.jpg)")
    parser.add_argument("--frames", type=int, default=150, help="frames to film (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.measure:
        print("the noise model in use (mm at the subject, frames at %g fps):" % MEASURED_FPS)
        for key, value in asdict(MEASURED).items():
            print(f"  {key}: {value:g}")
        return 0
    path = args.image or cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = cv2.imread(str(path))
    if image is None:
        print(f"error: {path}: not an image OpenCV can read", file=sys.stderr)
        return 1
    figures = measure(image, args.frames, args.seed)
    for key, value in figures.items():
        if key != "per_joint":
            print(f"{key}: {value if not isinstance(value, float) else f'{value:.3g}'}")
    for name, joint in figures["per_joint"].items():
        print(f"  {name:15s} seen {joint['seen']:.2f}  spread {joint['spread_mm']:6.1f} mm  "
              f"jitter {joint['jitter_mm']:6.1f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
