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
prediction of the mirrored input.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import checkpoints as ckpt
import data_loader as dl
import metrics
import model as mdl
import model_input as mi
from atomic import output_problem, write_json
import skeleton_utils as sk

JOINT_SET_TITLES = {"all28": "all 28 joints", "test17": "17 MPI-INF-3DHP test joints",
                    "test14": "14 joints of the official PCK/AUC total"}
GROUP_KEYS = ("subject", "sequence")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dl.add_source_arguments(p, seed_default=None)
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
    p.add_argument("--json", metavar="FILE", help="also write every number to this JSON file")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda or cpu (default: cuda when available, else cpu)")
    args = p.parse_args(argv)
    dl.check_source_arguments(p, args)
    args.weights = args.weights or ckpt.default_weights()
    if args.bs < 1:
        p.error("--bs must be at least 1")
    if args.val_fraction is not None and not 0.0 < args.val_fraction < 1.0:
        p.error("--val-fraction must lie strictly between 0 and 1")
    problem = args.json and output_problem(args.json)
    if problem:
        p.error(f"--json {problem}")  # before the evaluation, whose results would be lost
    return args


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
    arrays, name = dl.load_pose_sources(args)
    return dl.MPIINF3DHPDataset(arrays, args.split, val_fraction, device=device, name=name)


@torch.no_grad()
def predict(lifter: mdl.Lifter, joints: torch.Tensor, batch_size: int, flip: bool) -> torch.Tensor:
    """(N, 28, 3) root-relative mm from (N, 28, 3) pixel joints + visibility."""
    predictions = []
    for chunk in joints.split(batch_size):
        pred = lifter(chunk)
        if flip:
            pred = 0.5 * (pred + sk.flip_pose(lifter(sk.flip_pose(chunk))))
        predictions.append(pred.float().cpu())
    return torch.cat(predictions)


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
        dataset = load_poses(args, checkpoint, device)
        input_mode = args.input or checkpoint["input_mode"]
        joints = dl.model_input_from_ground_truth(dataset.pose2d, input_mode)
    except (dl.DatasetError, ckpt.CheckpointError) as err:
        raise SystemExit(f"error: {err}") from err
    trained = f", epoch {checkpoint['epoch']}" if "epoch" in checkpoint else ""
    given = f", scored on input {input_mode}" if input_mode != checkpoint["input_mode"] else ""
    print(f"weights: {args.weights} ({checkpoint['arch']}, input {checkpoint['input_mode']}{trained}{given})")
    print(f"poses:   {dataset.describe()}")
    print(f"flip:    {'on' if args.flip else 'off'}\n")
    results = evaluate(predict(lifter, joints, args.bs, args.flip), dataset)
    print(format_report(results))
    if args.json:
        write_json(args.json, {
            "weights": args.weights, "arch": checkpoint["arch"], "input_mode": input_mode,
            "data": dataset.name,
            "split": args.split, "split_description": dataset.split_description, "flip": args.flip, **results,
        })
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
