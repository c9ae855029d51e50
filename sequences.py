"""Sequences of poses: runs of consecutive frames in a pose file, and resampling in time.

A sequence is a run of poses of one (sequence, camera) ordered by frame (the data contract's metadata,
data_loader.py); a jump in frame is a gap (frames where nobody was seen), not a faster clip. The
temporal model works at INTERNAL_FPS: motion at another rate is resampled to it, so a 60 fps video shows
the model the motion it was trained on.
"""
from __future__ import annotations

import numpy as np

INTERNAL_FPS = 25.0
SEQUENCE_KEYS = ("sequence", "camera", "frame")


def has_sequences(arrays: dict[str, np.ndarray]) -> bool:
    return all(key in arrays for key in SEQUENCE_KEYS)


def runs(arrays: dict[str, np.ndarray], indices: np.ndarray | None = None) -> list[np.ndarray]:
    """The runs of consecutive frames among the poses `indices` (default all): index arrays ordered by frame.

    A run is one (subject where the file has it, sequence, camera) between gaps: MPI-INF-3DHP numbers
    the sequences of each subject from 1. Poses repeated at the same frame are an error: a sequence
    shows one person, and several people of a frame belong to sequences of their own.
    """
    indices = np.arange(len(arrays["frame"])) if indices is None else np.asarray(indices)
    subject = arrays["subject"][indices] if "subject" in arrays else np.zeros(len(indices), np.int64)
    order = np.lexsort((arrays["frame"][indices], arrays["camera"][indices], arrays["sequence"][indices], subject))
    ordered, subject = indices[order], subject[order].astype(np.int64)
    sequence, camera, frame = (arrays[key][ordered].astype(np.int64) for key in SEQUENCE_KEYS)
    same = (subject[1:] == subject[:-1]) & (sequence[1:] == sequence[:-1]) & (camera[1:] == camera[:-1])
    if np.any(same & (frame[1:] == frame[:-1])):
        at = int(np.argmax(same & (frame[1:] == frame[:-1])))
        raise ValueError(f"sequence {sequence[at]}, camera {camera[at]} has two poses at frame {frame[at]}; "
                         f"give each person a sequence of their own")
    breaks = np.flatnonzero(~same | (frame[1:] != frame[:-1] + 1)) + 1
    return [run for run in np.split(ordered, breaks) if len(run)]


def interpolate(values: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 of (F, ...) values at increasing `times` to `new_times` (clamped at the ends)."""
    position = np.interp(new_times, times, np.arange(len(times), dtype=np.float64))
    low = np.floor(position).astype(int).clip(0, max(len(times) - 2, 0))
    high = np.minimum(low + 1, len(times) - 1)
    weight = (position - low).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1 - weight) * values[low] + weight * values[high]


def resample(values: np.ndarray, fps: float, to_fps: float = INTERNAL_FPS) -> np.ndarray:
    """(F, ...) values at `fps` -> the same span at `to_fps`, by linear interpolation."""
    if fps <= 0 or to_fps <= 0:
        raise ValueError(f"frame rates must be positive (got {fps} and {to_fps})")
    times = np.arange(len(values)) / fps
    return interpolate(values, times, np.arange(0.0, times[-1] + 1e-9, 1.0 / to_fps))
