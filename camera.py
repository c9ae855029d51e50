"""Pinhole camera geometry: virtual studio cameras, placing people in front of them, projection.

One module for everything about cameras, as VideoPose3D keeps common/camera.py: synthetic.py
and mocap.py film their 3D poses with the same virtual cameras, so the 2D the model trains on
is made the same way whatever the source of the motion.

World frame: y up, floor at y = 0, studio centre at the origin, millimetres.
Camera frame (and every pose3d in the data contract): OpenCV, x right, y down, z forward, mm.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

import skeleton_utils as sk
from geometry import axis_rotation, unit

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
    forward = unit(target - centre)
    right = unit(np.cross(forward, _UP))
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
    turn = rotation @ axis_rotation(1, yaw)
    shift = np.einsum("nij,nj->ni", rotation, place - cameras.centre[subject, camera])
    return pose @ np.swapaxes(turn, 1, 2) + shift[:, None]


def project(pose3d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-space (..., J, 3) with (..., 4) fx, fy, cx, cy: (..., J, 2) pixels."""
    f, c = intrinsics[..., None, :2], intrinsics[..., None, 2:]
    return f * pose3d[..., :2] / pose3d[..., 2:3] + c


# A filmed sequence keeps the frames where the pelvis is at least this far in front of the camera and
# every joint inside the image; the others are a gap, as when a detector loses a person leaving the view.
NEAREST_MM = 1500.0


