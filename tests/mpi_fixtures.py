"""Tiny MPI-INF-3DHP folders in the dataset's exact raw formats, with their ground truth.

write_training_fixture() writes S<k>/Seq<q>/annot.mat (MATLAB v5 cell arrays, one cell per
camera) and camera.calibration (Skeletool text); write_test_fixture() writes TS<k>/annot_data.mat
(MATLAB v5 for TS1-TS4, MATLAB v7.3 = HDF5 for TS5-TS6). Both return the poses they wrote, and
expected_training_arrays() / expected_test_arrays() give the contract arrays a correct
prepare_data.py must produce from them. Formats: ../shared/mpi_inf_3dhp.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io

import skeleton_utils as sk

NUM_CAMERAS = 14
# Typical length (mm) of the bone ending at each joint; 0 for the root.
_BONE_MM = np.array([120, 120, 120, 100, 0, 100, 120, 100,
                     150, 120, 280, 250, 80,
                     150, 120, 280, 250, 80,
                     100, 450, 420, 120, 60,
                     100, 450, 420, 120, 60], dtype=float)
# Direction of each bone in an upright person (y down): spine and head up, clavicles and
# hips sideways, limbs down, feet forward.
_UP, _DOWN, _FORWARD = (0, -1, 0), (0, 1, 0), (0, 0, -1)
_BONE_DIRECTION = np.array([_UP, _UP, _UP, _UP, (0, 0, 0), _UP, _UP, _UP,
                            (1, 0, 0), (1, 0, 0), _DOWN, _DOWN, _DOWN,
                            (-1, 0, 0), (-1, 0, 0), _DOWN, _DOWN, _DOWN,
                            (1, 0, 0), _DOWN, _DOWN, _FORWARD, _FORWARD,
                            (-1, 0, 0), _DOWN, _DOWN, _FORWARD, _FORWARD], dtype=float)


def random_skeletons(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 3) root-relative poses (mm): an upright skeleton with randomly bent bones."""
    directions = _BONE_DIRECTION + rng.normal(0.0, 0.35, (n, sk.NUM_JOINTS, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    pose = np.zeros((n, sk.NUM_JOINTS, 3))
    for joint in _topological_order():
        parent = sk.PARENTS[joint]
        if parent >= 0:
            pose[:, joint] = pose[:, parent] + _BONE_MM[joint] * directions[:, joint]
    return pose


def _topological_order() -> list[int]:
    """Joints ordered so that every parent comes before its children."""
    order: list[int] = []
    while len(order) < sk.NUM_JOINTS:
        order += [j for j, p in enumerate(sk.PARENTS) if j not in order and (p < 0 or p in order)]
    return order


def project(pose3d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(..., J, 3) camera mm -> (..., J, 2) pixels with (..., 4) = fx, fy, cx, cy."""
    f, c = intrinsics[..., None, :2], intrinsics[..., None, 2:]
    return f * pose3d[..., :2] / pose3d[..., 2:3] + c


def _rotation_about_vertical(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])


# ---------------------------------------------------------------------------
# Training set
# ---------------------------------------------------------------------------
@dataclass
class SequenceTruth:
    """What one S<k>/Seq<q> fixture holds, per camera: (cameras, frames, 28, D) poses, (cameras, 4) intrinsics."""
    pose2d: np.ndarray
    pose3d: np.ndarray
    univ3d: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray  # (cameras, 4, 4) world -> camera


def make_sequence_truth(n_frames: int, rng: np.random.Generator, n_cameras: int = NUM_CAMERAS) -> SequenceTruth:
    """One person seen by a ring of cameras about 4 m away, with per-camera studio intrinsics."""
    world = random_skeletons(n_frames, rng) + rng.normal(0.0, 200.0, (n_frames, 1, 3))
    rotations = [_rotation_about_vertical(2 * np.pi * c / n_cameras + rng.normal(0, 0.05)) for c in range(n_cameras)]
    translations = np.stack([[rng.normal(0, 100), rng.normal(0, 100), 4000 + rng.normal(0, 200)]
                             for _ in range(n_cameras)])
    extrinsics = np.tile(np.eye(4), (n_cameras, 1, 1))
    extrinsics[:, :3, :3] = rotations
    extrinsics[:, :3, 3] = translations
    pose3d = np.einsum("cij,nkj->cnki", extrinsics[:, :3, :3], world) + translations[:, None, None, :]
    # Calibration files give a few decimals; rounding keeps the text exact.
    intrinsics = np.round(np.column_stack([1500 + rng.normal(0, 10, n_cameras), 1500 + rng.normal(0, 10, n_cameras),
                                           1024 + rng.normal(0, 20, n_cameras), 1024 + rng.normal(0, 20, n_cameras)]), 3)
    pose2d = project(pose3d, intrinsics[:, None, :])
    root = pose3d[:, :, sk.ROOT:sk.ROOT + 1]
    univ3d = root + rng.uniform(0.9, 1.1) * (pose3d - root)
    return SequenceTruth(pose2d, pose3d, univ3d, intrinsics, extrinsics)


def cell_array(per_camera: np.ndarray) -> np.ndarray:
    """A (cameras, 1) object array of (frames, J*D) arrays: savemat writes it as a MATLAB cell array."""
    cells = np.empty((len(per_camera), 1), dtype=object)
    for c, poses in enumerate(per_camera):
        cells[c, 0] = poses.reshape(len(poses), -1)
    return cells


def write_annot_mat(path: Path, truth: SequenceTruth, n_cells: int | None = None) -> None:
    """annot.mat as in the dataset (MATLAB v5); n_cells < 14 writes only the first cameras."""
    n_cells = len(truth.pose3d) if n_cells is None else n_cells
    n_frames = truth.pose3d.shape[1]
    scipy.io.savemat(str(path), {
        "annot2": cell_array(truth.pose2d[:n_cells]),
        "annot3": cell_array(truth.pose3d[:n_cells]),
        "univ_annot3": cell_array(truth.univ3d[:n_cells]),
        "frames": np.arange(n_frames, dtype=float)[:, None],
        "cameras": np.arange(n_cells, dtype=float)[None, :],
    }, format="5")


def _numbers(values) -> str:
    """Shortest exact text of each number, integers without a decimal point ("0", "1497.693")."""
    return " ".join(np.format_float_positional(float(v), trim="-") for v in np.ravel(values))


def write_calibration(path: Path, truth: SequenceTruth) -> None:
    """camera.calibration in the dataset's Skeletool text layout."""
    lines = ["Skeletool Camera Calibration File V1.0"]
    for c, ((fx, fy, cx, cy), extrinsic) in enumerate(zip(truth.intrinsics, truth.extrinsics)):
        intrinsic = [[fx, 0, cx, 0], [0, fy, cy, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
        lines += [f"name          {c}", "  sensor      10 10", "  size        2048 2048", "  animated    0",
                  f"  intrinsic   {_numbers(intrinsic)}", f"  extrinsic   {_numbers(extrinsic)}", "  radial      0"]
    path.write_text("\n".join(lines) + "\n")


def write_training_fixture(root: Path, subjects=(1, 2), sequences=(1, 2), frames: int = 4,
                           seed: int = 0) -> dict[tuple[int, int], SequenceTruth]:
    """S<k>/Seq<q>/{annot.mat, camera.calibration} under root; (subject, sequence) -> what was written.

    Sequences get different frame counts (frames, frames + 1, ...) so misaligned joins show.
    """
    rng = np.random.default_rng(seed)
    truth = {}
    for i, (subject, sequence) in enumerate((s, q) for s in subjects for q in sequences):
        folder = Path(root) / f"S{subject}" / f"Seq{sequence}"
        folder.mkdir(parents=True, exist_ok=True)
        truth[subject, sequence] = make_sequence_truth(frames + i % 3, rng)
        write_annot_mat(folder / "annot.mat", truth[subject, sequence])
        write_calibration(folder / "camera.calibration", truth[subject, sequence])
    return truth


def expected_training_arrays(truth: dict[tuple[int, int], SequenceTruth], subjects, cameras, stride: int = 1,
                             univ: bool = False) -> dict[str, np.ndarray]:
    """The contract arrays for a selection: subjects, sequences, cameras ascending, every stride-th frame."""
    parts: dict[str, list] = {k: [] for k in ("pose2d", "pose3d", "subject", "sequence", "camera", "frame",
                                               "intrinsics")}
    for (subject, sequence), t in sorted(truth.items()):
        if subject not in subjects:
            continue
        for c in sorted(cameras):
            frames = np.arange(t.pose3d.shape[1])[::stride]
            parts["pose2d"].append(t.pose2d[c, frames])
            parts["pose3d"].append((t.univ3d if univ else t.pose3d)[c, frames])
            parts["subject"].append(np.full(len(frames), subject))
            parts["sequence"].append(np.full(len(frames), sequence))
            parts["camera"].append(np.full(len(frames), c))
            parts["frame"].append(frames)
            parts["intrinsics"].append(np.tile(t.intrinsics[c], (len(frames), 1)))
    return {k: np.concatenate(v) for k, v in parts.items()}


# ---------------------------------------------------------------------------
# Official test set
# ---------------------------------------------------------------------------
@dataclass
class EvalSequenceTruth:
    """What one TS<k>/annot_data.mat holds: (frames, 17, D) poses in TEST17 order, valid flags."""
    pose2d: np.ndarray
    pose3d: np.ndarray
    univ3d: np.ndarray
    valid: np.ndarray
    hdf5: bool


# Made-up but plausible cameras: a 2048x2048 studio camera (TS1-4), a 1920x1080 outdoor one (TS5-6).
STUDIO_INTRINSICS = np.array([1500.0, 1500.0, 1024.0, 1024.0])
OUTDOOR_INTRINSICS = np.array([1680.0, 1670.0, 960.0, 540.0])
# A MAT-file header: 116 bytes of text, 8 bytes of subsystem offset, version 0x0200 (7.3), endian 'IM'.
_MAT73_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
                 .ljust(116) + b" " * 8 + b"\x00\x02IM")


def _matlab_layout(poses: np.ndarray, frames_first: bool) -> np.ndarray:
    """(N, 17, D) -> the MATLAB-order array stored in the file: (D, 1, 17, N), or (N, 17, D) if frames_first."""
    return poses if frames_first else poses.transpose(2, 1, 0)[:, None]


def _write_v5(path: Path, variables: dict[str, np.ndarray]) -> None:
    scipy.io.savemat(str(path), variables, format="5")


def _write_v73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte MAT header, each array stored with its axes reversed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            f.create_dataset(name, data=value.T).attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:
        f.write(_MAT73_HEADER)


def write_test_fixture(root: Path, sequences=tuple(range(1, 7)), frames: int = 6, frames_first: bool = False,
                       seed: int = 1) -> dict[int, EvalSequenceTruth]:
    """TS<k>/annot_data.mat under root (v5 for TS1-4, v7.3/HDF5 for TS5-6); sequence -> what was written.

    Frame 0 of each sequence is invalid and frame 1 valid, the rest at random. frames_first stores
    (N, 17, D) instead of MATLAB's (D, 1, 17, N).
    """
    rng = np.random.default_rng(seed)
    truth = {}
    for i, sequence in enumerate(sequences):
        hdf5 = sequence >= 5
        n = frames + i % 3
        pose3d = (random_skeletons(n, rng) + [0.0, 0.0, 4000.0] + rng.normal(0, 200, (n, 1, 3)))[:, sk.TEST17_INDICES]
        root_joint = pose3d[:, sk.TEST17_ROOT:sk.TEST17_ROOT + 1]
        univ3d = root_joint + rng.uniform(0.9, 1.1) * (pose3d - root_joint)
        valid = rng.random(n) < 0.7
        valid[:2] = [False, True]
        intrinsics = OUTDOOR_INTRINSICS if hdf5 else STUDIO_INTRINSICS
        truth[sequence] = EvalSequenceTruth(project(pose3d, intrinsics), pose3d, univ3d, valid, hdf5)
        folder = Path(root) / f"TS{sequence}"
        folder.mkdir(parents=True, exist_ok=True)
        t = truth[sequence]
        variables = {
            "annot2": _matlab_layout(t.pose2d, frames_first),
            "annot3": _matlab_layout(t.pose3d, frames_first),
            "univ_annot3": _matlab_layout(t.univ3d, frames_first),
            "valid_frame": valid.astype(float)[:, None],
            "activity_annotation": rng.integers(1, 8, n).astype(float)[:, None],
            "bb_crop": rng.uniform(0, 1000, (n, 4)),
        }
        (_write_v73 if hdf5 else _write_v5)(folder / "annot_data.mat", variables)
    return truth


def expected_test_arrays(truth: dict[int, EvalSequenceTruth], univ: bool = True) -> dict[str, np.ndarray]:
    """The contract arrays of the valid frames, sequences ascending."""
    parts: dict[str, list] = {k: [] for k in ("pose2d", "pose3d", "sequence", "frame")}
    for sequence, t in sorted(truth.items()):
        keep = np.flatnonzero(t.valid)
        parts["pose2d"].append(t.pose2d[keep])
        parts["pose3d"].append((t.univ3d if univ else t.pose3d)[keep])
        parts["sequence"].append(np.full(len(keep), sequence))
        parts["frame"].append(keep)
    return {k: np.concatenate(v) for k, v in parts.items()}
