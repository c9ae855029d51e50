import numpy as np
import pytest
import torch

import metrics
import skeleton_utils as sk


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.fixture
def poses() -> np.ndarray:
    return np.random.default_rng(0).normal(0, 300, (5, sk.NUM_JOINTS, 3))


def test_mpjpe_of_a_known_offset(poses):
    offset = np.array([30.0, 40.0, 0.0])  # 50 mm from every joint
    assert metrics.mpjpe(poses + offset, poses) == pytest.approx(50.0)
    assert metrics.mpjpe(poses, poses) == 0.0


def test_mpjpe_averages_over_joints_and_poses():
    target = np.zeros((2, 2, 3))
    pred = target.copy()
    pred[0, 0, 0] = 10.0
    pred[1, 1, 2] = -30.0
    assert metrics.mpjpe(pred, target) == pytest.approx(40.0 / 4)
    np.testing.assert_allclose(metrics.per_joint_mpjpe(pred, target), [5.0, 15.0])


def test_pa_mpjpe_of_a_rotated_scaled_shifted_copy_is_zero(poses):
    rng = np.random.default_rng(1)
    moved = np.stack([1.7 * p @ random_rotation(rng).T + rng.normal(0, 500, 3) for p in poses])
    assert metrics.mpjpe(moved, poses) > 100.0
    assert metrics.pa_mpjpe(moved, poses) == pytest.approx(0.0, abs=1e-6)


def test_pa_mpjpe_does_not_undo_a_mirror_image(poses):
    mirrored = poses * np.array([-1.0, 1.0, 1.0])
    # A reflection is not a rotation: the aligned mirror image keeps a real error.
    assert metrics.pa_mpjpe(mirrored, poses) > 10.0
    aligned = metrics.procrustes_align(mirrored, poses)
    assert metrics.mpjpe(aligned, poses) <= metrics.mpjpe(mirrored, poses)


def test_pa_mpjpe_never_exceeds_mpjpe_of_centred_poses(poses):
    noisy = poses + np.random.default_rng(2).normal(0, 40, poses.shape)
    assert 0.0 < metrics.pa_mpjpe(noisy, poses) < metrics.mpjpe(noisy, poses)


def test_n_mpjpe_forgives_the_body_size_but_not_a_rotation(poses):
    centred = poses - poses[:, :1]
    assert metrics.mpjpe(0.8 * centred, centred) > 50.0
    assert metrics.n_mpjpe(0.8 * centred, centred) == pytest.approx(0.0, abs=1e-9)
    turned = centred @ random_rotation(np.random.default_rng(4)).T
    assert metrics.n_mpjpe(turned, centred) > metrics.pa_mpjpe(turned, centred) + 50.0
    # One factor per pose: two poses of different sizes are each fitted on their own.
    sizes = np.array([0.7, 1.3, 1.0, 0.9, 1.1])[:, None, None]
    assert metrics.n_mpjpe(sizes * centred, centred) == pytest.approx(0.0, abs=1e-9)


def test_torch_and_numpy_agree_and_keep_their_kind(poses):
    noisy = poses + np.random.default_rng(3).normal(0, 40, poses.shape)
    as_torch = metrics.pa_mpjpe(torch.tensor(noisy), torch.tensor(poses))
    assert isinstance(as_torch, torch.Tensor)
    assert isinstance(metrics.pa_mpjpe(noisy, poses), float)
    assert float(as_torch) == pytest.approx(metrics.pa_mpjpe(noisy, poses))


def test_mpjpe_is_differentiable_at_zero_error():
    pred = torch.zeros(2, 3, 3, requires_grad=True)
    metrics.mpjpe(pred, torch.zeros(2, 3, 3)).backward()
    assert torch.isfinite(pred.grad).all()


def test_pck_at_a_known_error_distribution():
    errors = np.array([0.0, 50.0, 149.9, 150.0, 151.0, 400.0])
    # Strictly below the threshold, as the official MPI-INF-3DHP evaluation counts.
    assert metrics.pck(errors) == pytest.approx(100.0 * 3 / 6)
    assert metrics.pck(errors, threshold=50.0) == pytest.approx(100.0 / 6)