def film_motion(world: np.ndarray, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(V, F, 28, 3) world motion of one clip (y up; on each view's body) seen by V static studio cameras:
    pose2d, pose3d and intrinsics of the (V x F) poses, view-major, and which of them are in view.

    The clip keeps its trajectory: turned to one random heading about its mean floor position and stood
    at one stage point per view, so a walk is a walk across the image, as a static camera films it.
    """
    views, frames = world.shape[:2]
    cameras = studio_cameras(1, rng, per_subject=views)
    centred = world - np.array([1.0, 0.0, 1.0]) * world[:, :, sk.ROOT].mean(axis=1)[:, None, None]
    view = np.repeat(np.arange(views), frames)
    place = np.repeat(stage_positions(views, rng), frames, axis=0)
    yaw = np.repeat(rng.uniform(-180.0, 180.0, views), frames)
    pose3d = world_to_camera(centred.reshape(-1, sk.NUM_JOINTS, 3), yaw, place, cameras, np.zeros_like(view), view)
    intrinsics = cameras.intrinsics[0, view]
    pose2d = project(pose3d, intrinsics)
    in_view = ((pose3d[:, sk.ROOT, 2] > NEAREST_MM) & (pose3d[..., 2] > 0).all(-1)
               & ((pose2d >= 0) & (pose2d <= IMAGE_SIZE)).all(axis=(1, 2)))
    return {"pose2d": pose2d.astype(np.float32), "pose3d": pose3d.astype(np.float32),
            "intrinsics": intrinsics.astype(np.float32)}, in_view


# ---------------------------------------------------------------------------
# A photo's camera, and where a lifted person stands in front of it
# ---------------------------------------------------------------------------
# Without --focal or EXIF: a 60 degree horizontal field of view, between a webcam's (about 55-65)
# and a phone's main camera (about 65-70, a 26 mm lens in 35 mm-equivalent terms).
DEFAULT_HORIZONTAL_FOV_DEG = 60.0
FULL_FRAME_DIAGONAL_MM = 43.27  # the 36 x 24 mm frame that EXIF's 35 mm-equivalent focal length refers to
_EXIF_IFD, _FOCAL_35MM_TAG = 0x8769, 0xA405  # the Exif sub-IFD, FocalLengthIn35mmFilm
_ORIENTATION_TAG, _TURNED_ORIENTATIONS = 0x0112, (5, 6, 7, 8)  # EXIF orientations that swap width and height
# The joints whose 2D a detector measures: the others are synthesised in 2D on straight lines
# (skeleton_utils.synthesize_joints) and so do not match their lifted 3D.
_MEASURED = np.zeros(len(sk.JOINT_NAMES))
_MEASURED[list(sk.DETECTOR_JOINTS)] = 1.0


def exif_focal_px(path: str | os.PathLike, width: int, height: int) -> float | None:
    """The focal length in pixels from a photo's EXIF 35 mm-equivalent focal length, or None without one.

    The 35 mm equivalent scales the 43.27 mm diagonal of a full frame to the image's diagonal,
    so it holds for a photo resized (not cropped) after it was taken.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib; only photos need it

    try:
        with Image.open(path) as image:
            focal_35mm = image.getexif().get_ifd(_EXIF_IFD).get(_FOCAL_35MM_TAG)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if not focal_35mm or float(focal_35mm) <= 0:
        return None
    return float(focal_35mm) * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM


def photo_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of an image file as shown, EXIF orientation applied (as infer_outputs.read_image does), read
    from its header alone; None when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            turned = image.getexif().get(_ORIENTATION_TAG) in _TURNED_ORIENTATIONS
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return (height, width) if turned else (width, height)


def focal_length(width: int, height: int, given_px: float | None = None,
                 photo: str | os.PathLike | None = None) -> tuple[float, str]:
    """The focal length in pixels and where it came from: the given one, else the photo's EXIF,
    else DEFAULT_HORIZONTAL_FOV_DEG across the image's width."""
    if given_px is not None:
        return float(given_px), "--focal"
    exif = exif_focal_px(photo, width, height) if photo is not None else None
    if exif is not None:
        return exif, "EXIF 35 mm-equivalent focal length"
    default = 0.5 * width / math.tan(math.radians(DEFAULT_HORIZONTAL_FOV_DEG) / 2)
    return default, f"default {DEFAULT_HORIZONTAL_FOV_DEG:g} degree horizontal field of view"


def image_intrinsics(shape: tuple[int, ...], given_px: float | None = None,
                     photo: str | os.PathLike | None = None) -> tuple[np.ndarray, str]:
    """(4,) fx, fy, cx, cy for an image of `shape` (height, width, ...): square pixels, the principal
    point at the image centre, the focal length from focal_length(); and where that came from."""
    height, width = shape[:2]
    focal, source = focal_length(width, height, given_px, photo)
    return np.array([focal, focal, width / 2, height / 2]), source


def solve_translation(pixels: np.ndarray, weights: np.ndarray, pose3d: np.ndarray, intrinsics: np.ndarray,
                      refinements: int = 2) -> np.ndarray:
    """(3,) translation t that best places root-relative (J, 3) mm `pose3d` so that pose3d + t projects
    onto (J, 2) `pixels` through the pinhole `intrinsics`, joints weighted by (J,) `weights`.

    Closed form: with the focal length fixed, u = fx (X + tx) / (Z + tz) + cx is linear in t once
    multiplied by the depth, so weighted least squares solves it. That minimises the error times
    each joint's depth; re-solving with the weights divided by the depths found turns it into the
    pixel error (exact without noise either way). Zero total weight falls back to equal weights.
    """
    pixels, pose3d = np.asarray(pixels, np.float64), np.asarray(pose3d, np.float64)
    weights = np.asarray(weights, np.float64)
    if not weights.sum() > 0:
        weights = np.ones(len(pose3d))
    f, c = intrinsics[:2], intrinsics[2:]
    offset = pixels - c  # (J, 2)
    rows = np.zeros((len(pose3d), 2, 3))
    rows[:, 0, 0], rows[:, 1, 1] = f[0], f[1]
    rows[:, :, 2] = -offset
    rhs = offset * pose3d[:, 2:3] - f * pose3d[:, :2]  # (J, 2)
    scale = weights
    for _ in range(refinements + 1):
        w = np.sqrt(scale)[:, None]
        a, b = (rows * w[..., None]).reshape(-1, 3), (rhs * w).reshape(-1)
        translation = np.linalg.lstsq(a, b, rcond=None)[0]
        depth = np.maximum(pose3d[:, 2] + translation[2], 1.0)  # a joint behind the camera gets no say
        scale = weights / depth ** 2
    return translation


def reprojection_error(pixels: np.ndarray, weights: np.ndarray, pose3d: np.ndarray, translation: np.ndarray,
                       intrinsics: np.ndarray) -> float:
    """Weighted mean distance in pixels between (J, 2) `pixels` and pose3d + translation projected."""
    weights = np.asarray(weights, np.float64)
    if not weights.sum() > 0:
        weights = np.ones(len(pose3d))
    placed = np.asarray(pose3d, np.float64) + translation
    placed[:, 2] = np.maximum(placed[:, 2], 1.0)
    distance = np.linalg.norm(project(placed, np.asarray(intrinsics, np.float64)) - pixels, axis=-1)
    return float((weights * distance).sum() / weights.sum())


def detector_weights(joints2d: np.ndarray) -> np.ndarray:
    """(28,) weights of the model's (28, 3) input joints for the placement: their visibility on the
    joints a detector measures, 0 on those synthesised in 2D."""
    return _MEASURED * np.asarray(joints2d)[:, 2]


def place_pelvis(joints2d: np.ndarray, pose3d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """The pelvis position (3,) in camera mm of a lifted root-relative (28, 3) pose whose (28, 3)
    pixel + visibility input was `joints2d`."""
    return solve_translation(joints2d[:, :2], detector_weights(joints2d), pose3d, intrinsics)


def placement_error(joints2d: np.ndarray, pose3d: np.ndarray, pelvis: np.ndarray, intrinsics: np.ndarray) -> float:
    """The mean reprojection error in pixels of a pose placed at `pelvis`, over the joints place_pelvis uses."""
    return reprojection_error(joints2d[:, :2], detector_weights(joints2d), pose3d, pelvis, intrinsics)


# What the placement fields of infer.py's JSON records mean, beside the code that computes them.
PLACEMENT_COORDINATES = {
    "pelvis_camera_mm": "the pelvis in camera space, mm (x right, y down, z away, the camera at 0): where the 3D "
                        "joints, moved there, best reproject onto the detected joints (least squares, weighted by "
                        "visibility); scale and distance follow from the model's body size and focal_px",
    "focal_px": "the pinhole camera's focal length in pixels (principal point at the image centre): --focal, else "
                "the photo's EXIF 35 mm-equivalent focal length, else a "
                f"{DEFAULT_HORIZONTAL_FOV_DEG:g} degree horizontal field of view",
    "reprojection_error_px": "mean pixel distance between the detected joints and the placed 3D joints projected",
}


def placement_record(joints2d: np.ndarray, pose3d: np.ndarray, pelvis: np.ndarray, intrinsics: np.ndarray) -> dict:
    """The PLACEMENT_COORDINATES fields of a placed pose, JSON-ready."""
    return {"pelvis_camera_mm": np.round(pelvis, 1).tolist(), "focal_px": round(float(intrinsics[0]), 1),
            "reprojection_error_px": round(placement_error(joints2d, pose3d, pelvis, intrinsics), 2)}
