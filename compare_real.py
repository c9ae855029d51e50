"""How far the generator's poses cover real motion: joint angles measured on real and synthetic poses.

    python synthetic.py --compare-real ../shared/mocap/cmu --out coverage.png

For each anatomical angle, the share of real motion-capture frames that fall where synthetic.py
(almost) never goes, and a figure of both distributions.
"""
from __future__ import annotations

import numpy as np

import mocap
import skeleton_utils as sk
from geometry import unit
from joint_angles import SIDES, limb_angles, pelvis_frame


# The limb angles compared, as the report and figure name them.
LIMB_ANGLE_NAMES = {"knee_flex": "knee flexion", "hip_flex": "hip flexion", "hip_abd": "hip abduction",
                    "elbow_flex": "elbow flexion", "shoulder_elev": "shoulder elevation"}


def measured_angles(pose: np.ndarray, up: np.ndarray) -> dict[str, np.ndarray]:
    """Anatomical angles (deg) measured on (N, 28, 3) joints in any frame whose upward direction is
    `up` ((N, 3) or (3,)), both sides pooled.

    The limbs' angles are joint_angles.limb_angles'. Trunk lean is the pelvis -> neck line's forward tilt
    from the vertical (rigs disagree on where their spine joints sit, the vertical does not); spine twist
    the shoulder line's turn from the hip line about the trunk; head pitch the neck -> head line's forward
    tilt from the trunk line.
    """
    p = lambda name: pose[:, sk.J[name]]
    sides = [limb_angles(pose, side) for side in SIDES]
    out = {name: np.concatenate([angles[dof] for angles in sides]) for dof, name in LIMB_ANGLE_NAMES.items()}
    z = pelvis_frame(pose)[..., 2]
    trunk = p("neck") - p("pelvis")
    up = unit(np.broadcast_to(up, trunk.shape).astype(np.float64))
    ahead = unit(z - np.sum(z * up, -1, keepdims=True) * up)  # the pelvis's forward, made horizontal
    out["trunk lean"] = np.degrees(np.arctan2(np.sum(trunk * ahead, -1), np.sum(trunk * up, -1)))
    axis = unit(trunk)
    flat = lambda v: v - np.sum(v * axis, -1, keepdims=True) * axis
    shoulders, hips = flat(p("left_shoulder") - p("right_shoulder")), flat(p("left_hip") - p("right_hip"))
    out["spine twist"] = np.degrees(np.arctan2(np.sum(np.cross(hips, shoulders) * axis, -1), np.sum(hips * shoulders, -1)))
    head = p("head") - p("neck")
    out["head pitch"] = np.degrees(np.arctan2(np.sum(head * z, -1), np.sum(head * unit(trunk), -1)))
    return out


COMPARE_BINS = 36


def uncovered_share(real: np.ndarray, synthetic: np.ndarray, bins: np.ndarray) -> float:
    """Share of real poses in histogram bins where synthetic poses are at least 5x rarer: how much
    of what real people do the generator (almost) never shows."""
    r = np.histogram(real, bins)[0] / len(real)
    s = np.histogram(synthetic, bins)[0] / len(synthetic)
    return float(r[s < 0.2 * r].sum())


def compare_with_real(real: np.ndarray, synthetic_poses: np.ndarray, synthetic_up: np.ndarray,
                      path: str | None = None) -> dict[str, float]:
    """Per angle, the share of real (y-up world) poses the generator does not cover; with `path`, a
    figure of the real and synthetic angle distributions side by side."""
    real_angles = measured_angles(real, np.array([0.0, 1.0, 0.0]))
    synth_angles = measured_angles(synthetic_poses, synthetic_up)
    bins, report = {}, {}
    for name in real_angles:
        both = np.concatenate([real_angles[name], synth_angles[name]])
        bins[name] = np.linspace(np.percentile(both, 0.1), np.percentile(both, 99.9), COMPARE_BINS + 1)
        report[name] = uncovered_share(real_angles[name], synth_angles[name], bins[name])
    if path:
        from matplotlib.figure import Figure

        from visualize import save_figure

        fig = Figure(figsize=(16, 8))
        for k, name in enumerate(real_angles):
            ax = fig.add_subplot(2, 4, k + 1)
            ax.hist(synth_angles[name], bins[name], density=True, alpha=0.5, label="synthetic.py")
            ax.hist(real_angles[name], bins[name], density=True, alpha=0.5, label="real motion capture")
            ax.set_title(f"{name}: {100 * report[name]:.0f}% of real uncovered")
            ax.set_xlabel("degrees")
        fig.axes[0].legend()
        fig.tight_layout()
        save_figure(fig, path)
    return report


# ---------------------------------------------------------------------------


def load_real_joints(paths: list[str]) -> np.ndarray:
    """Every frame of the clips (files or folders), (F, 28, 3) world mm, y up; mocap's errors pass through."""
    return np.concatenate([mocap.load_clip_joints(path)[0] for path in mocap.find_clips(paths)])


def print_report(report: dict[str, float], real_frames: int, synthetic_poses: int, figure: str) -> None:
    print(f"{real_frames} real frames vs {synthetic_poses} synthetic poses: share of real poses in angle ranges "
          f"the generator (almost) never shows (bins where it is 5x rarer)")
    for name, share in sorted(report.items(), key=lambda item: -item[1]):
        print(f"  {name:20s} {100 * share:5.1f}%")
    print(f"figure: {figure}")
