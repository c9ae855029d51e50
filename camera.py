"""Pinhole camera geometry: virtual studio cameras, placing people in front of them, projection.

One module for everything about cameras, as VideoPose3D keeps common/camera.py: synthetic.py
and mocap.py film their 3D poses with the same virtual cameras, so the 2D the model trains on
is made the same way whatever the source of the motion.

World frame: y up, floor at y = 0, studio centre at the origin, millimetres.
Camera frame (and every pose3d in the data contract): OpenCV, x right, y down, z forward, mm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 2048  # square images, as the MPI-INF-3DHP studio's 2048 x 2048 videos
CAMERAS_PER_SUBJECT = 8  # each body is filmed by its own ring of studio cameras, ids 0..7
STAGE_RADIUS_MM = 700.0  # people move about the middle of the studio
_AIM_SPREAD_MM = 400.0  # cameras aim near, not at, the middle: people are seldom in the image centre
_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Cameras:
    """Per body and camera: world-to-camera rotation (S, K, 3, 3), centre (S, K, 3) mm, intrinsics (S, K, 4)."""

    rotation: np.ndarray
    centre: np.ndarray
    intrinsics: np.ndarray


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rotation_about_y(degrees: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations about the vertical (y) axis; +90 turns +z (forward) to +x."""
    rad = np.radians(np.asarray(degrees, dtype=np.float64))
    c, s, zero, one = np.cos(rad), np.sin(rad), np.zeros_like(rad), np.ones_like(rad)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1), np.stack([-s, zero, c], -1)], -2)


def studio_cameras(num_subjects: int, rng: np.random.Generator, per_subject: int = CAMERAS_PER_SUBJECT) -> Cameras:
    """A ring of cameras per body, 3.7-5.3 m from the studio centre, knee height to above the head.

    Each camera looks at a point near the middle of the stage, so people walking about are
    seldom in the image centre.
    """
    shape = (num_subjects, per_subject)
    azimuth = (rng.uniform(0, 2 * np.pi, (num_subjects, 1)) + 2 * np.pi * np.arange(per_subject) / per_subject
               + rng.normal(0, np.radians(10), shape))
    radius = rng.uniform(3700, 5300, shape)
    centre = np.stack([radius * np.sin(azimuth), rng.uniform(450, 2400, shape), radius * np.cos(azimuth)], axis=-1)
    aim = np.clip(rng.normal(0, _AIM_SPREAD_MM, (2,) + shape), -2 * _AIM_SPREAD_MM, 2 * _AIM_SPREAD_MM)
    target = np.stack([aim[0], rng.uniform(700, 1300, shape), aim[1]], axis=-1)
    forward = _normalize(target - centre)
    right = _normalize(np.cross(forward, _UP))
    down = np.cross(forward, right)
    roll = np.radians(rng.normal(0, 2, shape))[..., None]
    right, down = np.cos(roll) * right + np.sin(roll) * down, np.cos(roll) * down - np.sin(roll) * right
    fx = rng.uniform(1400, 1600, shape)
    fy = fx * (1 + rng.normal(0, 0.001, shape))
    cx, cy = (IMAGE_SIZE / 2 + np.clip(rng.normal(0, 10, (2,) + shape), -30, 30))
    return Cameras(rotation=np.stack([right, down, forward], axis=-2), centre=centre,
                   intrinsics=np.stack([fx, fy, cx, cy], axis=-1))


def stage_positions(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) random floor points (y = 0) within STAGE_RADIUS_MM of the studio centre."""
    r = STAGE_RADIUS_MM * np.sqrt(rng.random(n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(angle), np.zeros(n), r * np.sin(angle)], axis=1)


def world_to_camera(pose: np.ndarray, yaw: np.ndarray, place: np.ndarray, cameras: Cameras,
                    subject: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Turn (n, J, 3) world poses by `yaw` degrees about y, move them by `place` (n, 3) and express
    them in camera `camera` of body `subject`: (n, J, 3) camera-space mm."""
    rotation = cameras.rotation[subject, camera]
    # camera = R (heading @ pose + place - centre) = (R heading) pose + R (place - centre)
    turn = rotation @ rotation_about_y(yaw)
    shift = np.einsum("nij,nj->ni", rotation, place - cameras.centre[subject, camera])
    return pose @ np.swapaxes(turn, 1, 2) + shift[:, None]


def project(pose3d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-space (..., J, 3) with (..., 4) fx, fy, cx, cy: (..., J, 2) pixels."""
    f, c = intrinsics[..., None, :2], intrinsics[..., None, 2:]
    return f * pose3d[..., :2] / pose3d[..., 2:3] + c
