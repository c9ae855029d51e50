"""Score a trained lifter on held-out poses: MPJPE, PA-MPJPE, N-MPJPE, PCK@150 mm, AUC and the limb angle.

    python eval.py --data mpi_inf_combined.npz --bs 64                # the poses train.py held out
    python eval.py --data mpi_inf_3dhp_test.npz --split all --json test.json   # every pose of a file
    python eval.py --synthetic 200000 --weights runs/synthetic/best_model_weights.pth
    python eval.py --mocap ../shared/mocap/cmu ../shared/mocap/cmu_cc   # the real-motion validation clips

By default the poses are the held-out split that train.py validated on (same file, same
deterministic split, the validation fraction recorded in the checkpoint). The model input is
built from the ground-truth 2D the way the checkpoint was trained (--input mediapipe: the joints
a detector sees, the rest synthesised; --input full: all 28 joints). Errors are root-relative at
the pelvis, over all 28 joints and over the 17 joints of the official MPI-INF-3DHP test set; a
17-joint file is scored on its 17 joints. --flip averages each prediction with the mirrored
prediction of the mirrored input (the temporal model's too).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import checkpoints as ckpt
import data_loader as dl
import detector_noise as dn
import metrics
import model as mdl
import model_input as mi
import sequences as seq
import skeleton_utils as sk
from atomic import output_problem, write_json, write_npz
from infer_lifting import lift_sequence
from smoothing import OneEuroFilter, moving_average

JOINT_SET_TITLES = {"all28": "all 28 joints", "test17": "17 MPI-INF-3DHP test joints",
                    "test14": "14 joints of the official PCK/AUC total"}
GROUP_KEYS = ("subject", "sequence")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dl.add_source_arguments(p, seed_default=None)
    p.set_defaults(mocap_fps=seq.INTERNAL_FPS)  # clips are filmed as videos, at the temporal model's rate
    p.add_argument("--weights", help=ckpt.WEIGHTS_HELP)
    p.add_argument("--split", choices=("val", "all"), default="val",
                   help="val: the poses training held out; all: every pose in the file (default: %(default)s)")
    p.add_argument("--val-fraction", type=float,
                   help=f"held-out share (default: the checkpoint's training run, else {dl.DEFAULT_VAL_FRACTION})")
    p.add_argument("--bs", type=int, default=64, help="batch size (default: %(default)s)")
    p.add_argument("--flip", action="store_true", help="test-time flip augmentation")
    p.add_argument("--input", choices=mi.INPUT_MODES,
                   help="build the model's input as this mode does instead of as the checkpoint was trained "
                        "(e.g. the default model given COCO-17-shaped input: --input coco17)")
    p.add_argument("--noise", type=dn.check_noise, default="none", help=dn.NOISE_HELP + " (default: %(default)s)")
    p.add_argument("--causal", action="store_true",
                   help="a temporal model's predictions (the per-pose scores, --save-predictions) from its causal "
                        "mode, past frames only, as for a live camera (default: offline, a centred window)")
    p.add_argument("--fps", type=float, default=seq.INTERNAL_FPS,
                   help="frame rate of files without an fps entry (default: %(default)s)")
    p.add_argument("--save-predictions", metavar="FILE.npz",
                   help="write pose3d_pred (N, 28, 3), root-relative mm, in the order of the poses scored (with "
                        "--split all, the input file's order), and index, their rows in the input")
    p.add_argument("--json", metavar="FILE", help="also write every number to this JSON file")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda or cpu (default: cuda when available, else cpu)")
    args = p.parse_args(argv)
    dl.check_source_arguments(p, args)
    args.weights = args.weights or default_weights()
    if args.fps <= 0:
        p.error("--fps must be positive")
    if args.bs < 1:
        p.error("--bs must be at least 1")
    if args.val_fraction is not None and not 0.0 < args.val_fraction < 1.0:
        p.error("--val-fraction must lie strictly between 0 and 1")
    for flag in ("json", "save_predictions"):  # before the evaluation, whose results would be lost
        problem = getattr(args, flag) and output_problem(getattr(args, flag))
        if problem:
            p.error(f"--{flag.replace('_', '-')} {problem}")
    return args


def default_weights() -> str:
    """Without --weights: the bundled video model (the temporal one, whose per-frame model is the bundled
    default) unless train.py's output is in the working directory; else the per-frame default."""
    return ckpt.default_video_weights() or ckpt.default_weights()


def training_setting(checkpoint: dict, name: str, default):
    """A setting of the run that wrote the checkpoint, so evaluation holds out the same poses."""
    value = checkpoint.get("train_args", {}).get(name)
    return default if value is None else value


