"""visualize_eval.py: the PNG of held-out poses, with each pose's MPJPE, from a checkpoint train.py wrote."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import synthetic
import viewer
import visualize_eval
from data_loader import MPIINF3DHPDataset
from infer_lifting import load_for_inference

REPO = Path(__file__).resolve().parents[1]
NUM_POSES = 900
DATA_SEED = 3


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A tiny model after one epoch on synthetic poses made with a non-default data seed."""
    out = tmp_path_factory.mktemp("trained")
    # One thread: on a busy machine with few cores, several would mostly wait for each other.
    subprocess.run([sys.executable, str(REPO / "train.py"), "--synthetic", str(NUM_POSES), "--data-seed", str(DATA_SEED),
                    "--epochs", "1", "--dim", "16", "--depth", "1", "--heads", "2", "--device", "cpu", "--out", str(out)],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out / "best_model_weights.pth"


def test_writes_the_png_of_the_first_held_out_poses(weights, tmp_path):
    out = tmp_path / "plots" / "eval_samples.png"
    proc = subprocess.run([sys.executable, str(REPO / "visualize_eval.py"), "--synthetic", str(NUM_POSES),
                           "--weights", str(weights), "--n", "3", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    # The data seed of the training run is used unless given: the same held-out subjects as eval.py.
    assert f"data seed {DATA_SEED}" in proc.stdout
    image = plt.imread(out)
    assert image.shape[0] > 3 * 300 and image.shape[1] > 900  # three rows of three panels


def test_titles_carry_each_poses_mpjpe_and_the_overlay_has_a_legend(weights):
    lifter, checkpoint = load_for_inference(weights, torch.device("cpu"))
    dataset = MPIINF3DHPDataset(synthetic.generate_poses(NUM_POSES, seed=DATA_SEED), "val")
    samples = visualize_eval.predict_samples(lifter, checkpoint["input_mode"], dataset, 2)
    assert samples.input.shape == (2, 28, 3) and samples.prediction.shape == samples.truth.shape == (2, 28, 3)
    fig = visualize_eval.sample_figure(samples, dataset, "title")
    try:
        axes = fig.axes
        assert len(axes) == 6
        for row in range(2):
            error = np.linalg.norm(samples.prediction[row] - samples.truth[row], axis=-1).mean()
            assert axes[3 * row + 2].get_title() == f"prediction: MPJPE {error:.1f} mm"
            legend = [text.get_text() for text in axes[3 * row + 2].get_legend().get_texts()]
            assert legend == ["ground truth", "prediction"]
        assert f"pose {dataset.index[0]}" in axes[0].get_title()
    finally:
        plt.close(fig)


def test_missing_weights_and_missing_data_fail_clearly(weights, tmp_path):
    with pytest.raises(SystemExit, match="weights file not found"):
        visualize_eval.main(["--synthetic", "100", "--weights", str(tmp_path / "none.pth")])
    with pytest.raises(SystemExit, match="no such file"):
        visualize_eval.main(["--data", str(tmp_path / "none.npz"), "--weights", str(weights)])
    assert not list(tmp_path.iterdir())


def test_html_holds_each_pose_with_its_prediction_over_the_ground_truth(weights, tmp_path):
    page = tmp_path / "samples.html"
    assert visualize_eval.main(["--synthetic", str(NUM_POSES), "--weights", str(weights), "--n", "3",
                                "--out", str(tmp_path / "s.png"), "--html", str(page)]) == 0
    data = viewer.embedded_data(page.read_text())
    frames = viewer.decode(data["arrays"], data["frames"])
    assert len(frames) == 3 and all([p.truth for p in frame] == [False, True] for frame in frames)
    dataset = MPIINF3DHPDataset(synthetic.generate_poses(NUM_POSES, seed=DATA_SEED), "val")
    assert np.allclose(frames[0][1].joints3d, dataset.pose3d[0].numpy(), atol=0.06)  # the truth, to the 0.1 mm step
