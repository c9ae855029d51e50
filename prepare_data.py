"""Build the pose .npz files from the raw MPI-INF-3DHP download.

Training set (28 joints, S1..S8 / Seq1..Seq2 / annot.mat + camera.calibration):
    python prepare_data.py --root /path/to/mpi_inf_3dhp --out mpi_inf_combined.npz
Official test set (17 joints, TS1..TS6 / annot_data.mat, valid frames only):
    python prepare_data.py --test-root /path/to/mpi_inf_3dhp_test_set --out mpi_inf_test.npz

The raw formats are described in ../shared/mpi_inf_3dhp.md. Every missing input is listed
before any annotation is loaded; the output is written to a temporary file and renamed at
the end, so an error never leaves a partial .npz behind.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from tqdm import tqdm

import skeleton_utils as sk
from atomic import write_npz

SUBJECTS = tuple(range(1, 9))
SEQUENCES = (1, 2)
ALL_CAMERAS = tuple(range(14))
# The chest-height cameras most published work trains on.
DEFAULT_CAMERAS = (0, 1, 2, 4, 5, 6, 7, 8)
TEST_SEQUENCES = tuple(range(1, 7))
NUM_TEST_JOINTS = len(sk.TEST17_INDICES)


class DataError(Exception):
    """A raw input is missing or malformed; the message names it and the fix."""


@dataclass
class Prepared:
    """The contract arrays of one output file and what the summary reports about them."""
    arrays: dict[str, np.ndarray]
    pose3d_source: str
    skipped: list[str] = field(default_factory=list)
    frames_in_files: dict[int, int] = field(default_factory=dict)  # test set: sequence -> all frames


def _bullets(items: list[str]) -> str:
    return "".join(f"\n  - {item}" for item in items)


def _pose3d_key(univ: bool) -> str:
    return "univ_annot3" if univ else "annot3"


def _read_failure(path: Path, err: Exception) -> DataError:
    return DataError(f"{path}: cannot be read, the file looks corrupt or truncated ({type(err).__name__}: {err}). "
                     "Re-download it.")


def read_mat_variables(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Variables of a MATLAB v5 or v7.3 (HDF5) .mat file, numeric arrays in MATLAB's axis order."""
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                absent = [k for k in keys if k not in f]
                # HDF5 stores MATLAB's column-major arrays with the axes reversed: .T restores them.
                variables = {k: np.asarray(f[k]).T for k in keys if k in f}
        else:
            variables = scipy.io.loadmat(str(path), variable_names=list(keys))
            absent = [k for k in keys if k not in variables]
    except MemoryError:
        raise
    except Exception as err:  # scipy/h5py raise many types (IndexError, OSError, ValueError...) on a corrupt file
        raise _read_failure(path, err) from err
    if absent:
        raise DataError(f"{path}: no variable {', '.join(repr(k) for k in absent)}; the file may be truncated. "
                        "Re-download it.")
    return {k: variables[k] for k in keys}


# ---------------------------------------------------------------------------
# camera.calibration
# ---------------------------------------------------------------------------
def parse_calibration(path: Path) -> dict[int, tuple[float, float, float, float]]:
    """Camera id -> (fx, fy, cx, cy) from a Skeletool camera.calibration text file."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise _read_failure(path, err) from err
    intrinsics: dict[int, tuple[float, float, float, float]] = {}
    camera = None
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        where = f"{path}, line {number}"
        if tokens[:1] == ["name"]:
            if len(tokens) != 2 or not re.fullmatch(r"\d+", tokens[1]):
                raise DataError(f"{where}: expected 'name <camera id>', got {line.strip()!r}. "
                                "The calibration file is malformed; re-download it.")
            camera = int(tokens[1])
        elif tokens[:1] == ["intrinsic"]:
            if camera is None:
                raise DataError(f"{where}: 'intrinsic' before any 'name <camera id>' line. "
                                "The calibration file is malformed; re-download it.")
            intrinsics[camera] = _intrinsics_from_line(tokens[1:], where)
    if not intrinsics:
        raise DataError(f"{path}: no 'intrinsic' lines found; this is not a Skeletool camera.calibration file. "
                        "Re-download it.")
    return intrinsics


def _intrinsics_from_line(numbers: list[str], where: str) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) from the 16 numbers of a row-major 4x4 intrinsic matrix."""
    try:
        m = [float(x) for x in numbers]
    except ValueError:
        m = []
    if len(m) != 16 or not np.all(np.isfinite(m)):
        raise DataError(f"{where}: 'intrinsic' must be followed by 16 numbers (a row-major 4x4 matrix), "
                        f"got {' '.join(numbers)!r}. The calibration file is malformed; re-download it.")
    fx, cx, fy, cy = m[0], m[2], m[5], m[6]
    if fx <= 0 or fy <= 0:
        raise DataError(f"{where}: focal lengths must be positive, got fx={fx}, fy={fy}. "
                        "The calibration file is malformed; re-download it.")
    return fx, fy, cx, cy


