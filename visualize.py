"""Drawing: skeleton overlays on images (OpenCV) and 2D / 3D pose figures (matplotlib).

Works without torch: nothing here imports it, so a plotting-only machine can draw poses.

Matplotlib backend: this module never selects one. Matplotlib picks an interactive
backend when a display exists and falls back to Agg when none does (rcParams
"backend_fallback", on by default), so saving figures works on a headless server and
`--show` still opens a window on a desktop; forcing Agg here would break the latter.
show_or_close() opens a window only when asked to and a display exists.

3D axes: a camera-space point (x right, y down, z forward, mm) is plotted at matplotlib
(X, Y, Z) = (x, z, -y), so the vertical axis points up and depth goes into the picture.
This is a rotation, not a mirror image. Tick labels on the vertical axis show the
original y (or pixel v), so they can be read against the numbers in a pose file.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import cv2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends import BackendFilter, backend_registry
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from atomic import atomic_path
from skeleton_utils import (
    COCO17_EDGES, COCO17_NAMES, JOINT_NAMES, MPIINF_EDGES, ROOT, TEST17_EDGES, TEST17_NAMES, VISIBILITY_THRESHOLD,
)

# Matplotlib colours by the person's side: left blue, right red, spine and head dark.
SIDE_COLORS = {"left": "#1f77b4", "right": "#d62728", "centre": "#303030"}
# Overlay colours on photos (BGR): brighter, with a light centre line, to stand out on dark scenes too.
SIDE_COLORS_BGR = {"left": (255, 150, 40), "right": (60, 60, 255), "centre": (0, 215, 255)}
OUTLINE_BGR = (0, 0, 0)
# Default 3D view: from the camera's side (the camera looks along +depth) and slightly above,
# turned a little so that depth is visible. Azimuth -90 would be exactly the camera's view.
VIEW_ELEVATION = 12.0
VIEW_AZIMUTH = -70.0
# Larger pixel coordinates are garbage for drawing and would overflow OpenCV's int32 points.
_MAX_PIXEL = 1e6
_NON_INTERACTIVE_BACKENDS = frozenset(backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE))


# ---------------------------------------------------------------------------
# Skeleton description and input checks
# ---------------------------------------------------------------------------
def _side(name: str | None) -> str:
    for side in ("left", "right"):
        if name is not None and name.startswith(side + "_"):
            return side
    return "centre"


def _edge_side(names, a: int, b: int) -> str:
    """A bone takes the side of its sided joints; a bone joining left to right is central."""
    sides = {_side(names[a]), _side(names[b])} - {"centre"}
    return sides.pop() if len(sides) == 1 else "centre"


def _skeleton(num_joints: int, edges) -> tuple[tuple, tuple]:
    """Bones and joint names for a J-joint pose: 28 -> MPI-INF-3DHP, 17 -> the 17 test-set joints."""
    names = {len(JOINT_NAMES): JOINT_NAMES, len(TEST17_NAMES): TEST17_NAMES}.get(num_joints, (None,) * num_joints)
    if edges is None:
        edges = {len(JOINT_NAMES): MPIINF_EDGES, len(TEST17_NAMES): TEST17_EDGES}.get(num_joints)
        if edges is None:
            raise ValueError(f"no default skeleton for {num_joints} joints (28 or 17 expected); pass edges=")
    edges = tuple((int(a), int(b)) for a, b in edges)
    if any(not (0 <= j < num_joints) for edge in edges for j in edge):
        raise ValueError(f"edges refer to joints outside 0..{num_joints - 1}")
    return edges, names


def _as_pose(pose, widths: tuple[int, ...], what: str, num_joints: int | None = None) -> np.ndarray:
    pose = np.asarray(pose, dtype=np.float64)
    joints = "J" if num_joints is None else str(num_joints)
    if pose.ndim != 2 or pose.shape[1] not in widths or (num_joints is not None and len(pose) != num_joints):
        raise ValueError(f"{what}: expected an array of shape ({joints}, {' or '.join(map(str, widths))}), "
                         f"got {pose.shape}")
    return pose


def _positions_and_visibility(pose: np.ndarray, min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """(J, 2) positions and a (J,) bool visibility from (J, 2) or (J, 3) = (u, v, visibility)."""
    if pose.shape[1] == 2:
        return pose, np.ones(len(pose), dtype=bool)
    return pose[:, :2], pose[:, 2] >= min_visibility


# ---------------------------------------------------------------------------
# Overlays on images (OpenCV)
# ---------------------------------------------------------------------------
def _check_image(image) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        shape, dtype = getattr(image, "shape", None), getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"expected a BGR image of shape (H, W, 3) and dtype uint8, got shape {shape} dtype {dtype}; "
                         "convert it first, e.g. with cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)")


def _dashed_line(image: np.ndarray, p0, p1, color, thickness: int, dash: int) -> None:
    inside, p0, p1 = cv2.clipLine((0, 0, image.shape[1], image.shape[0]), p0, p1)
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    if not inside or length == 0:
        return
    starts = np.arange(0.0, length, 2 * dash)
    fractions = np.stack([starts, np.minimum(starts + dash, length)], axis=1) / length  # (dashes, 2 ends)
    dashes = np.round(np.asarray(p0) + fractions[..., None] * np.subtract(p1, p0)).astype(np.int32)
    cv2.polylines(image, list(dashes), False, color, thickness, cv2.LINE_AA)  # one call: drawing is per frame


def _draw_skeleton_on_image(image, pose, edges, names, min_visibility, thickness, radius) -> np.ndarray:
    _check_image(image)
    out = image.copy()
    _draw_skeleton_into(out, pose, edges, names, min_visibility, thickness, radius)
    return out


def _draw_skeleton_into(out: np.ndarray, pose, edges, names, min_visibility, thickness, radius) -> None:
    """Draw onto the BGR image `out` itself (also a view into a larger canvas)."""
    xy, visible = _positions_and_visibility(pose, min_visibility)
    drawable = np.isfinite(xy).all(1) & (np.abs(np.nan_to_num(xy)) < _MAX_PIXEL).all(1)
    points = [tuple(p) for p in np.round(np.where(drawable[:, None], xy, 0.0)).astype(int)]
    thickness = thickness or max(1, round(min(out.shape[:2]) / 250))
    radius = radius or thickness + 2
    thin = max(1, thickness // 2)
    for a, b in edges:
        if not (drawable[a] and drawable[b]):
            continue
        color = SIDE_COLORS_BGR[_edge_side(names, a, b)]
        if visible[a] and visible[b]:
            cv2.line(out, points[a], points[b], OUTLINE_BGR, thickness + 2, cv2.LINE_AA)
            cv2.line(out, points[a], points[b], color, thickness, cv2.LINE_AA)
        else:
            _dashed_line(out, points[a], points[b], color, thin, dash=3 * thickness + 3)
    for j in np.flatnonzero(drawable):
        color = SIDE_COLORS_BGR[_side(names[j])]
        if visible[j]:
            cv2.circle(out, points[j], radius + 1, OUTLINE_BGR, -1, cv2.LINE_AA)
            cv2.circle(out, points[j], radius, color, -1, cv2.LINE_AA)
        else:
            cv2.circle(out, points[j], radius, color, thin, cv2.LINE_AA)


def draw_2d_pose_28(image: np.ndarray, pose: np.ndarray, min_visibility: float = VISIBILITY_THRESHOLD,
                    thickness: int | None = None, radius: int | None = None) -> np.ndarray:
    """A copy of a BGR image with the 28-joint skeleton drawn on it.

    pose: (28, 2) pixels or (28, 3) pixels + visibility. Joints below min_visibility are drawn
    as hollow circles and their bones thin and dashed. Left limbs blue, right red, centre yellow.
    Thickness and radius default to a size proportional to the image.
    """
    pose = _as_pose(pose, (2, 3), "draw_2d_pose_28 pose", num_joints=len(JOINT_NAMES))
    return _draw_skeleton_on_image(image, pose, MPIINF_EDGES, JOINT_NAMES, min_visibility, thickness, radius)


def draw_coco17(image: np.ndarray, keypoints: np.ndarray, min_visibility: float = VISIBILITY_THRESHOLD,
                thickness: int | None = None, radius: int | None = None) -> np.ndarray:
    """A copy of a BGR image with COCO-17 keypoints, (17, 2) or (17, 3) with a visibility/score in [0, 1], drawn.

    Keypoints below min_visibility are hollow, their bones thin and dashed; colours as in draw_2d_pose_28.
    """
    keypoints = _as_pose(keypoints, (2, 3), "draw_coco17 keypoints", num_joints=len(COCO17_NAMES))
    return _draw_skeleton_on_image(image, keypoints, COCO17_EDGES, COCO17_NAMES, min_visibility, thickness, radius)


def draw_people(image: np.ndarray, poses: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """A copy of a BGR image with several people's skeletons, each labelled above its head: 28 joints (28, 3),
    or COCO-17 keypoints (17, 3)."""
    out = image
    for pose, label in zip(poses, labels):
        out = (draw_coco17 if len(pose) == len(COCO17_NAMES) else draw_2d_pose_28)(out, pose)
        scale = max(0.5, min(out.shape[:2]) / 700)
        thickness = max(1, round(2 * scale))
        (width, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        xy = _as_pose(pose, (3,), "draw_people pose")[:, :2]
        at = (int(np.clip(xy[:, 0].mean() - width / 2, 0, max(out.shape[1] - width, 0))),
              int(np.clip(xy[:, 1].min() - height, height, out.shape[0] - 1)))
        cv2.putText(out, label, at, cv2.FONT_HERSHEY_SIMPLEX, scale, OUTLINE_BGR, thickness + 2, cv2.LINE_AA)
        cv2.putText(out, label, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out.copy() if out is image else out


# ---------------------------------------------------------------------------
# Annotated video frames (OpenCV): the frame with its overlay beside a live 3D view
# ---------------------------------------------------------------------------
# The live 3D view: an orthographic camera turned this far around the vertical axis and raised this
# far above the horizon, so depth shows as sideways and vertical displacement.
PANEL_YAW_DEG = 35.0
PANEL_ELEVATION_DEG = 15.0
PANEL_SPAN_MM = 2400.0  # the panel's height in mm, fixed so the person does not change size from frame to frame
FLOOR_HALF_MM = 1000.0
FLOOR_STEP_MM = 250.0
# Dark, like most photos: the overlay palette above is made to stand out on those.
PANEL_BACKGROUND = (40, 40, 40)
FLOOR_COLOR = (95, 95, 95)
TEXT_COLOR = (225, 225, 225)


def _view_rotation() -> np.ndarray:
    """Camera space -> panel space: turn about the vertical (y) axis, then tilt to look down."""
    yaw, pitch = np.radians(PANEL_YAW_DEG), np.radians(PANEL_ELEVATION_DEG)
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return tilt @ turn


VIEW_ROTATION = _view_rotation()


def project_to_panel(points_mm: np.ndarray, size: int, centre_mm: np.ndarray | None = None,
                     span_mm: float = PANEL_SPAN_MM) -> np.ndarray:
    """(N, 3) camera-space mm -> (N, 2) panel pixels, orthographic, centre_mm (default: the origin, a
    root-relative pose's pelvis) at the panel's centre, span_mm from top to bottom."""
    rotated = (points_mm - (0.0 if centre_mm is None else centre_mm)) @ VIEW_ROTATION.T
    return rotated[:, :2] * (size / span_mm) + size / 2


def _floor_grid(floor_y: float, centre: np.ndarray, half: float) -> np.ndarray:
    """(L, 2, 3) end points (mm) of a square grid on the floor plane y = floor_y, centred under centre."""
    t = np.arange(-half, half + 1, FLOOR_STEP_MM)
    h = np.full_like(t, half)
    xz = np.concatenate([np.stack([np.column_stack([t, -h]), np.column_stack([t, h])], axis=1),  # along z
                         np.stack([np.column_stack([-h, t]), np.column_stack([h, t])], axis=1)])  # along x
    return np.stack([xz[..., 0] + centre[0], np.full(xz.shape[:2], floor_y), xz[..., 1] + centre[2]], axis=-1)


def _panel_text(panel: np.ndarray, text: str, y: int, x: int = 8) -> None:
    """One line of text at (x, y) (kept inside the panel), scaled to the panel's size."""
    size = panel.shape[0]
    scale, thickness = max(0.35, size / 1100), max(1, round(size / 600))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    y = min(max(y, height + 6), size - baseline - 6)
    x = min(max(x, 0), max(panel.shape[1] - width, 0))
    cv2.putText(panel, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOR, thickness, cv2.LINE_AA)


@functools.lru_cache(maxsize=4)
def _blank_panel(size: int) -> np.ndarray:
    """The background to copy: faster than filling a strided view of a canvas with a colour every frame."""
    return np.full((size, size, 3), PANEL_BACKGROUND, dtype=np.uint8)


def draw_3d_panel(panel: np.ndarray, poses3d: list[np.ndarray], visibilities: list[np.ndarray] | None = None,
                  labels: list[str] | None = None) -> None:
    """Draw people's 3D poses, seen from above and to the side, into a square BGR image (or view) in place.

    poses3d: (28, 3) mm each, root-relative for one person, or placed in camera space (then the group's
    middle is the panel's centre and the view widens to hold everyone); [] for "no person found". Joints
    whose visibility is below VISIBILITY_THRESHOLD are hollow, their bones dashed: their 3D is the model's guess.
    """
    size = panel.shape[0]
    np.copyto(panel, _blank_panel(size))
    if not len(poses3d):
        _panel_text(panel, "no person found", size // 2)
        return
    poses3d = [_as_pose(p, (3,), "draw_3d_panel joints3d (mm)", num_joints=len(JOINT_NAMES)) for p in poses3d]
    pelvises = np.array([p[ROOT] for p in poses3d])
    centre = (pelvises.min(0) + pelvises.max(0)) / 2
    spread = float(np.ptp(pelvises[:, [0, 2]], axis=0).max()) if len(poses3d) > 1 else 0.0
    span = max(PANEL_SPAN_MM, spread + PANEL_SPAN_MM / 2)
    floor_y = max(float(p[:, 1].max()) for p in poses3d)  # y points down: the lowest joint stands on the floor
    grid = _floor_grid(floor_y, centre, max(FLOOR_HALF_MM, spread / 2 + FLOOR_HALF_MM / 2))
    grid = np.round(project_to_panel(grid.reshape(-1, 3), size, centre, span)).astype(np.int32)
    cv2.polylines(panel, list(grid.reshape(-1, 2, 2)), False, FLOOR_COLOR, 1, cv2.LINE_AA)
    for k, pose in enumerate(poses3d):
        visibility = np.ones(len(pose)) if visibilities is None else visibilities[k]
        projected = np.column_stack([project_to_panel(pose, size, centre, span), visibility])
        _draw_skeleton_into(panel, projected, MPIINF_EDGES, JOINT_NAMES, VISIBILITY_THRESHOLD, None, None)
        if labels is not None and len(poses3d) > 1:
            top = projected[np.argmin(projected[:, 1])]
            _panel_text(panel, labels[k], int(top[1]) - 10, int(top[0]) - 20)
    _panel_text(panel, f"3D (view turned {PANEL_YAW_DEG:.0f} deg, floor grid {FLOOR_STEP_MM:.0f} mm)", 0)
    _panel_text(panel, "blue: left, red: right; hollow, dashed: unseen, guessed", size - 1)


def render_3d_panel(poses3d: list[np.ndarray], visibilities: list[np.ndarray] | None, size: int) -> np.ndarray:
    """A new size x size BGR image of the live 3D view (see draw_3d_panel)."""
    panel = np.empty((size, size, 3), dtype=np.uint8)
    draw_3d_panel(panel, poses3d, visibilities)
    return panel


class FrameAnnotator:
    """Annotated video frames: the frame with everyone's COCO-17 overlay and id, beside a square 3D view as high.

    Each frame is drawn into the next of `ring` preallocated canvases, so nothing is allocated or
    copied twice per frame; a canvas is reused `ring` frames later, so ring must exceed the number
    of annotated frames still held downstream (queued, being written or shown) at any time.
    """

    def __init__(self, ring: int):
        self._ring = ring
        self._canvases: list[np.ndarray] = []
        self._next = 0

    def _canvas(self, height: int, width: int) -> np.ndarray:
        shape = (height, width + height, 3)
        if not self._canvases or self._canvases[0].shape != shape:
            self._canvases = [np.empty(shape, dtype=np.uint8) for _ in range(self._ring)]
        canvas = self._canvases[self._next]
        self._next = (self._next + 1) % self._ring
        return canvas

    def annotate(self, frame: np.ndarray, coco17: list[np.ndarray] = (), poses3d: list[np.ndarray] = (),
                 visibilities: list[np.ndarray] | None = None, labels: list[str] | None = None) -> np.ndarray:
        """frame (H, W, 3) BGR; for each person, (17, 3) pixels + visibility and (28, 3) mm (see draw_3d_panel),
        each labelled (when there are several) above their head; no people: "no person found"."""
        _check_image(frame)
        height, width = frame.shape[:2]
        canvas = self._canvas(height, width)
        image, panel = canvas[:, :width], canvas[:, width:]
        image[:] = frame
        for k, keypoints in enumerate(coco17):
            keypoints = _as_pose(keypoints, (2, 3), "annotate coco17 keypoints", num_joints=len(COCO17_NAMES))
            _draw_skeleton_into(image, keypoints, COCO17_EDGES, COCO17_NAMES, VISIBILITY_THRESHOLD, None, None)
            if labels is not None and len(coco17) > 1:
                _panel_text(image, labels[k], int(keypoints[:, 1].min()) - 10, int(keypoints[:, 0].mean()) - 20)
        draw_3d_panel(panel, list(poses3d), visibilities, labels)
        return canvas


# ---------------------------------------------------------------------------
# Matplotlib figures
# ---------------------------------------------------------------------------
def _camera_to_plot(points: np.ndarray) -> np.ndarray:
    """Camera (x right, y down, z forward) -> matplotlib 3D (X, Y, Z) = (x, z, -y): up is up."""
    return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)


# Tick labels of an axis that holds -y: show y itself. (0.0 - value) avoids printing "-0".
_NEGATED_TICKS = FuncFormatter(lambda value, _: f"{0.0 - value:g}")


def _legend_labels(label: str | None, color) -> dict[str, str | None]:
    """The legend label of each side's first bone: the sides with the palette, else one label for all."""
    if color is not None:
        return {"left": label, "right": label, "centre": label}
    prefix = "" if label is None else f"{label}: "
    return {"left": f"{prefix}person's left", "right": f"{prefix}person's right", "centre": None}


def _draw_pose(ax, points: np.ndarray, visible: np.ndarray, edges, names, color, linestyle: str,
               alpha: float, label: str | None, joint_names: bool) -> None:
    """Bones and joints of plot-space points into ax: all three columns on 3D axes, the first two on 2D."""
    dims = 3 if ax.name == "3d" else 2
    labels = _legend_labels(label, color)
    for a, b in edges:
        side = _edge_side(names, a, b)
        seen = visible[a] and visible[b]
        ax.plot(*points[[a, b], :dims].T, color=SIDE_COLORS[side] if color is None else color, alpha=alpha,
                linestyle=linestyle if seen else ":", linewidth=2.0 if seen else 1.2,
                label=labels[side] if seen else None)
        if seen:
            labels[side] = None
    sides = np.array([_side(n) for n in names])
    for side in SIDE_COLORS:
        for seen in (True, False):
            idx = np.flatnonzero((sides == side) & (visible == seen))
            if len(idx):
                c = SIDE_COLORS[side] if color is None else color
                ax.plot(*points[idx, :dims].T, linestyle="none", marker="o", markersize=3.5, color=c,
                        markerfacecolor=c if seen else "none", alpha=alpha)
    if joint_names:
        for j in np.flatnonzero(np.isfinite(points).all(1)):
            point = points[j]
            ax.text(*point[:dims], names[j] or str(j), fontsize=6, alpha=alpha)


def _refresh_legend(ax, loc: str) -> None:
    """One legend entry per label, even when several poses were drawn into ax."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc=loc, fontsize=8)


def _equalize_3d_limits(ax) -> None:
    """The same range on all three axes, around the centre of everything drawn: no stretched people."""
    points = np.concatenate([np.column_stack(line.get_data_3d()) for line in ax.lines])
    points = points[np.isfinite(points).all(1)]
    if not len(points):
        raise ValueError("nothing to plot: every joint is NaN or infinite")
    low, high = points.min(0), points.max(0)
    centre = (low + high) / 2
    half = max((high - low).max() / 2 * 1.05, 1.0)  # the floor keeps a single point's box non-empty
    for set_limits, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        set_limits(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))


def _label_3d_axes(ax, mode: str) -> None:
    if mode == "upright":
        ax.set(xlabel="x (mm)", ylabel="z, depth (mm)", zlabel="y (mm), up is -y")
    else:
        ax.set(xlabel="u (px)", ylabel="depth", zlabel="v (px), up is -v")
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(nbins=5))  # the default crowds the tick labels
    if mode == "flat":
        ax.yaxis.set_major_locator(FixedLocator([0.0]))  # a flat pose has no depth to read
    ax.zaxis.set_major_formatter(_NEGATED_TICKS)


def _add_3d_axes(fig, *subplot):
    ax = fig.add_subplot(*subplot, projection="3d")
    ax.view_init(elev=VIEW_ELEVATION, azim=VIEW_AZIMUTH)
    return ax


def plot_3d(pose3d: np.ndarray, ax=None, mode: str = "upright", title: str | None = None, color=None,
            joint_names: bool = False, edges=None, alpha: float = 1.0, label: str | None = None,
            linestyle: str = "-"):
    """Draw a pose on a 3D axes (a new figure when ax is None) and return the axes.

    mode "upright": pose3d is (J, 3) camera-space mm, drawn with up pointing up.
    mode "flat": pose3d is a 2D pose, (J, 2) pixels or (J, 3) pixels + visibility, drawn
    at depth 0 (camera z = 0), upright (-v up); joints below VISIBILITY_THRESHOLD hollow.
    J = 28 or 17 (test-set joints) unless edges are given. color overrides the left/right
    palette (e.g. a red dashed prediction over a black ground truth); the axes keep equal
    scales covering everything drawn into them.
    """
    if mode not in ("upright", "flat"):
        raise ValueError(f"plot_3d mode must be 'upright' or 'flat', got {mode!r}")
    if mode == "upright":
        camera = _as_pose(pose3d, (3,), "plot_3d upright pose (camera mm)")
        visible = np.ones(len(camera), dtype=bool)
    else:
        xy, visible = _positions_and_visibility(_as_pose(pose3d, (2, 3), "plot_3d flat pose (pixels)"),
                                                VISIBILITY_THRESHOLD)
        camera = np.column_stack([xy, np.zeros(len(xy))])
    edges, names = _skeleton(len(camera), edges)
    if ax is None:
        ax = _add_3d_axes(plt.figure(figsize=(6, 6)))
    _draw_pose(ax, _camera_to_plot(camera), visible, edges, names, color, linestyle, alpha, label, joint_names)
    _label_3d_axes(ax, mode)
    _equalize_3d_limits(ax)
    _refresh_legend(ax, "upper right")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_2d(pose2d: np.ndarray, ax=None, title: str | None = None, color=None, joint_names: bool = False,
            edges=None, alpha: float = 1.0, label: str | None = None, linestyle: str = "-"):
    """Draw a 2D pose, (J, 2) pixels or (J, 3) pixels + visibility, on plain 2D axes (v down, equal scales)."""
    xy, visible = _positions_and_visibility(_as_pose(pose2d, (2, 3), "plot_2d pose (pixels)"), VISIBILITY_THRESHOLD)
    edges, names = _skeleton(len(xy), edges)
    if ax is None:
        ax = plt.figure(figsize=(5, 6)).add_subplot()
    _draw_pose(ax, xy, visible, edges, names, color, linestyle, alpha, label, joint_names)
    ax.set_aspect("equal", adjustable="datalim")
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_xlabel("u (px)")
    ax.set_ylabel("v (px)")
    _refresh_legend(ax, "best")
    if title is not None:
        ax.set_title(title)
    return ax


def figure_2d_in_3d_and_3d(poses2d: list[np.ndarray], poses3d: list[np.ndarray], labels: list[str] | None = None,
                           title: str | None = None):
    """The figure infer.py saves for a photo: everyone's 2D input flat at depth 0 (left) beside their upright
    3D poses (right), each person labelled above their head when labels are given.

    poses3d in camera space, placed where each person stands, so that a group keeps its layout.
    """
    fig = plt.figure(figsize=(12, 6.2))
    flat, upright = _add_3d_axes(fig, 1, 2, 1), _add_3d_axes(fig, 1, 2, 2)
    for k, (pose2d, pose3d) in enumerate(zip(poses2d, poses3d)):
        plot_3d(pose2d, ax=flat, mode="flat", title="2D input, drawn flat at depth 0 (2D-in-3D)")
        plot_3d(pose3d, ax=upright, mode="upright", title="3D pose, camera space (mm)")
        if labels is not None:
            _label_above(flat, _camera_to_plot(np.column_stack([np.asarray(pose2d)[:, :2], np.zeros(len(pose2d))])),
                         labels[k])
            _label_above(upright, _camera_to_plot(np.asarray(pose3d)), labels[k])
    if title is not None:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.95 if title is not None else 1))  # room for the title
    return fig


def _label_above(ax, points: np.ndarray, label: str) -> None:
    """A person's label just above their highest plotted point (plot space: Z up)."""
    top = points[np.argmax(points[:, 2])]
    ax.text(top[0], top[1], top[2] + 0.08 * np.ptp(points[:, 2]), label, fontsize=9, ha="center")


def figure_people_3d(poses3d: list[np.ndarray], titles: list[str], title: str | None = None):
    """Several people's upright (28, 3) mm poses, one 3D panel each, side by side (at most 4 to a row)."""
    columns = min(len(poses3d), 4)
    rows = -(-len(poses3d) // columns)
    fig = plt.figure(figsize=(4.5 * columns, 4.8 * rows + 0.6))
    for i, (pose, panel_title) in enumerate(zip(poses3d, titles)):
        plot_3d(pose, ax=_add_3d_axes(fig, rows, columns, i + 1), mode="upright", title=panel_title)
    if title is not None:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if title is not None else 1))
    return fig


