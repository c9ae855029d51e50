import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import visualize
from skeleton_utils import COCO17_NAMES, J, JOINT_NAMES, TEST17_INDICES, mpiinf_to_coco17

# Where a standing person faces the camera, root-relative camera mm (x right, y down, z forward).
# The left arm is raised sideways so that a mirror image would be obvious.
STANDING = {
    "pelvis": (0, 0, 0), "spine": (0, -60, 5), "spine2": (0, -200, 15), "spine3": (0, -330, 20),
    "spine4": (0, -440, 15), "neck": (0, -560, 0), "head": (0, -680, -15), "head_top": (0, -800, 0),
    "left_clavicle": (40, -540, 0), "left_shoulder": (180, -520, 10), "left_elbow": (400, -620, 0),
    "left_wrist": (580, -780, -20), "left_hand": (630, -850, -30),
    "right_clavicle": (-40, -540, 0), "right_shoulder": (-180, -520, 10), "right_elbow": (-220, -250, -20),
    "right_wrist": (-240, -20, -40), "right_hand": (-245, 60, -50),
    "left_hip": (100, 0, 0), "left_knee": (110, 450, -20), "left_ankle": (110, 870, 20),
    "left_foot": (115, 920, -60), "left_toe": (120, 930, -140),
    "right_hip": (-100, 0, 0), "right_knee": (-110, 430, -90), "right_ankle": (-110, 860, 0),
    "right_foot": (-115, 920, -80), "right_toe": (-120, 930, -160),
}
FX, FY, CX, CY = 1000.0, 1000.0, 320.0, 230.0
DEPTH = 4500.0  # mm from the camera to the pelvis


def standing_pose() -> np.ndarray:
    return np.array([STANDING[name] for name in JOINT_NAMES], dtype=float)


def project(pose3d: np.ndarray) -> np.ndarray:
    camera = pose3d + [0.0, 50.0, DEPTH]
    return np.column_stack([FX * camera[:, 0] / camera[:, 2] + CX, FY * camera[:, 1] / camera[:, 2] + CY])


def plotted_points(ax) -> np.ndarray:
    """Every point drawn on a 3D axes, as matplotlib (X, Y, Z)."""
    return np.concatenate([np.column_stack(line.get_data_3d()) for line in ax.lines])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def grey_image() -> np.ndarray:
    return np.full((480, 640, 3), 128, dtype=np.uint8)


def midpoint(pose2d: np.ndarray, a: int, b: int) -> tuple[int, int]:
    u, v = np.round((pose2d[a] + pose2d[b]) / 2).astype(int)
    return v, u


# ---------------------------------------------------------------------------
# Image overlays
# ---------------------------------------------------------------------------
def test_draw_2d_pose_28_draws_bones_in_side_colours_and_leaves_input_alone():
    image, pose2d = grey_image(), project(standing_pose())
    original = image.copy()
    out = visualize.draw_2d_pose_28(image, pose2d)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(image, original)
    b, g, r = out[midpoint(pose2d, J["left_knee"], J["left_ankle"])].astype(int)
    assert b > r + 50, "left shin should be blue"
    b, g, r = out[midpoint(pose2d, J["right_knee"], J["right_ankle"])].astype(int)
    assert r > b + 50, "right shin should be red"
    assert (out[midpoint(pose2d, J["spine2"], J["spine3"])] != 128).any()
    np.testing.assert_array_equal(out[:20, :20], original[:20, :20])
    # The raised left arm is on the image's right: the person faces the camera.
    assert pose2d[J["left_hand"], 0] > pose2d[J["right_hand"], 0]


def test_low_visibility_joints_are_drawn_differently():
    image, pose2d = grey_image(), project(standing_pose())
    visible = np.column_stack([pose2d, np.ones(28)])
    hidden = visible.copy()
    hidden[[J["left_elbow"], J["left_wrist"], J["left_hand"]], 2] = 0.1
    seen = visualize.draw_2d_pose_28(image, visible)
    unseen = visualize.draw_2d_pose_28(image, hidden)
    arm = slice(int(pose2d[J["left_hand"], 1]) - 10, int(pose2d[J["left_elbow"], 1]) + 10)
    changed_seen = (seen[arm, 360:] != 128).any(-1).sum()
    changed_unseen = (unseen[arm, 360:] != 128).any(-1).sum()
    assert 0 < changed_unseen < changed_seen / 2
    # The spine and legs are unaffected.
    np.testing.assert_array_equal(seen[300:], unseen[300:])