# ---------------------------------------------------------------------------
# Training set: scan first (cheap), then load
# ---------------------------------------------------------------------------
@dataclass
class SequenceInput:
    """One S<k>/Seq<q> folder whose inputs were found, with the cameras to take from it."""
    subject: int
    sequence: int
    annot_path: Path
    cameras: tuple[int, ...]
    intrinsics: dict[int, tuple[float, float, float, float]]


@dataclass
class Scan:
    """The sequences whose inputs were found, and every input that is missing or unreadable."""
    found: list[SequenceInput] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def _annot_cell_counts(path: Path, keys: tuple[str, ...]) -> dict[str, int]:
    """Number of cells of each cell array in annot.mat, read from the variable headers only."""
    try:
        variables = {name: (shape, kind) for name, shape, kind in scipy.io.whosmat(str(path))}
    except MemoryError:
        raise
    except Exception as err:  # scipy raises many types (IndexError, OSError, ValueError...) on a corrupt file
        raise _read_failure(path, err) from err
    counts = {}
    for key in keys:
        if key not in variables:
            raise DataError(f"{path}: no variable '{key}' (found: {', '.join(sorted(variables)) or 'none'}); "
                            "the file may be truncated. Re-download it.")
        shape, kind = variables[key]
        if kind != "cell":
            raise DataError(f"{path}: '{key}' is a {kind} array {shape}, expected a cell array with one cell "
                            "per camera. Re-download the file.")
        counts[key] = int(np.prod(shape))
    return counts


def _scan_sequence(root: Path, subject: int, sequence: int, cameras: tuple[int, ...], univ: bool, scan: Scan) -> None:
    folder = root / f"S{subject}" / f"Seq{sequence}"
    if not folder.is_dir():
        scan.missing.append(f"{folder}/ (sequence folder)")
        return
    annot_path, calib_path = folder / "annot.mat", folder / "camera.calibration"
    absent = [p for p in (annot_path, calib_path) if not p.is_file()]
    scan.missing.extend(f"{p} (file)" for p in absent)
    if absent:
        return
    try:
        intrinsics = parse_calibration(calib_path)
        cells = _annot_cell_counts(annot_path, ("annot2", _pose3d_key(univ)))
    except DataError as err:
        scan.malformed.append(str(err))
        return
    n_cells = min(cells.values())
    not_in_annot = [c for c in cameras if c >= n_cells]
    not_in_calib = [c for c in cameras if c not in intrinsics]
    if not_in_annot:
        scan.missing.append(f"{annot_path}: camera {', '.join(map(str, not_in_annot))} "
                            f"(its cell arrays hold {n_cells} cameras)")
    if not_in_calib:
        scan.missing.append(f"{calib_path}: camera {', '.join(map(str, not_in_calib))} (no 'intrinsic' line for it)")
    available = tuple(c for c in cameras if c not in not_in_annot and c not in not_in_calib)
    if available:
        scan.found.append(SequenceInput(subject, sequence, annot_path, available, intrinsics))