def load_poses(args: argparse.Namespace, checkpoint: dict, device: torch.device) -> dl.MPIINF3DHPDataset:
    if args.data_seed is None:
        args.data_seed = training_setting(checkpoint, "data_seed", 0)
    val_fraction = args.val_fraction
    if val_fraction is None:
        val_fraction = training_setting(checkpoint, "val_fraction", dl.DEFAULT_VAL_FRACTION)
    arrays, name = dl.load_pose_sources(args, sequences=True)
    return dl.MPIINF3DHPDataset(arrays, args.split, val_fraction, device=device, name=name)


@torch.no_grad()
def predict(lifter: mdl.Lifter, joints: torch.Tensor, batch_size: int, flip: bool) -> torch.Tensor:
    """(N, 28, 3) root-relative mm from (N, 28, 3) pixel joints + visibility."""
    lifter = mdl.MirrorAveraged(lifter) if flip else lifter
    return torch.cat([lifter(chunk).float().cpu() for chunk in joints.split(batch_size)])


def joint_sets(pred: torch.Tensor, target: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor, tuple]]:
    """name -> (prediction, truth, joint names) for each joint set the file can be scored on."""
    test17 = list(sk.TEST17_INDICES)
    target17 = target if target.shape[1] == len(test17) else target[:, test17]
    official = len(sk.TEST14_NAMES)
    sets = {"all28": (pred, target, sk.JOINT_NAMES)} if target.shape[1] == sk.NUM_JOINTS else {}
    return {**sets, "test17": (pred[:, test17], target17, sk.TEST17_NAMES),
            "test14": (pred[:, test17[:official]], target17[:, :official], sk.TEST14_NAMES)}


def group_results(pred: torch.Tensor, target: torch.Tensor, names: tuple, meta: dict[str, np.ndarray],
                  keys: tuple[str, ...] = GROUP_KEYS) -> list[dict]:
    """Metrics per subject / sequence (whichever the file records), on the file's main joint set."""
    keys = [key for key in keys if key in meta]
    if not keys:
        return []
    labels = np.stack([meta[key] for key in keys], axis=1)
    rows = []
    for label in np.unique(labels, axis=0):
        mask = torch.from_numpy((labels == label).all(axis=1))
        rows.append({**{key: value.item() for key, value in zip(keys, label)},
                     **metrics.compute_metrics(pred[mask], target[mask], names)})
    return rows


def source_results(pred: torch.Tensor, target: torch.Tensor, names: tuple, dataset: dl.MPIINF3DHPDataset) -> list[dict]:
    """Metrics per pose source (synthetic, motion capture, a file) when the poses combine several."""
    if len(np.unique(dataset.meta.get("source", [0]))) < 2:
        return []
    rows = group_results(pred, target, names, dataset.meta, keys=("source",))
    for row in rows:
        row["source"] = dataset.source_names[row["source"]]
    return rows


def evaluate(pred: torch.Tensor, dataset: dl.MPIINF3DHPDataset) -> dict:
    """Every number of the evaluation: per joint set, per joint and per subject / sequence."""
    target = dataset.pose3d.cpu()
    sets = joint_sets(pred, target)
    main_set = next(iter(sets))
    return {
        "joint_sets": {name: metrics.compute_metrics(p, t, names) for name, (p, t, names) in sets.items()},
        "group_joint_set": main_set,
        "groups": group_results(*sets[main_set], dataset.meta),
        "sources": source_results(*sets[main_set], dataset),
    }


# ---------------------------------------------------------------------------
# The 2D the model gets: the ground truth, or with a detector's noise along each video
# ---------------------------------------------------------------------------
def model_input(dataset: dl.MPIINF3DHPDataset, input_mode: str, noise: str, runs: list[np.ndarray] | None,
                seed: int = 0) -> torch.Tensor:
    """(N, 28, 3) input for every pose; with noise, drawn along each run of frames (drift and all) as in training."""
    observed = dl.observed_joints(dataset.pose2d, input_mode)
    if noise == "none":
        return mi.complete_joints(observed, input_mode)
    generator = torch.Generator(device=observed.device).manual_seed(seed)
    groups = runs if runs is not None else [np.arange(len(observed))]
    per_pose = runs is None  # no videos: every pose is a frame of its own
    joints = torch.empty(observed.shape[:-2] + (sk.NUM_JOINTS, 3), device=observed.device)
    for rows in groups:
        part = observed[rows][:, None] if per_pose else observed[rows][None]
        scale = dataset.mm_per_px[rows] if dataset.mm_per_px is not None else None
        scale = None if scale is None else (scale[:, None] if per_pose else scale[None])
        x, _ = dn.detector_input(part, scale, input_mode, noise, generator)
        joints[rows] = x[:, 0] if per_pose else x[0]
    return joints


