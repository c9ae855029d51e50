"""Pose data: the file contract, where poses come from (--data, --synthetic, --mocap), the held-out split, the Dataset.

A pose file is an .npz with
    pose2d      (N, 28, 2)  float  pixel coordinates (u right, v down)
    pose3d      (N, 28, 3)  float  camera-space millimetres (x right, y down, z forward)
and optionally subject, sequence, camera, frame (N,) integers and intrinsics (N, 4) = fx, fy, cx, cy;
holdout (N,) 1 marks a file's own validation poses (mocap.py's validation clips), source (N,) which
of several combined sources a pose came from (load_pose_sources); fps, a scalar, the rate of the frame
numbering (a run of one sequence and camera ordered by frame is a video: sequences.py).
A 17-joint file (the official MPI-INF-3DHP test set, joints in skeleton_utils.TEST17 order) is
accepted too.
"""
from __future__ import annotations

import argparse
import os
import zipfile

import numpy as np
import torch

import asf_amc
import mocap
import model_input as mi
import skeleton_utils as sk
import synthetic

METADATA_KEYS = ("subject", "sequence", "camera", "frame", "holdout", "source")
DEFAULT_DATA = "mpi_inf_combined.npz"
DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0  # fixed, so train.py, eval.py and visualize_eval.py agree on the held-out poses


class DatasetError(ValueError):
    """A pose file that does not meet the data contract; the message says what to fix."""


# ---------------------------------------------------------------------------
# Loading and checking a pose file
# ---------------------------------------------------------------------------
def load_pose_file(path: str) -> dict[str, np.ndarray]:
    """Read and validate a pose .npz; returns its arrays (poses as float32)."""
    if not os.path.isfile(path):
        raise DatasetError(
            f"{path}: no such file. Build it from the raw MPI-INF-3DHP download with "
            f"`python prepare_data.py --root /path/to/mpi_inf_3dhp --out {path}`, or train without "
            f"the dataset on synthetic poses with `python train.py --synthetic 200000`."
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err}). Write one with numpy.savez.") from err
    return validate_pose_arrays(arrays, path)