def scan_training_root(root: Path, subjects: tuple[int, ...], cameras: tuple[int, ...], univ: bool) -> Scan:
    """Find every input the selection needs, listing whatever is missing or unreadable."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder. --root must be the MPI-INF-3DHP folder holding S1/ ... S8/.")
    scan = Scan()
    for subject in subjects:
        if not (root / f"S{subject}").is_dir():
            scan.missing.append(f"{root / f'S{subject}'}/ (subject folder)")
            continue
        for sequence in SEQUENCES:
            _scan_sequence(root, subject, sequence, cameras, univ, scan)
    return scan


def check_problems(missing: list[str], malformed: list[str], nothing_found: bool, allow_missing: bool,
                   selection_hint: str) -> None:
    """Stop with the full list of problems unless only missing inputs are left and they may be skipped."""
    if malformed:
        listing = _bullets(malformed) + (f"\nAlso missing:{_bullets(missing)}" if missing else "")
        raise DataError(f"{len(malformed)} unreadable input(s):{listing}\nRe-download them{selection_hint}.")
    if missing and not allow_missing:
        raise DataError(f"{len(missing)} missing input(s):{_bullets(missing)}\nDownload them{selection_hint}, "
                        "or pass --allow-missing to prepare the file without them (the summary lists them).")
    if nothing_found:
        raise DataError("nothing to prepare: no selected input was found.")


def _camera_cell(cells: np.ndarray, camera: int, key: str, width: int, path: Path) -> np.ndarray:
    cell = np.asarray(cells[camera])
    if cell.ndim != 2 or cell.shape[1] != width or not np.issubdtype(cell.dtype, np.number):
        raise DataError(f"{path}: {key}{{camera {camera}}} has shape {cell.shape} ({cell.dtype}), expected "
                        f"(frames, {width}). The file is malformed; re-download it.")
    return cell


def load_training_sequence(seq: SequenceInput, univ: bool, stride: int) -> list[dict[str, np.ndarray]]:
    """The contract arrays of one sequence, one dict per selected camera: every stride-th frame, float32 poses."""
    key3 = _pose3d_key(univ)
    cells = {k: v.ravel() for k, v in read_mat_variables(seq.annot_path, ("annot2", key3)).items()}
    per_camera = []
    for c in seq.cameras:
        annot2 = _camera_cell(cells["annot2"], c, "annot2", 2 * sk.NUM_JOINTS, seq.annot_path)
        annot3 = _camera_cell(cells[key3], c, key3, 3 * sk.NUM_JOINTS, seq.annot_path)
        if len(annot2) != len(annot3):
            raise DataError(f"{seq.annot_path}: camera {c} has {len(annot2)} frames in annot2 but {len(annot3)} "
                            f"in {key3}. The file is malformed; re-download it.")
        frames = np.arange(0, len(annot2), stride)
        # Only the kept frames of the wanted cameras survive, as float32: the float64 cells of
        # all 14 cameras are freed when this function returns.
        per_camera.append({
            "pose2d": annot2[::stride].reshape(-1, sk.NUM_JOINTS, 2).astype(np.float32),
            "pose3d": annot3[::stride].reshape(-1, sk.NUM_JOINTS, 3).astype(np.float32),
            "subject": np.full(len(frames), seq.subject, dtype=np.int64),
            "sequence": np.full(len(frames), seq.sequence, dtype=np.int64),
            "camera": np.full(len(frames), c, dtype=np.int64),
            "frame": frames.astype(np.int64),
            "intrinsics": np.tile(np.asarray(seq.intrinsics[c], dtype=np.float32), (len(frames), 1)),
        })
    return per_camera


def concatenate_chunks(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join chunks key by key, freeing each key's chunks once joined to bound peak memory."""
    return {key: np.concatenate([chunk.pop(key) for chunk in chunks]) for key in list(chunks[0])}


def prepare_training(root: Path, subjects: tuple[int, ...] = SUBJECTS, cameras: tuple[int, ...] = DEFAULT_CAMERAS,
                     stride: int = 1, univ: bool = False, allow_missing: bool = False) -> Prepared:
    """The 28-joint training arrays of the selected subjects and cameras (both sequences each)."""
    scan = scan_training_root(root, subjects, cameras, univ)
    check_problems(scan.missing, scan.malformed, not scan.found, allow_missing,
                   ", or select only the subjects and cameras you have with --subjects and --cameras")
    chunks = [chunk for seq in tqdm(scan.found, desc="annot.mat", unit="seq", file=sys.stderr)
              for chunk in load_training_sequence(seq, univ, stride)]
    return Prepared(concatenate_chunks(chunks), _pose3d_key(univ), scan.missing)