def test_draw_coco17_draws_keypoints_and_low_score_differently():
    image, pose2d = grey_image(), project(standing_pose())
    keypoints = np.column_stack([mpiinf_to_coco17(pose2d), np.ones(17)])
    original = image.copy()
    out = visualize.draw_coco17(image, keypoints)
    assert out.shape == image.shape
    np.testing.assert_array_equal(image, original)
    knee, ankle = COCO17_NAMES.index("left_knee"), COCO17_NAMES.index("left_ankle")
    b, g, r = out[midpoint(keypoints[:, :2], knee, ankle)].astype(int)
    assert b > r + 50
    low = keypoints.copy()
    low[ankle, 2] = 0.2
    assert not np.array_equal(visualize.draw_coco17(image, low), out)


def test_thickness_scales_with_image_size():
    small = visualize.draw_2d_pose_28(grey_image(), project(standing_pose()))
    big_image = np.full((1920, 2560, 3), 128, dtype=np.uint8)
    big = visualize.draw_2d_pose_28(big_image, project(standing_pose()) * 4)
    # With a fixed thickness, 4x longer bones would change about 4x the pixels.
    assert (big != 128).any(-1).sum() > 6 * (small != 128).any(-1).sum()


@pytest.mark.parametrize("image", [np.zeros((48, 64), np.uint8), np.zeros((48, 64, 3), np.float32)])
def test_overlays_reject_non_bgr_images(image):
    with pytest.raises(ValueError, match="BGR image"):
        visualize.draw_2d_pose_28(image, np.zeros((28, 2)))


def test_overlays_reject_wrong_joint_counts():
    with pytest.raises(ValueError, match=r"\(28, 2 or 3\)"):
        visualize.draw_2d_pose_28(grey_image(), np.zeros((17, 2)))
    with pytest.raises(ValueError, match=r"\(17, 2 or 3\)"):
        visualize.draw_coco17(grey_image(), np.zeros((28, 3)))


def test_overlays_skip_nan_and_far_away_joints():
    pose2d = project(standing_pose())
    pose2d[J["head_top"]] = np.nan
    pose2d[J["left_toe"]] = 1e12
    out = visualize.draw_2d_pose_28(grey_image(), pose2d)
    assert (out != 128).any()


# ---------------------------------------------------------------------------
# Matplotlib plots
# ---------------------------------------------------------------------------
def axis_ranges(ax) -> np.ndarray:
    return np.array([np.diff(ax.get_xlim3d()), np.diff(ax.get_ylim3d()), np.diff(ax.get_zlim3d())]).ravel()


def test_plot_3d_upright_puts_up_on_the_vertical_axis_with_equal_scales():
    pose = standing_pose() + [500.0, -200.0, 4000.0]  # not root-relative: any position must work
    ax = visualize.plot_3d(pose)
    points = plotted_points(ax)
    expected = np.column_stack([pose[:, 0], pose[:, 2], -pose[:, 1]])
    assert {tuple(p) for p in points} == {tuple(p) for p in expected}
    # Up is -y: the raised left hand is the highest point, the toes the lowest.
    np.testing.assert_allclose(points[points[:, 2].argmax()], expected[J["left_hand"]])
    assert points[:, 2].min() == expected[J["right_toe"], 2]
    ranges = axis_ranges(ax)
    np.testing.assert_allclose(ranges, ranges[0])
    for low_high, column in zip((ax.get_xlim3d(), ax.get_ylim3d(), ax.get_zlim3d()), points.T):
        assert low_high[0] <= column.min() and column.max() <= low_high[1]
    # Tick labels show camera y, which grows downwards.
    assert ax.zaxis.get_major_formatter()(-300.0, 0) == "300"


