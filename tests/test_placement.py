"""camera.py: the focal length of a photo and the pelvis translation that places a lifted pose in camera space."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import camera
import skeleton_utils as sk
from synthetic import generate_poses


@pytest.fixture(scope="module")
def posed():
    """Synthetic poses in camera space (mm), their exact pixels and the cameras that took them."""
    data = generate_poses(300, seed=11)
    pose3d, intrinsics = data["pose3d"].astype(np.float64), data["intrinsics"].astype(np.float64)
    return pose3d, camera.project(pose3d, intrinsics), intrinsics


def _solve_all(pixels, weights, pose3d, intrinsics):
    root = pose3d[:, sk.ROOT]
    return np.array([camera.solve_translation(pixels[i], weights[i], pose3d[i] - root[i, None], intrinsics[i])
                     for i in range(len(pose3d))])


def test_exact_pixels_give_the_translation_to_within_a_millimetre(posed):
    pose3d, pixels, intrinsics = posed
    found = _solve_all(pixels, np.ones(pixels.shape[:2]), pose3d, intrinsics)
    assert np.abs(found - pose3d[:, sk.ROOT]).max() < 1.0
    assert np.abs(found - pose3d[:, sk.ROOT]).max() < 1e-6  # closed form: exact up to rounding


def test_missing_joints_are_ignored_whatever_their_pixels(posed):
    pose3d, pixels, intrinsics = posed
    rng = np.random.default_rng(0)
    weights = (rng.random(pixels.shape[:2]) > 0.5).astype(np.float64)
    weights[:, [sk.J["left_hip"], sk.J["head"], sk.J["right_ankle"]]] = 1.0  # at least three joints seen
    garbage = np.where(weights[..., None] > 0, pixels, rng.uniform(-5000, 5000, pixels.shape))
    found = _solve_all(garbage, weights, pose3d, intrinsics)
    assert np.abs(found - pose3d[:, sk.ROOT]).max() < 1.0


def test_pixel_noise_degrades_the_translation_gracefully(posed):
    pose3d, pixels, intrinsics = posed
    noisy = pixels + np.random.default_rng(1).normal(0, 3.0, pixels.shape)  # 3 px on ~2048 px images
    found = _solve_all(noisy, np.ones(pixels.shape[:2]), pose3d, intrinsics)
    error = np.linalg.norm(found - pose3d[:, sk.ROOT], axis=-1)
    depth = pose3d[:, sk.ROOT, 2]
    # Depth from scale: 3 px of noise on a body ~400 px tall is ~1%, so about 1% of the distance.
    assert np.median(error / depth) < 0.01 and (error / depth).max() < 0.05
    root = pose3d[:, sk.ROOT:sk.ROOT + 1]
    reprojection = [camera.reprojection_error(noisy[i], np.ones(28), pose3d[i] - root[i], found[i], intrinsics[i])
                    for i in range(len(pose3d))]
    assert 2.0 < np.mean(reprojection) < 4.0  # the mean length of 3 px Gaussian noise in 2D is 3.76 px


def test_no_visible_joint_still_gives_a_finite_placement(posed):
    pose3d, pixels, intrinsics = posed
    rel = pose3d[0] - pose3d[0, sk.ROOT]
    found = camera.solve_translation(pixels[0], np.zeros(28), rel, intrinsics[0])
    assert np.abs(found - pose3d[0, sk.ROOT]).max() < 1.0  # equal weights then


def test_place_pelvis_uses_the_joints_a_detector_measures(posed):
    pose3d, pixels, intrinsics = posed
    joints2d = np.concatenate([pixels[0], np.ones((28, 1))], axis=1)
    joints2d[[sk.J["spine"], sk.J["neck"]], :2] += 300.0  # synthesised in 2D: not used
    rel = pose3d[0] - pose3d[0, sk.ROOT]
    pelvis = camera.place_pelvis(joints2d, rel, intrinsics[0])
    assert np.abs(pelvis - pose3d[0, sk.ROOT]).max() < 1.0
    assert camera.placement_error(joints2d, rel, pelvis, intrinsics[0]) < 1e-6


def test_focal_length_from_the_flag_then_exif_then_the_default_field_of_view(tmp_path):
    plain, tagged = tmp_path / "plain.jpg", tmp_path / "tagged.jpg"
    Image.new("RGB", (400, 300)).save(plain)
    image = Image.new("RGB", (400, 300))
    exif = image.getexif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm: a phone's main camera
    image.save(tagged, exif=exif)
    assert camera.focal_length(400, 300, 1234.0, tagged) == (1234.0, "--focal")
    focal, source = camera.focal_length(400, 300, None, tagged)
    assert focal == pytest.approx(26 * 500 / 43.27) and "EXIF" in source
    focal, source = camera.focal_length(400, 300, None, plain)
    assert 2 * math.degrees(math.atan(200 / focal)) == pytest.approx(camera.DEFAULT_HORIZONTAL_FOV_DEG)
    assert "default" in source
    assert camera.focal_length(400, 300)[0] == focal  # a video frame: no EXIF
    intrinsics, source = camera.image_intrinsics((300, 400, 3), None, tagged)
    assert intrinsics.tolist() == [26 * 500 / 43.27, 26 * 500 / 43.27, 200.0, 150.0] and "EXIF" in source


def test_photo_size_reads_the_header_and_turns_with_the_exif_orientation(tmp_path):
    upright, turned = tmp_path / "upright.jpg", tmp_path / "turned.jpg"
    Image.new("RGB", (64, 48)).save(upright)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.new("RGB", (64, 48)).save(turned, exif=exif)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert camera.photo_size(upright) == (64, 48)
    assert camera.photo_size(turned) == (48, 64)
    assert camera.photo_size(tmp_path / "broken.jpg") is None