# ---------------------------------------------------------------------------
# Official test set
# ---------------------------------------------------------------------------
def frames_joints_coords(arr: np.ndarray, n_frames: int, dims: int, name: str, path: Path) -> np.ndarray:
    """(N, 17, dims) from a test-set array in MATLAB axis order.

    The official files hold (dims, 1, 17, N) (any singleton axes between the coordinate and frame
    axes are accepted, e.g. (dims, 17, N)); a re-saved (N, 17, dims) is accepted too. When both
    readings fit (N == dims), MATLAB's layout wins.
    """
    shape = arr.shape
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: {name} holds {arr.dtype} values, expected numbers. Re-download the file.")
    if len(shape) >= 2 and int(np.prod(shape[1:-1])) == NUM_TEST_JOINTS:
        if shape[0] == dims and shape[-1] == n_frames:
            return arr.reshape(dims, NUM_TEST_JOINTS, n_frames).transpose(2, 1, 0)
        if shape[0] == n_frames and shape[-1] == dims:
            return arr.reshape(n_frames, NUM_TEST_JOINTS, dims)
    raise DataError(f"{path}: {name} has shape {shape} (MATLAB axis order), expected ({dims}, 1, "
                    f"{NUM_TEST_JOINTS}, N) or (N, {NUM_TEST_JOINTS}, {dims}) with N = {n_frames}, the length of "
                    "valid_frame. The file is malformed; re-download it.")


def load_test_sequence(path: Path, sequence: int, univ: bool) -> tuple[dict[str, np.ndarray], int]:
    """The valid frames of one TS<k>/annot_data.mat as contract arrays, and the file's frame count."""
    key3 = _pose3d_key(univ)
    variables = read_mat_variables(path, ("valid_frame", "annot2", key3))
    valid = variables["valid_frame"].ravel()
    n = len(valid)
    keep = np.flatnonzero(valid == 1)
    pose2d = frames_joints_coords(variables["annot2"], n, 2, "annot2", path)[keep]
    pose3d = frames_joints_coords(variables[key3], n, 3, key3, path)[keep]
    arrays = {
        "pose2d": pose2d.astype(np.float32),
        "pose3d": pose3d.astype(np.float32),
        "sequence": np.full(len(keep), sequence, dtype=np.int64),
        "frame": keep.astype(np.int64),
    }
    return arrays, n


def prepare_test(test_root: Path, univ: bool = True, allow_missing: bool = False) -> Prepared:
    """The 17-joint arrays of the valid frames of TS1..TS6, joints in skeleton_utils.TEST17 order."""
    if not test_root.is_dir():
        raise DataError(f"{test_root}: no such folder. --test-root must be the folder holding TS1/ ... TS6/.")
    paths, missing = {}, []
    for sequence in TEST_SEQUENCES:
        path = test_root / f"TS{sequence}" / "annot_data.mat"
        if path.is_file():
            paths[sequence] = path
        else:
            missing.append(f"{path} (file)" if path.parent.is_dir() else f"{path.parent}/ (sequence folder)")
    check_problems(missing, [], not paths, allow_missing, "")
    loaded = {seq: load_test_sequence(path, seq, univ)
              for seq, path in tqdm(paths.items(), desc="annot_data.mat", unit="seq", file=sys.stderr)}
    arrays = concatenate_chunks([chunk for chunk, _ in loaded.values()])
    return Prepared(arrays, _pose3d_key(univ), missing, {seq: n for seq, (_, n) in loaded.items()})


# ---------------------------------------------------------------------------
# Output and summary
# ---------------------------------------------------------------------------
def check_output(out: Path, force: bool) -> None:
    """Fail before any work if --out cannot or may not be written."""
    if out.is_dir():
        raise DataError(f"{out}: is a folder; --out must be a file name such as mpi_inf_combined.npz.")
    if out.exists() and not force:
        raise DataError(f"{out}: already exists. Pass --force to overwrite it, or choose another --out.")
    parent = out.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise DataError(f"{parent}: not a writable folder for --out {out}. Create it or choose another --out.")