def test_plot_3d_overlay_keeps_equal_scales_covering_both_poses():
    gt = standing_pose()
    ax = visualize.plot_3d(gt, color="black", label="ground truth")
    visualize.plot_3d(gt + [0.0, 0.0, 2000.0], ax=ax, color="red", linestyle="--", label="prediction")
    ranges = axis_ranges(ax)
    np.testing.assert_allclose(ranges, ranges[0])
    assert ax.get_ylim3d()[1] >= gt[:, 2].max() + 2000 and ax.get_ylim3d()[0] <= gt[:, 2].min()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ground truth", "prediction"]


def test_plot_3d_palette_legend_names_the_sides():
    ax = visualize.plot_3d(standing_pose())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["person's left", "person's right"]


def test_plot_3d_flat_draws_at_depth_zero_upright():
    pose2d = np.column_stack([project(standing_pose()), np.linspace(0, 1, 28)])
    ax = visualize.plot_3d(pose2d, mode="flat")
    points = plotted_points(ax)
    np.testing.assert_array_equal(points[:, 1], 0.0)
    expected = {(u, 0.0, -v) for u, v in pose2d[:, :2]}
    assert {tuple(p) for p in points} == expected
    ranges = axis_ranges(ax)
    np.testing.assert_allclose(ranges, ranges[0])


def test_plot_3d_handles_17_joints_and_custom_edges():
    ax = visualize.plot_3d(standing_pose()[list(TEST17_INDICES)], joint_names=True)
    assert len(ax.texts) == 17
    ax = visualize.plot_3d(np.eye(3), edges=[(0, 1), (1, 2)])
    assert len(plotted_points(ax)) >= 3


def test_plot_3d_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        visualize.plot_3d(standing_pose(), mode="side")
    with pytest.raises(ValueError, match=r"\(J, 3\)"):
        visualize.plot_3d(np.zeros((28, 2)))
    with pytest.raises(ValueError, match="no default skeleton"):
        visualize.plot_3d(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="outside"):
        visualize.plot_3d(np.zeros((3, 3)), edges=[(0, 3)])


def test_plot_2d_inverts_v_with_equal_aspect():
    pose2d = project(standing_pose())
    ax = visualize.plot_2d(pose2d, joint_names=True)
    assert ax.yaxis_inverted()
    assert ax.get_aspect() == 1.0
    assert len(ax.texts) == 28
    visualize.plot_2d(pose2d + 5, ax=ax, color="red")
    assert ax.yaxis_inverted()


def test_figure_2d_in_3d_and_3d_saves_a_png(tmp_path):
    fig = visualize.figure_2d_in_3d_and_3d([project(standing_pose())], [standing_pose()], title="frame 0")
    left, right = fig.axes[:2]
    assert np.all(plotted_points(left)[:, 1] == 0)
    path = visualize.save_figure(fig, tmp_path / "out" / "figure.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in path.parent.iterdir()] == ["figure.png"]


def test_save_figure_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "figure.nosuchformat"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        visualize.save_figure(visualize.plot_3d(standing_pose()).figure, path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.nosuchformat"]


def test_show_or_close_without_display_prints_a_note(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("tried to open a window"))
    fig = visualize.plot_3d(standing_pose()).figure
    visualize.show_or_close(fig, show=True)
    assert "no display" in capsys.readouterr().err
    assert not plt.fignum_exists(fig.number)


def test_flat_plot_works_where_torch_cannot_be_imported(tmp_path):
    script = textwrap.dedent(f"""
        import sys

        class BlockTorch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "torch_geometric"):
                    raise ImportError(f"{{name}} is blocked for this test")

        sys.meta_path.insert(0, BlockTorch())
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("the torch blocker does not work")

        import numpy as np
        import visualize
        pose2d = np.column_stack([np.arange(28.0) * 10, np.arange(28.0) * 5])
        visualize.save_figure(visualize.plot_3d(pose2d, mode="flat").figure, {str(tmp_path / "flat.png")!r})
        assert "torch" not in sys.modules, "visualize imported torch"
        print("ok")
    """)
    # No display and a GUI backend configured: saving must still work (matplotlib falls back to Agg).
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(MPLBACKEND="TkAgg", PYTHONPATH=str(Path(visualize.__file__).parent))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert (tmp_path / "flat.png").stat().st_size > 5_000
