"""MediaPipe Pose, the 2D detector of one person (mp.solutions.pose), and Detection, what a person found is.

    with PoseDetector(tracking=False) as detector:         # photos, one after another
        detection = detector.detect(image_bgr)              # a Detection, or None when there is no person

infer.py finds everyone with people_finder.py (the same bundled models), and runs it for videos in a
process of its own (detector_process.py); this single-person detector is "MediaPipe alone", the
baseline benchmark.py compares the pipeline with, and what detector_noise.py measures.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe Pose "full", the model bundled with the mediapipe wheel (complexity 2 would need a download).
MEDIAPIPE_MODEL_COMPLEXITY = 1
VISIBLE = 0.5  # MediaPipe's visibility above which a landmark counts as seen


@dataclass
class Detection:
    """MediaPipe's 33 landmarks of one person: (33, 3) pixels + visibility, and its own metric 3D, (33, 3) mm."""

    landmarks_px: np.ndarray
    world_mm: np.ndarray
    followed: int | None = None  # in a video: the number people_finder's follower gave the person it follows

    @property
    def box(self) -> np.ndarray:
        """(4,) x0, y0, x1, y1 pixels around the seen landmarks (all of them when fewer than three are seen)."""
        seen = self.landmarks_px[self.landmarks_px[:, 2] > VISIBLE]
        points = seen if len(seen) >= 3 else self.landmarks_px
        return np.r_[points[:, :2].min(0), points[:, :2].max(0)]

    @property
    def size(self) -> float:
        """How large the person is in the image, pixels: the diagonal of the box of all 33 landmarks. MediaPipe
        places the ones it does not see where the body would be, so a portrait's size is its whole body's."""
        return float(np.linalg.norm(np.ptp(self.landmarks_px[:, :2], axis=0)))


@contextmanager
def native_stderr_silenced():
    """Send what native libraries write to file descriptor 2 to /dev/null for the duration.

    MediaPipe's graph start-up prints INFO and WARNING lines through absl before absl's logging is
    initialised, which no setting turns off; they would drown the script's own messages.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PoseDetector:
    """MediaPipe Pose in this process: static_image_mode for unrelated photos, tracking mode for video frames."""

    def __init__(self, tracking: bool):
        import mediapipe as mp  # a second or more to import: only where a detector is made

        with native_stderr_silenced():
            self._pose = mp.solutions.pose.Pose(static_image_mode=not tracking,
                                                model_complexity=MEDIAPIPE_MODEL_COMPLEXITY)
            # The graph starts (and logs) in background threads; a first frame waits until it has.
            self._pose.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def detect(self, image_bgr: np.ndarray) -> Detection | None:
        """The landmarks of the most prominent person in a BGR image, or None when there is none."""
        # Parts of the graph start, and log, on the first frame with a person.
        with native_stderr_silenced():
            results = self._pose.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        if results.pose_landmarks is None:
            return None
        height, width = image_bgr.shape[:2]
        landmarks = np.array([(p.x * width, p.y * height, p.visibility) for p in results.pose_landmarks.landmark])
        world_mm = np.array([(p.x, p.y, p.z) for p in results.pose_world_landmarks.landmark]) * 1000.0
        return Detection(landmarks, world_mm)

    def close(self) -> None:
        with native_stderr_silenced():
            self._pose.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