def _count_table(row_values: np.ndarray, col_values: np.ndarray, row_label: str, col_label: str) -> str:
    """Frame counts per (row, column) value pair as an aligned text table with totals."""
    rows, cols = np.unique(row_values), np.unique(col_values)
    header = [""] + [f"{col_label}{c}" for c in cols] + ["total"]
    lines = [header]
    for r in rows:
        in_row = row_values == r
        lines.append([f"{row_label}{r}"] + [str(np.count_nonzero(in_row & (col_values == c))) for c in cols]
                     + [str(np.count_nonzero(in_row))])
    lines.append(["total"] + [str(np.count_nonzero(col_values == c)) for c in cols] + [str(len(row_values))])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


def summary(prepared: Prepared, out: Path) -> str:
    """What was written: frame counts, the 3D source, the file size and anything skipped."""
    a = prepared.arrays
    n, joints = a["pose3d"].shape[:2]
    size_mb = out.stat().st_size / 1e6
    lines = [f"Wrote {out}: {n} frames, {joints} joints, {size_mb:.1f} MB; 3D poses from '{prepared.pose3d_source}'."]
    if "camera" in a:
        lines.append("Frames per subject (rows) and camera (columns):")
        lines.append(_count_table(a["subject"], a["camera"], "S", "cam"))
    else:
        lines.append("Valid frames per test sequence (of all frames in its annot_data.mat):")
        lines.extend(f"  TS{seq}: {np.count_nonzero(a['sequence'] == seq)} of {total}"
                     for seq, total in prepared.frames_in_files.items())
    if prepared.skipped:
        lines.append(f"Skipped {len(prepared.skipped)} missing input(s) (--allow-missing):{_bullets(prepared.skipped)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--root", type=Path, help="the training set folder holding S1/ ... S8/")
    source.add_argument("--test-root", type=Path, help="the official test set folder holding TS1/ ... TS6/")
    parser.add_argument("--out", type=Path,
                        help="output .npz (default: mpi_inf_combined.npz, or mpi_inf_test.npz with --test-root)")
    parser.add_argument("--subjects", type=int, nargs="+", choices=SUBJECTS, metavar="S",
                        help="training subjects 1..8 (default: all)")
    parser.add_argument("--cameras", type=int, nargs="+", choices=ALL_CAMERAS, metavar="C",
                        help="training cameras 0..13 (default: the chest-height cameras "
                             f"{' '.join(map(str, DEFAULT_CAMERAS))})")
    parser.add_argument("--stride", type=int, help="keep every k-th training frame (default: 1, all frames)")
    parser.add_argument("--univ", action=argparse.BooleanOptionalAction,
                        help="3D poses from univ_annot3 (the universal skeleton size) rather than annot3; "
                             "default: annot3 for the training set, univ_annot3 (as the official evaluation) "
                             "for the test set")
    parser.add_argument("--allow-missing", action="store_true",
                        help="prepare the file without missing subjects, sequences or cameras (they are listed)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    args = parser.parse_args(argv)
    if args.test_root is not None:
        training_only = [f"--{k}" for k in ("subjects", "cameras", "stride") if getattr(args, k) is not None]
        if training_only:
            parser.error(f"{', '.join(training_only)} select training data; the test set is always prepared whole.")
    if args.stride is not None and args.stride < 1:
        parser.error(f"--stride must be 1 or more, got {args.stride}")
    return args


def run(args: argparse.Namespace) -> None:
    """Prepare and write the file the arguments ask for, then print its summary."""
    out = args.out or Path("mpi_inf_test.npz" if args.test_root is not None else "mpi_inf_combined.npz")
    check_output(out, args.force)
    if args.test_root is not None:
        prepared = prepare_test(args.test_root, univ=True if args.univ is None else args.univ,
                                allow_missing=args.allow_missing)
    else:
        prepared = prepare_training(args.root, tuple(sorted(set(args.subjects or SUBJECTS))),
                                    tuple(sorted(set(args.cameras or DEFAULT_CAMERAS))), args.stride or 1,
                                    bool(args.univ), args.allow_missing)
    write_npz(out, prepared.arrays)
    print(summary(prepared, out))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except DataError as err:
        raise SystemExit(f"prepare_data.py: error: {err}") from None


if __name__ == "__main__":
    main()
