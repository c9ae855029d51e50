"""Pictures and clips composed from a real photo of a person: copies of it, scaled and placed on a plain
background, where everyone's place is known (the people finder's tests, benchmark.py --video).

    picture, boxes = group_picture(photo, 1280, 720, [(300, 360, 400), (900, 300, 250)])
    frames, boxes = walking_clip(photo, people=2, frames=60, width=960, height=540)
    frames, boxes = crossing_clip(photo, frames=40, width=960, height=540)

A placement is (centre x, centre y, height) in pixels; a box is the pasted photo's (x0, y0, x1, y1).
"""
from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_BGR = (118, 124, 130)  # a plain, mid-grey wall: no texture for a detector to see people in


def background(width: int, height: int) -> np.ndarray:
    """A plain wall, a little lighter at the top, as rooms are."""
    shade = np.linspace(1.1, 0.9, height)[:, None, None]
    return np.clip(np.broadcast_to(np.array(BACKGROUND_BGR, float) * shade, (height, width, 3)), 0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, photo: np.ndarray, cx: float, cy: float, height: float) -> np.ndarray:
    """The photo scaled to this height and pasted centred at (cx, cy) in place, cut at the canvas's edges;
    returns its box (x0, y0, x1, y1) in the canvas (before the cut)."""
    width = height * photo.shape[1] / photo.shape[0]
    scaled = cv2.resize(photo, (max(1, round(width)), max(1, round(height))), interpolation=cv2.INTER_AREA)
    x0, y0 = round(cx - scaled.shape[1] / 2), round(cy - scaled.shape[0] / 2)
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + scaled.shape[1], canvas.shape[1]), min(y0 + scaled.shape[0], canvas.shape[0])
    if cx1 > cx0 and cy1 > cy0:
        canvas[cy0:cy1, cx0:cx1] = scaled[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    return np.array([x0, y0, x0 + scaled.shape[1], y0 + scaled.shape[0]], dtype=float)


def group_picture(photo: np.ndarray, width: int, height: int,
                  placements: list[tuple[float, float, float]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A picture of copies of the photo at the placements (pasted in order: later ones in front), and their boxes."""
    canvas = background(width, height)
    return canvas, [paste(canvas, photo, *placement) for placement in placements]


def walking_clip(photo: np.ndarray, people: int, frames: int, width: int, height: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Frames of `people` copies of the photo walking to and fro on a wall, each in a column of its own (every
    other one the other way), as large as the column allows. Returns the frames and each frame's boxes, by person."""
    column = width / people
    size = min(0.7 * height, 0.8 * column * photo.shape[0] / photo.shape[1])
    reach = 0.1 * column
    return _clip(photo, frames, width, height,
                 [((k + 0.5) * column - reach * (-1) ** k, (k + 0.5) * column + reach * (-1) ** k, height / 2, size)
                  for k in range(people)])


def crossing_clip(photo: np.ndarray, frames: int, width: int, height: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Two copies of the photo crossing paths: the nearer (larger, lower) walks right and passes in front of the
    farther (smaller, higher), who walks left. Returns the frames and each frame's boxes (nearer first)."""
    return _clip(photo, frames, width, height, [(0.2 * width, 0.8 * width, 0.7 * height, 0.58 * height),
                                                (0.8 * width, 0.2 * width, 0.27 * height, 0.45 * height)])


def _clip(photo: np.ndarray, frames: int, width: int, height: int,
          lanes: list[tuple[float, float, float, float]]) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Copies of the photo moving at constant speed along lanes (x from, x to, y, height), the larger in front."""
    order = sorted(range(len(lanes)), key=lambda k: lanes[k][3])
    clip, boxes = [], []
    for f in range(frames):
        s = f / max(1, frames - 1)
        canvas = background(width, height)
        placed = {k: paste(canvas, photo, lanes[k][0] + s * (lanes[k][1] - lanes[k][0]), lanes[k][2], lanes[k][3])
                  for k in order}
        clip.append(canvas)
        boxes.append([placed[k] for k in range(len(lanes))])
    return clip, boxes
