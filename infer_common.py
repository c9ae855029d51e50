"""What infer.py's two ways in share: MediaPipe on images and videos (infer.py), and other detectors'
keypoint files (keypoint_lifting.py): output names, atomic writing, the weights, lifting, JSON records, images.

Both import from here, so neither imports the other (keypoint_lifting.py is called by infer.py).
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

import data_loader as dl
import skeleton_utils as sk
from model import CheckpointError, Lifter, load_lifter

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class InputFailed(Exception):
    """One input could not be processed (no person, unreadable file); the batch goes on without it."""


# ---------------------------------------------------------------------------
# Inputs and output names
# ---------------------------------------------------------------------------
def media_kind(path: Path) -> str | None:
    """'image', 'video' or None (unsupported), from the file suffix."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


# What each input writes: its file stem followed by these endings.
OUTPUT_ENDINGS = {
    "image": {"overlay": "_overlay_coco17.jpg", "figure": "_pose3d.png", "json": "_pose.json"},
    "video": {"video": "_annotated.mp4", "jsonl": "_joints.jsonl"},
    # --keypoints: STEM is the keypoint file's or folder's; the overlays are named after each frame's image.
    "keypoints": {"jsonl": "_people.jsonl", "figure": "_people3d.png", "overlay": "_overlay_people.jpg"},
}


def is_own_output(path: Path) -> bool:
    """Whether a file looks like one infer.py wrote (e.g. when --out is the input folder)."""
    return any(path.name.endswith(ending) for endings in OUTPUT_ENDINGS.values() for ending in endings.values())


def output_folder(name: str) -> Path:
    """--out, created when missing."""
    out_dir = Path(name)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SystemExit(f"error: --out {out_dir}: cannot create the output folder ({err.strerror}).") from err
    return out_dir


def output_paths(stem: str, kind: str, out_dir: Path) -> dict[str, Path]:
    """Where the outputs of one input go (see infer.py's docstring)."""
    return {key: out_dir / f"{stem}{ending}" for key, ending in OUTPUT_ENDINGS[kind].items()}


# ---------------------------------------------------------------------------
# Atomic writing
# ---------------------------------------------------------------------------
def temporary_path(path: Path) -> Path:
    """A hidden name beside path with the same suffix (OpenCV picks the format from it)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextmanager
def atomic_outputs():
    """Yield stage(path) -> a temporary path to write; every staged file becomes its path when the
    block succeeds, and none does otherwise (all temporary files vanish)."""
    staged: list[tuple[Path, Path]] = []

    def stage(path: Path) -> Path:
        staged.append((temporary_path(path), path))
        return staged[-1][0]

    try:
        yield stage
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_output(path: Path):
    """Yield a temporary path to write; it becomes path when the block succeeds and vanishes otherwise."""
    with atomic_outputs() as stage:
        yield stage(path)


def write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_image(path: Path, image: np.ndarray) -> None:
    with atomic_output(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"{path}: OpenCV could not write the image")


# ---------------------------------------------------------------------------
# Weights and lifting (the model)
# ---------------------------------------------------------------------------
def load_weights(path: str | os.PathLike, device: torch.device) -> tuple[Lifter, dict]:
    """The checkpoint as a Lifter, with a SystemExit naming the problem when it cannot be used."""
    try:
        return load_lifter(str(path), device)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from err


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


def model_input(keypoints: np.ndarray, layout: sk.KeypointLayout, input_mode: str) -> np.ndarray:
    """(..., K, 3) keypoints of a layout -> the (..., 28, 3) input that a model trained with input_mode expects.

    A model trained on all 28 ground-truth joints (--input full) gets the detector joints synthesised as
    for --input mediapipe, with a warning at loading (warn_if_not_for_detectors).
    """
    observed = sk.layout_detector_joints(keypoints, layout)
    return dl.complete_joints(observed, "mediapipe" if input_mode == "full" else input_mode)


# ---------------------------------------------------------------------------
# JSON records and images
# ---------------------------------------------------------------------------
def rounded(values: np.ndarray, decimals: int) -> list:
    """The values as nested lists of floats with this many decimals, for JSON."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


def joints_record(joints2d: np.ndarray, joints3d: np.ndarray) -> list[dict]:
    """The model's 28 joints by name: input pixels and visibility, output mm."""
    # Each array rounded once, not per joint: a video builds this for every frame.
    pixel, visibility, mm = rounded(joints2d[:, :2], 2), rounded(joints2d[:, 2], 3), rounded(joints3d, 1)
    return [{"name": name, "pixel": pixel[j], "visibility": visibility[j], "mm": mm[j]}
            for j, name in enumerate(sk.JOINT_NAMES)]


def to_json(obj) -> str:
    """Compact JSON; a NaN or infinity is an error rather than invalid JSON."""
    return json.dumps(obj, allow_nan=False)


def to_readable_json(record: dict) -> str:
    """JSON with a line per top-level key and per element of a top-level list of objects (one line per joint)."""
    lines = []
    for key, value in record.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join("  " + to_json(item) for item in value)
            lines.append(f" {to_json(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {to_json(key)}: {to_json(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def read_image(path: Path) -> np.ndarray:
    """A BGR image (EXIF orientation applied; grey, 16-bit and alpha images converted)."""
    # imdecode rather than imread: it reads paths with any characters and prints no warnings of its own.
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise InputFailed(f"{path}: cannot read the file ({err.strerror}).") from err
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputFailed(f"{path}: cannot read the image; the file is empty, corrupt or not a {path.suffix} image.")
    return image