def validate_pose_arrays(arrays: dict[str, np.ndarray], name: str = "pose data") -> dict[str, np.ndarray]:
    """Check arrays against the data contract; returns them with poses as float32."""
    for key in ("pose2d", "pose3d"):
        if key not in arrays:
            raise DatasetError(
                f"{name}: missing key '{key}' (found {sorted(arrays)}). A pose file needs pose2d (N,28,2) "
                f"pixels and pose3d (N,28,3) camera millimetres."
            )
    pose2d, pose3d = arrays["pose2d"], arrays["pose3d"]
    for key, arr, dims in (("pose2d", pose2d, 2), ("pose3d", pose3d, 3)):
        if arr.ndim != 3 or arr.shape[2] != dims or arr.shape[1] not in (sk.NUM_JOINTS, len(sk.TEST17_INDICES)):
            raise DatasetError(
                f"{name}: '{key}' has shape {arr.shape}, expected (N, 28, {dims}) or, for the 17-joint "
                f"test set, (N, 17, {dims})."
            )
    if pose2d.shape[:2] != pose3d.shape[:2]:
        raise DatasetError(
            f"{name}: pose2d {pose2d.shape} and pose3d {pose3d.shape} disagree in pose count or joint count."
        )
    n = len(pose2d)
    if n == 0:
        raise DatasetError(f"{name}: the file holds no poses (N = 0).")
    for key in METADATA_KEYS:
        if key in arrays and arrays[key].shape != (n,):
            raise DatasetError(f"{name}: '{key}' has shape {arrays[key].shape}, expected ({n},), one per pose.")
    if "fps" in arrays and (np.shape(arrays["fps"]) != () or not float(arrays["fps"]) > 0):
        raise DatasetError(f"{name}: 'fps' must be one positive number, the rate of the frame numbering "
                           f"(found shape {np.shape(arrays['fps'])}, value {np.ravel(arrays['fps'])[:3]}).")
    if "intrinsics" in arrays and arrays["intrinsics"].shape != (n, 4):
        raise DatasetError(
            f"{name}: 'intrinsics' has shape {arrays['intrinsics'].shape}, expected ({n}, 4) = fx, fy, cx, cy."
        )
    checked = dict(arrays)
    for key in ("pose2d", "pose3d"):
        try:
            checked[key] = np.asarray(arrays[key], dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise DatasetError(f"{name}: '{key}' is not numeric ({err}).") from err
        bad = ~np.isfinite(checked[key]).all(axis=(1, 2))
        if bad.any():
            raise DatasetError(
                f"{name}: '{key}' has non-finite values (NaN or inf) in {int(bad.sum())} poses, the first "
                f"at index {int(np.argmax(bad))}. Drop or repair those poses."
            )
    return checked


def joint_set_of(num_joints: int) -> str:
    return "mpiinf28" if num_joints == sk.NUM_JOINTS else "test17"


def root_of(num_joints: int) -> int:
    return sk.ROOT if num_joints == sk.NUM_JOINTS else sk.TEST17_ROOT


# ---------------------------------------------------------------------------
# The deterministic held-out split
# ---------------------------------------------------------------------------
def split_indices(arrays: dict[str, np.ndarray], val_fraction: float = DEFAULT_VAL_FRACTION,
                  seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, str]:
    """(train indices, validation indices, a sentence saying how the split was made).

    Combined sources (a "source" column) are split each on its own, so every source has its
    validation poses: a file's own hold-out (the "holdout" column of mocap.py's validation clips)
    where it has one, else whole subjects when the source has several, else whole sequences, so
    that near-identical neighbouring frames never straddle the split; a seeded random split otherwise.
    """
    source = arrays.get("source")
    if source is None or len(np.unique(source)) < 2:
        return _split_one(arrays, val_fraction, seed)
    train, val, descriptions = [], [], []
    names = arrays.get("source_names", np.unique(source).astype(str))
    for s in np.unique(source):
        rows = np.flatnonzero(source == s)
        # Metadata this source lacks was filled with -1 by combine_sources: leave it out.
        part = {key: arrays[key][rows] for key in METADATA_KEYS if key in arrays and (arrays[key][rows] >= 0).all()}
        part["pose2d"] = arrays["pose2d"][rows]
        t, v, description = _split_one(part, val_fraction, seed)
        train.append(rows[t])
        val.append(rows[v])
        descriptions.append(f"{names[s]}: {description}")
    return np.concatenate(train), np.concatenate(val), "; ".join(descriptions)


def _split_one(arrays: dict[str, np.ndarray], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    n = len(arrays["pose2d"])
    if "holdout" in arrays and len(np.unique(arrays["holdout"])) == 2:
        is_val = arrays["holdout"] == 1
        return (np.flatnonzero(~is_val), np.flatnonzero(is_val),
                f"held out the file's own validation poses (holdout = 1): {int(is_val.sum())} poses")
    rng = np.random.default_rng(seed)
    for key in ("subject", "sequence"):
        if key in arrays and len(np.unique(arrays[key])) >= 2:
            groups = np.unique(arrays[key])
            rng.shuffle(groups)
            counts = np.array([(arrays[key] == g).sum() for g in groups])
            # Hold out groups until they reach the fraction, but never all of them.
            held = groups[: max(1, min(len(groups) - 1, int(np.searchsorted(np.cumsum(counts), val_fraction * n)) + 1))]
            is_val = np.isin(arrays[key], held)
            shown = ", ".join(str(g) for g in np.sort(held)[:10]) + (", ..." if len(held) > 10 else "")
            description = f"held out {len(held)} of {len(groups)} {key}s ({shown}): {int(is_val.sum())} poses"
            return np.flatnonzero(~is_val), np.flatnonzero(is_val), description
    order = rng.permutation(n)
    n_val = max(1, int(round(val_fraction * n))) if n > 1 else 0
    present = [key for key in ("subject", "sequence") if key in arrays]
    why = (f"only one {' and one '.join(present)} in the file, so no whole one can be held out, and held-out frames "
           f"sit beside training frames of the same motion: give more clips" if present
           else "no subject or sequence ids in the file")
    description = f"seeded random split ({why}): {n_val} poses held out"
    return np.sort(order[n_val:]), np.sort(order[:n_val]), description


# ---------------------------------------------------------------------------
# Where poses come from: a pose file, synthetic poses, motion capture, or several at once
# ---------------------------------------------------------------------------
def add_source_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, seed_default: int | None = 0,
                         training: bool = False) -> None:
    """The flags that choose the poses, shared by train.py, eval.py, visualize_eval.py and benchmark.py; with
    `training`, also --mocap-recombined (recombined poses are made for training, never held out)."""
    parser.add_argument("--data", help=f"pose .npz file (default: {DEFAULT_DATA} when neither --synthetic nor "
                                       f"--mocap is given; with them, added to their poses)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="N poses generated by synthetic.py")
    parser.add_argument("--mocap", nargs="+", metavar="PATH",
                        help="real motion capture: BVH or ASF/AMC clips or folders (read by mocap.py) or an .npz "
                             "that `python mocap.py` wrote; its validation clips are held out")
    parser.add_argument("--mocap-fps", type=float, default=mocap.DEFAULT_FPS,
                        help="frames per second kept from BVH clips (default: %(default)s)")
    parser.add_argument("--mocap-views", type=int, default=mocap.DEFAULT_VIEWS,
                        help="virtual cameras per clip (default: %(default)s)")
    parser.add_argument("--mocap-asf", metavar="FILE",
                        help="the skeleton of every .amc clip (default: the .asf beside each clip whose name the "
                             "clip's name starts with, else the only .asf in its folder)")
    parser.add_argument("--mocap-amc-fps", type=float, default=asf_amc.DEFAULT_FPS,
                        help="frames per second of .amc clips, which do not say (default: %(default)s, the Acclaim "
                             "and CMU rate)")
    if training:
        parser.add_argument("--mocap-recombined", type=int, default=0, metavar="N",
                            help="add N recombined real poses made from the training clips' frames (recombine.py: "
                                 "body parts swapped between frames, limbs bent within joint limits; default: "
                                 "%(default)s)")
    parser.add_argument("--data-seed", type=int, default=seed_default,
                        help="seed of the synthetic poses and of the cameras filming BVH clips"
                             + (" (default: %(default)s)" if seed_default is not None else
                                " (default: the checkpoint's training run, else 0)"))


def check_source_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.synthetic is not None and args.synthetic < 2:
        parser.error("--synthetic needs at least 2 poses, so that a validation split exists")
    if args.mocap_fps <= 0 or args.mocap_views < 1 or args.mocap_amc_fps <= 0:
        parser.error("--mocap-fps and --mocap-amc-fps must be positive and --mocap-views at least 1")
    if getattr(args, "mocap_recombined", 0) < 0:
        parser.error("--mocap-recombined must not be negative")


def load_pose_sources(args: argparse.Namespace, say=print, sequences: bool = False) -> tuple[dict[str, np.ndarray], str]:
    """The poses that --data, --synthetic and --mocap name, combined; returns (arrays, a name for messages).

    With several sources, a "source" column says where each pose came from (source_names names
    them) and every source is split into training and validation poses on its own. With `sequences`,
    motion-capture clips are filmed as videos at --mocap-fps (mocap.import_clips(sequences=True)).
    """
    seed = 0 if args.data_seed is None else args.data_seed
    parts = []
    if args.synthetic is not None:
        say(f"data: {args.synthetic} synthetic poses (synthetic.generate_poses, data seed {seed})")
        parts.append((f"synthetic {args.synthetic} (seed {seed})", synthetic.generate_poses(args.synthetic, seed=seed)))
    if args.mocap:
        if len(args.mocap) == 1 and args.mocap[0].endswith(".npz"):
            parts.append((f"motion capture {args.mocap[0]}", load_pose_file(args.mocap[0])))
        else:
            try:
                arrays = mocap.import_clips(args.mocap, args.mocap_fps, args.mocap_views, seed, say=say,
                                            asf=args.mocap_asf, amc_fps=args.mocap_amc_fps, sequences=sequences,
                                            recombined=getattr(args, "mocap_recombined", 0))
            except ValueError as err:  # BvhError, AsfAmcError
                raise DatasetError(str(err)) from err
            parts.append((f"motion capture {' '.join(args.mocap)}", arrays))
    if args.data is not None or not parts:
        path = args.data or DEFAULT_DATA
        parts.append((path, load_pose_file(path)))
    if len(parts) == 1:
        return parts[0][1], parts[0][0]
    return combine_sources(parts), " + ".join(name for name, _ in parts)


def combine_sources(parts: list[tuple[str, dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """Concatenate named pose sets; metadata a source lacks is -1, and "source" numbers the sets."""
    if len({arrays["pose2d"].shape[1] for _, arrays in parts}) > 1:
        raise DatasetError("cannot combine a 17-joint file with 28-joint poses; use one joint set.")
    combined = {key: np.concatenate([arrays[key].astype(np.float32) for _, arrays in parts])
                for key in ("pose2d", "pose3d")}
    if all("intrinsics" in arrays for _, arrays in parts):
        combined["intrinsics"] = np.concatenate([arrays["intrinsics"] for _, arrays in parts]).astype(np.float32)
    for key in (k for k in METADATA_KEYS if k != "source"):
        if any(key in arrays for _, arrays in parts):
            combined[key] = np.concatenate([arrays.get(key, np.full(len(arrays["pose2d"]), -1)).astype(np.int64)
                                            for _, arrays in parts])
    combined["source"] = np.concatenate([np.full(len(arrays["pose2d"]), k, np.int64) for k, (_, arrays) in enumerate(parts)])
    combined["source_names"] = np.array([name for name, _ in parts])
    return combined


# ---------------------------------------------------------------------------
# The dataset, as tensors
# ---------------------------------------------------------------------------
class MPIINF3DHPDataset:
    """One split of a pose file, held as tensors so batches are index slices.

    pose2d: (N, J, 2) pixels; pose3d: (N, J, 3) root-relative (pelvis) millimetres.
    source is a path to a pose .npz or a dict of contract arrays (e.g. synthetic.generate_poses);
    name, for messages, defaults to the path.
    """

    def __init__(self, source: str | dict, split: str = "train", val_fraction: float = DEFAULT_VAL_FRACTION,
                 device: str | torch.device = "cpu", name: str | None = None):
        if split not in ("train", "val", "all"):
            raise ValueError(f"split must be 'train', 'val' or 'all', not {split!r}")
        arrays = load_pose_file(source) if isinstance(source, str) else validate_pose_arrays(source)
        self.name = name or (source if isinstance(source, str) else "in-memory poses")
        train, val, self.split_description = split_indices(arrays, val_fraction)
        index = {"train": train, "val": val, "all": np.arange(len(arrays["pose2d"]))}[split]
        if len(index) == 0:
            raise DatasetError(f"{self.name}: the '{split}' split is empty ({self.split_description}).")
        self.split = split
        self.num_joints = arrays["pose2d"].shape[1]
        self.joint_set = joint_set_of(self.num_joints)
        self.root = root_of(self.num_joints)
        self.index = index
        self.pose2d = torch.as_tensor(arrays["pose2d"][index], device=device)
        pose3d = torch.as_tensor(arrays["pose3d"][index], device=device)
        self.pose3d = pose3d - pose3d[:, self.root: self.root + 1]
        self.meta = {key: arrays[key][index] for key in METADATA_KEYS if key in arrays}
        self.fps = float(arrays["fps"]) if "fps" in arrays else None
        # mm at the body per pixel, for a detector's noise measured in mm (detector_noise.py)
        self.mm_per_px = (torch.as_tensor(arrays["pose3d"][index, self.root, 2] / arrays["intrinsics"][index, 0],
                                          device=device) if "intrinsics" in arrays else None)
        self.source_names = [str(name) for name in arrays.get("source_names", [self.name])]

    def __len__(self) -> int:
        return len(self.pose2d)

    def describe(self) -> str:
        joints = "28 joints" if self.joint_set == "mpiinf28" else "17 joints (the official test-set joints)"
        return f"{self.name}: {len(self)} poses in split '{self.split}', {joints}; {self.split_description}"


# ---------------------------------------------------------------------------
# The model's input for the dataset's ground-truth 2D (28 joints or the 17 test-set joints)
# ---------------------------------------------------------------------------
def observed_joints(pose2d: torch.Tensor, input_mode: str) -> torch.Tensor:
    """model_input.observed_joints for either joint set: a 17-joint pose lacks the hands and toes, which
    are given as COCO-17 gives them (unseen at their stand-ins)."""
    if pose2d.shape[-2] == sk.NUM_JOINTS:
        return mi.observed_joints(pose2d, input_mode)
    mi.check_input_mode(input_mode)
    if input_mode == "full":
        raise DatasetError(
            "a model trained with --input full needs all 28 ground-truth 2D joints, but this file has the "
            "17 test-set joints; evaluate a model trained with --input mediapipe or coco17 instead."
        )
    missing = sk.COCO17.unseen_joints  # the test set has no hands or toes either
    columns = [sk.TEST17_NAMES.index(sk.STAND_INS[name] if name in missing else name) for name in sk.DETECTOR_JOINT_NAMES]
    picked = pose2d[..., columns, :]
    return sk.hide_at_stand_ins(torch.cat([picked, torch.ones_like(picked[..., :1])], dim=-1), missing)


def model_input_from_ground_truth(pose2d: torch.Tensor, input_mode: str) -> torch.Tensor:
    """The un-augmented (..., 28, 3) input that the model gets for ground-truth 2D joints."""
    return mi.complete_joints(observed_joints(pose2d, input_mode), input_mode)