# ---------------------------------------------------------------------------
# Videos: runs of consecutive frames, their jitter, the temporal model and the fixed filters
# ---------------------------------------------------------------------------
MOVING_AVERAGE_WINDOWS = (9, 27)
TEMPORAL_OFFLINE, TEMPORAL_CAUSAL = "temporal, offline", "temporal, causal (--causal)"


def video_runs(dataset: dl.MPIINF3DHPDataset) -> list[np.ndarray] | None:
    """The runs of consecutive frames of a 28-joint file with sequence metadata, where some run is a video
    (3 frames or more); None otherwise."""
    if not seq.has_sequences(dataset.meta) or dataset.num_joints != sk.NUM_JOINTS:
        return None
    try:
        runs = seq.runs(dataset.meta)
    except ValueError as err:
        print(f"note: no video scores: {err}")
        return None
    return runs if max(len(r) for r in runs) >= 3 else None


def one_euro(run_pred: np.ndarray, fps: float) -> np.ndarray:
    """infer.py --smooth on a run: the One-Euro filter with its defaults, frame by frame."""
    smooth = OneEuroFilter()
    return np.stack([smooth(pose, k / fps) for k, pose in enumerate(run_pred)])


def video_predictions(per_frame: np.ndarray, joints: torch.Tensor, runs: list[np.ndarray], fps: float,
                      temporal: mdl.SequenceLifter | None) -> dict[str, np.ndarray]:
    """method -> (N, 28, 3) predictions of every pose, each run lifted or filtered as a video."""
    methods = {"per-frame": per_frame, "per-frame + --smooth (One-Euro)": np.empty_like(per_frame)}
    methods.update({f"moving average of the per-frame 3D, {w} frames": np.empty_like(per_frame)
                    for w in MOVING_AVERAGE_WINDOWS})
    if temporal is not None:
        methods[TEMPORAL_OFFLINE], methods[TEMPORAL_CAUSAL] = np.empty_like(per_frame), np.empty_like(per_frame)
    found = np.ones(len(per_frame), dtype=bool)
    x = joints.cpu().numpy()
    for rows in runs:
        methods["per-frame + --smooth (One-Euro)"][rows] = one_euro(per_frame[rows], fps)
        for w in MOVING_AVERAGE_WINDOWS:
            methods[f"moving average of the per-frame 3D, {w} frames"][rows] = moving_average(per_frame[rows], w)
        if temporal is not None:
            methods[TEMPORAL_OFFLINE][rows] = lift_sequence(temporal, x[rows], found[rows], fps, causal=False)
            methods[TEMPORAL_CAUSAL][rows] = lift_sequence(temporal, x[rows], found[rows], fps, causal=True)
    return methods


def video_scores(pred: np.ndarray, target: torch.Tensor, runs: list[np.ndarray]) -> dict:
    """MPJPE, PA-MPJPE and limb angle over the runs' frames, MPJVE and acceleration error within each run,
    on all 28 joints and the 14 of the official total."""
    pred = torch.as_tensor(pred, dtype=torch.float32)
    out = {}
    for name, (p, t, names) in joint_sets(pred, target).items():
        if name == "test17":
            continue
        velocity = [(float(metrics.mpjve(p[r], t[r])), len(r) - 1) for r in runs if len(r) >= 2]
        accel = [(float(metrics.acceleration_error(p[r], t[r])), len(r) - 2) for r in runs if len(r) >= 3]
        weighted = lambda pairs: sum(v * n for v, n in pairs) / max(sum(n for _, n in pairs), 1)
        out[name] = {"mpjpe": float(metrics.mpjpe(p, t)), "pa_mpjpe": float(metrics.pa_mpjpe(p, t)),
                     "limb_angle": float(metrics.limb_angle_error(p, t, names)),
                     "mpjve": weighted(velocity), "acceleration_error": weighted(accel)}
    return out