# ---------------------------------------------------------------------------
# Saving and showing
# ---------------------------------------------------------------------------
def save_pose_grid(poses: list[np.ndarray], titles: list[str], title: str, path: str | os.PathLike) -> Path:
    """Up to 25 upright (28, 3) poses in a 5 x 5 grid of 3D panels, written to path."""
    fig = plt.figure(figsize=(20, 20))
    for k, (pose, name) in enumerate(zip(poses, titles)):
        ax = fig.add_subplot(5, 5, k + 1, projection="3d")
        ax.view_init(elev=VIEW_ELEVATION, azim=VIEW_AZIMUTH)
        plot_3d(pose, ax=ax, mode="upright", title=name)
        ax.get_legend().remove()
    fig.suptitle(title, fontsize=16, y=0.93)
    return save_figure(fig, path)


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write fig to path (format from the suffix) atomically, then close fig."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def encode_image(path: str | os.PathLike, image: np.ndarray, name: str | os.PathLike | None = None) -> None:
    """cv2.imwrite (format from the suffix), with an OSError naming the file (name, else path) when it fails."""
    if not cv2.imwrite(str(path), image):
        raise OSError(f"{name or path}: OpenCV could not write the image")


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """An image file written atomically."""
    with atomic_path(path) as tmp:
        encode_image(tmp, image, path)


def display_available() -> bool:
    """Whether figure windows can open: an interactive backend and, on Linux and BSD, an X11/Wayland display."""
    if matplotlib.get_backend().lower() in _NON_INTERACTIVE_BACKENDS:
        return False
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_or_close(fig, show: bool) -> None:
    """Show fig in a window (blocking) when show is set and a display exists; close it in any case."""
    if show and display_available():
        plt.show()
    elif show:
        print("note: no display available, not opening a figure window", file=sys.stderr)
    plt.close(fig)
