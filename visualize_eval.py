"""Qualitative check of a model: the first validation poses, their 2D input, truth and prediction.

    python visualize_eval.py --data mpi_inf_combined.npz                 # the bundled weights
    python visualize_eval.py --synthetic 20000 --weights runs/x/best.pth --n 4 --show
    python visualize_eval.py --mocap ../shared/mocap/cmu ../shared/mocap/cmu_cc   # real-motion validation clips

The validation poses are those eval.py scores by default (its load_poses: the split, data seed and
validation fraction of the checkpoint's training run unless given). Each row
of the saved PNG is one pose: the 2D input exactly as the model sees it (built from the ground-truth
2D by the checkpoint's input mode), the ground-truth 3D, and the prediction drawn over the ground
truth, titled with that pose's MPJPE.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import metrics
import skeleton_utils as sk
import viewer
import visualize
from atomic import output_problem, write_text
from data_loader import (DEFAULT_VAL_FRACTION, DatasetError, MPIINF3DHPDataset, add_source_arguments,
                         check_source_arguments, model_input_from_ground_truth)
from eval import load_poses
from checkpoints import WEIGHTS_HELP, CheckpointError, default_weights, load_lifter
from model import Lifter

TRUTH_COLOR = "#404040"
PREDICTION_COLOR = "#e66100"
PANEL_INCHES = 3.8
# mplot3d draws its box well inside the cell; enlarge it to fill the cell like the 2D panel.
ZOOM_3D = 1.3
SUPTITLE_INCHES = 0.6  # room above the panels for the two-line figure title


@dataclass
class Samples:
    """The first n validation poses: model input (n, 28, 3), truth and prediction (n, J, 3) in mm.

    J is the dataset's joint count: for a 17-joint (test-set) file the prediction is cut to those joints.
    """

    input: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray
    input_mode: str


def predict_samples(lifter: Lifter, input_mode: str, dataset: MPIINF3DHPDataset, n: int) -> Samples:
    """Run the model on the first n poses of the dataset, with the input built as eval.py builds it."""
    model_input = model_input_from_ground_truth(dataset.pose2d[:n], input_mode)
    with torch.inference_mode():
        prediction = lifter(model_input)
    if dataset.joint_set == "test17":
        prediction = prediction[:, list(sk.TEST17_INDICES)]
    return Samples(model_input.numpy(), dataset.pose3d[:n].numpy(), prediction.numpy(), input_mode)


def sample_figure(samples: Samples, dataset: MPIINF3DHPDataset, title: str):
    """One row per pose: 2D input | ground-truth 3D | prediction over ground truth."""
    n = len(samples.truth)
    fig = plt.figure(figsize=(3 * PANEL_INCHES, n * PANEL_INCHES + SUPTITLE_INCHES))
    grid = fig.add_gridspec(n, 3)
    for i in range(n):
        truth, prediction = samples.truth[i], samples.prediction[i]
        visualize.plot_2d(samples.input[i], ax=fig.add_subplot(grid[i, 0]),
                          title=f"val pose {i}: {_provenance(dataset, i)}\n2D input ({samples.input_mode})")
        truth_ax, overlay_ax = _axes_3d(fig, grid[i, 1]), _axes_3d(fig, grid[i, 2])
        visualize.plot_3d(truth, ax=truth_ax, title="ground truth 3D")
        visualize.plot_3d(truth, ax=overlay_ax, color=TRUTH_COLOR, label="ground truth")
        visualize.plot_3d(prediction, ax=overlay_ax, color=PREDICTION_COLOR, linestyle="--", label="prediction",
                          title=f"prediction: MPJPE {metrics.mpjpe(prediction, truth):.1f} mm")
        for ax in (truth_ax, overlay_ax):
            ax.set_box_aspect((1, 1, 1), zoom=ZOOM_3D)  # after plot_3d, which sets the aspect itself
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - SUPTITLE_INCHES / fig.get_figheight()))
    return fig


def _axes_3d(fig, cell):
    ax = fig.add_subplot(cell, projection="3d")
    ax.view_init(elev=visualize.VIEW_ELEVATION, azim=visualize.VIEW_AZIMUTH)
    return ax


def _provenance(dataset: MPIINF3DHPDataset, i: int) -> str:
    """Where validation pose i comes from: its index in the data and, when known, subject and sequence."""
    parts = [f"pose {dataset.index[i]}"] + [f"{key} {dataset.meta[key][i]}" for key in ("subject", "sequence")
                                            if key in dataset.meta]
    return ", ".join(parts)


def sample_view(samples: Samples, title: str) -> str:
    """The interactive page of the samples: one frame per pose, prediction and ground truth root-relative."""
    frames = [[viewer.ViewPerson(x, prediction), viewer.ViewPerson(x, truth, truth=True)]
              for x, truth, prediction in zip(samples.input, samples.truth, samples.prediction)]
    return viewer.page(frames, 1.0, "validation poses", title)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Plot the first validation poses: 2D input, ground-truth 3D "
                                                 "and the model's prediction, with each pose's MPJPE.")
    add_source_arguments(parser, seed_default=None)
    parser.add_argument("--val-fraction", type=float,
                        help=f"held-out share (default: the checkpoint's training run, else {DEFAULT_VAL_FRACTION})")
    parser.add_argument("--weights", help=WEIGHTS_HELP)
    parser.add_argument("--n", type=int, default=5, help="how many validation poses (default 5)")
    parser.add_argument("--out", default="eval_samples.png", help="the PNG to write (default eval_samples.png)")
    parser.add_argument("--show", action="store_true", help="also open the figure in a window when a display exists")
    parser.add_argument("--html", metavar="FILE", help="also write the poses into an interactive 3D view (viewer.py): "
                        "one frame per pose, the prediction in colour over the ground truth in grey")
    args = parser.parse_args(argv)
    args.weights = args.weights or default_weights()
    args.split = "val"  # eval.load_poses reads it: always the held-out poses
    problem = args.html and output_problem(args.html)
    if problem:
        parser.error(f"--html {problem}")
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.val_fraction is not None and not 0.0 < args.val_fraction < 1.0:
        parser.error("--val-fraction must lie strictly between 0 and 1")
    check_source_arguments(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        lifter, checkpoint = load_lifter(args.weights, "cpu")
        dataset = load_poses(args, checkpoint, torch.device("cpu"))
        n = min(args.n, len(dataset))
        samples = predict_samples(lifter, checkpoint["input_mode"], dataset, n)
    except (DatasetError, CheckpointError) as err:
        raise SystemExit(f"error: {err}") from err
    if args.html and dataset.joint_set != "mpiinf28":
        raise SystemExit(f"error: --html draws all 28 joints; {dataset.name} has the 17 test-set joints. Leave --html out.")
    if n < args.n:
        print(f"note: the validation split has only {n} poses; plotting those", file=sys.stderr)
    title = f"{Path(args.weights).name} (input {checkpoint['input_mode']}) on the first {n} held-out poses\n{dataset.describe()}"
    path = visualize.save_figure(sample_figure(samples, dataset, title), args.out)
    print(f"wrote {path}")
    if args.html:
        write_text(args.html, sample_view(samples, title.replace("\n", "; ")))
        print(f"wrote {args.html}")
    if args.show:
        visualize.show_or_close(sample_figure(samples, dataset, title), show=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