def format_video_report(video: dict) -> str:
    parts = [f"videos: {video['runs']} runs of consecutive frames, {video['frames']:,} frames at {video['fps']:g} fps; "
             f"2D noise: {video['noise']}"]
    for name in ("test14", "all28"):
        rows = [[method] + [scores[name][k] for k in ("mpjpe", "pa_mpjpe", "limb_angle", "mpjve", "acceleration_error")]
                for method, scores in video["methods"].items() if name in scores]
        if rows:
            parts += ["", JOINT_SET_TITLES[name],
                      format_table(["method", "MPJPE", "PA-MPJPE", "limb angle", "MPJVE", "accel. error"], rows)]
    parts.append("MPJPE and PA-MPJPE in mm, limb angle in degrees, MPJVE in mm/frame, acceleration error in "
                 f"mm/frame^2, at {video['fps']:g} fps.")
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def format_table(header: list[str], rows: list[list]) -> str:
    """A plain-text table: the first column left-aligned, numbers right-aligned to 2 decimals."""
    cells = [header] + [[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


SCORE_HEADER = ["poses", "MPJPE", "PA-MPJPE", "N-MPJPE", "PCK@150", "AUC", "limb angle"]


def score_cells(m: dict) -> list:
    return [f"{m['num_poses']:,}", m["mpjpe"], m["pa_mpjpe"], m["n_mpjpe"], m["pck150"], m["auc"], m["limb_angle"]]


def format_report(results: dict) -> str:
    sets = results["joint_sets"]
    parts = [format_table(["joints"] + SCORE_HEADER, [[JOINT_SET_TITLES[n]] + score_cells(m) for n, m in sets.items()]),
             "MPJPE, PA-MPJPE and N-MPJPE in mm, PCK and AUC in %, root-relative at the pelvis; N-MPJPE: after "
             "scaling each prediction to the true body's size; limb angle: mean degrees between predicted and "
             "true upper-arm, forearm, thigh and shin directions.",
             ""]
    if results["sources"]:
        parts += [f"per source ({JOINT_SET_TITLES[results['group_joint_set']]})",
                  format_table(["source"] + SCORE_HEADER, [[row["source"]] + score_cells(row) for row in results["sources"]]),
                  ""]
    main_set = results["group_joint_set"]
    per_joint = sets[main_set]["per_joint_mpjpe"]
    parts.append(format_table(["joint", "MPJPE"], [[name, error] for name, error in per_joint.items()]))
    if results["groups"]:
        keys = [key for key in GROUP_KEYS if key in results["groups"][0]]
        parts += ["", f"per {' / '.join(keys)} ({JOINT_SET_TITLES[main_set]})",
                  format_table(keys + SCORE_HEADER, [[row[k] for k in keys] + score_cells(row) for row in results["groups"]])]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = ckpt.resolve_device(args.device)
    try:
        lifter, checkpoint = ckpt.load_lifter(args.weights, device)
        temporal = ckpt.load_sequence_lifter(args.weights, device)[0] if ckpt.is_temporal(checkpoint) else None
        dataset = load_poses(args, checkpoint, device)
        input_mode = args.input or checkpoint["input_mode"]
        runs = video_runs(dataset)
        joints = model_input(dataset, input_mode, args.noise, runs)
    except (dl.DatasetError, ckpt.CheckpointError, ValueError) as err:
        raise SystemExit(f"error: {err}") from err
    fps = dataset.fps or args.fps
    trained = f", epoch {checkpoint['epoch']}" if "epoch" in checkpoint else ""
    given = f", scored on input {input_mode}" if input_mode != checkpoint["input_mode"] else ""
    print(f"weights: {args.weights} ({checkpoint['arch']}, input {checkpoint['input_mode']}{trained}{given})")
    print(f"poses:   {dataset.describe()}")
    print(f"noise:   {args.noise}")
    print(f"flip:    {'on' if args.flip else 'off'}\n")
    pred = predict(lifter, joints, args.bs, args.flip)
    video = None
    if runs is not None:
        methods = video_predictions(pred.numpy(), joints, runs, fps,
                                    mdl.MirrorAveraged(temporal) if args.flip and temporal is not None else temporal)
        video = {"runs": len(runs), "frames": len(dataset), "fps": fps, "noise": args.noise,
                 "methods": {name: video_scores(p, dataset.pose3d.cpu(), runs) for name, p in methods.items()}}
        if temporal is not None:
            pred = torch.as_tensor(methods[TEMPORAL_CAUSAL if args.causal else TEMPORAL_OFFLINE], dtype=torch.float32)
    elif temporal is not None:
        print("note: these poses carry no sequence, camera and frame, so the temporal model's per-frame model "
              "scores them, pose by pose\n")
    scored = ("temporal " + ("causal" if args.causal else "offline")) if temporal is not None and runs is not None \
        else "per-frame"
    results = evaluate(pred, dataset)
    print(f"per pose ({scored})")
    print(format_report(results))
    if video is not None:
        print("\n" + format_video_report(video))
    if args.save_predictions:
        write_npz(args.save_predictions, {"pose3d_pred": pred.numpy().astype(np.float32), "index": dataset.index})
        print(f"\nwrote {args.save_predictions} ({scored} predictions of {len(pred)} poses)")
    if args.json:
        write_json(args.json, {
            "weights": args.weights, "arch": checkpoint["arch"], "input_mode": input_mode,
            "data": dataset.name, "noise": args.noise, "scored": scored,
            "split": args.split, "split_description": dataset.split_description, "flip": args.flip, **results,
            **({"video": video} if video else {}),
        })
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