def test_auc_at_known_error_distributions():
    assert len(metrics.AUC_THRESHOLDS_MM) == 31 and metrics.AUC_THRESHOLDS_MM[-1] == 150.0
    # A perfect prediction passes every threshold except 0 mm (nothing is below 0).
    assert metrics.auc(np.zeros(10)) == pytest.approx(100.0 * 30 / 31)
    assert metrics.auc(np.full(10, 1000.0)) == 0.0
    # An error of 72 mm passes the 16 thresholds 75 ... 150.
    assert metrics.auc(np.full(4, 72.0)) == pytest.approx(100.0 * 16 / 31)
    # Uniform errors over [0, 150): PCK(t) = t / 150, whose mean over the thresholds is 50%.
    uniform = np.linspace(0, 150, 150_000, endpoint=False)
    assert metrics.auc(uniform) == pytest.approx(50.0, abs=0.01)


def test_compute_metrics_returns_every_number(poses):
    result = metrics.compute_metrics(poses + np.array([0.0, 0.0, 102.0]), poses, sk.JOINT_NAMES)
    assert result["num_poses"] == len(poses)
    assert result["mpjpe"] == pytest.approx(102.0)
    assert result["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < result["n_mpjpe"] < result["mpjpe"]  # a shift in depth: scaling down helps a little
    assert result["pck150"] == pytest.approx(100.0)
    assert result["auc"] == pytest.approx(100.0 * 10 / 31)  # 102 mm passes 105 ... 150
    assert list(result["per_joint_mpjpe"]) == list(sk.JOINT_NAMES)
    assert all(v == pytest.approx(102.0) for v in result["per_joint_mpjpe"].values())
    with pytest.raises(ValueError, match="joint names"):
        metrics.compute_metrics(poses, poses, sk.TEST17_NAMES)


def test_mpjve_and_acceleration_error_against_hand_computed_values():
    target = np.zeros((4, 2, 3))
    target[:, 0, 0] = [0.0, 10.0, 20.0, 30.0]  # a joint moving 10 mm a frame: no acceleration
    pred = target.copy()
    pred[2, 0, 0] += 3.0  # one frame 3 mm off along x
    # velocities: errors 0, +3, -3 on joint 0 over 3 steps x 2 joints -> (3 + 3) / 6 = 1 mm/frame
    assert metrics.mpjve(pred, target) == pytest.approx(1.0)
    # second differences of the error 0, 0, 3, 0 along x: 3, -6 on joint 0, none on joint 1 -> (3 + 6) / (2 x 2)
    assert metrics.acceleration_error(pred, target) == pytest.approx(2.25)
    shifted = target + np.array([5.0, -2.0, 1.0])  # a constant offset jitters not at all
    assert metrics.mpjve(shifted, target) == pytest.approx(0.0) and metrics.acceleration_error(shifted, target) == 0.0
    assert isinstance(metrics.mpjve(torch.as_tensor(pred), torch.as_tensor(target)), torch.Tensor)


def test_the_centred_moving_average_shrinks_its_window_at_the_edges():
    import smoothing
    values = np.array([0.0, 3.0, 6.0, 9.0, 30.0])[:, None]
    np.testing.assert_allclose(smoothing.moving_average(values, 3)[:, 0], [0.0, 3.0, 6.0, 15.0, 30.0])
    np.testing.assert_allclose(smoothing.moving_average(values, 5)[:, 0], [0.0, 3.0, 9.6, 15.0, 30.0])
    line = np.arange(20.0)[:, None, None] * np.ones((1, 28, 3))
    np.testing.assert_allclose(smoothing.moving_average(line, 9), line)  # a steady motion passes unchanged
    with pytest.raises(ValueError, match="odd number of frames"):
        smoothing.moving_average(values, 4)
