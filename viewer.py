"""The interactive 3D view of a result: one self-contained HTML page (2D-in-3D beside the upright 3D).

    write_view("photo_view.html", [[ViewPerson(...)]], fps=30.0, about="lifted by ...")

The page opens from disk with no network and no server: viewer.js (plain JavaScript on a canvas) and the
data are inlined. The mouse turns (drag) and zooms (wheel) one scene; a sequence has play, pause, a
frame slider with the frames without a person marked, and the arrow keys. People are drawn where the
pelvis solve placed them (camera space, mm), with the camera at the origin, a floor grid under them and
each pelvis's path on it; unseen joints are hollow with dotted bones, the person's left blue and right
red as in the PNG; hovering a joint names it and gives its millimetres.

The data is compact: per person and frame, the 28 joints' pixels (0.01 px, int32), visibility (0.001,
uint16), root-relative mm (0.1 mm, int16) and the placed pelvis (0.1 mm, int32), base64-encoded; the
values round-trip exactly to infer.py's JSON records, which round them the same way.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import skeleton_utils as sk

VIEWER_SCRIPT = Path(__file__).with_name("viewer.js")
# Quantisation steps: those of infer_outputs.joints_record's rounding, so the page holds what the JSON holds.
PIXEL_STEP, VISIBILITY_STEP, MM_STEP = 0.01, 0.001, 0.1
ARRAYS = {"frame": "int32", "id": "int32", "pixel": "int32", "visibility": "uint16", "mm": "int16",
          "pelvis": "int32", "placed": "uint8", "truth": "uint8"}


@dataclass
class ViewPerson:
    """One person in one frame: (28, 3) pixels + visibility, (28, 3) root-relative mm, the pelvis in camera
    space (3,) mm or None where it was not placed, and the track id (the hover text names it)."""

    joints2d: np.ndarray
    joints3d: np.ndarray
    pelvis_mm: np.ndarray | None = None
    id: int = 0
    truth: bool = False  # a ground-truth pose beside a prediction (visualize_eval.py --html): drawn grey, 3D only


def from_record(record: dict) -> ViewPerson:
    """A person of one of infer.py's JSON records (a video's frame, a --keypoints line's person), from its own
    rounded values: "joints" (pixel, visibility, mm), "pelvis_camera_mm" where placed, "id" where tracked."""
    joints = record["joints"]
    return ViewPerson(np.array([j["pixel"] + [j["visibility"]] for j in joints]), np.array([j["mm"] for j in joints]),
                      np.array(record["pelvis_camera_mm"]) if "pelvis_camera_mm" in record else None,
                      record.get("id", 0))


def encode(frames: list[list[ViewPerson]]) -> dict[str, dict[str, str]]:
    """The people of every frame as base64 little-endian arrays (see ARRAYS), one entry per person and frame."""
    rows = [(f, person) for f, people in enumerate(frames) for person in people]
    values = {
        "frame": [f for f, _ in rows], "id": [p.id for _, p in rows],
        "pixel": [np.round(np.asarray(p.joints2d)[:, :2] / PIXEL_STEP) for _, p in rows],
        "visibility": [np.round(np.asarray(p.joints2d)[:, 2] / VISIBILITY_STEP) for _, p in rows],
        "mm": [np.round(np.asarray(p.joints3d) / MM_STEP) for _, p in rows],
        "pelvis": [np.round(np.zeros(3) if p.pelvis_mm is None else np.asarray(p.pelvis_mm) / MM_STEP) for _, p in rows],
        "placed": [p.pelvis_mm is not None for _, p in rows],
        "truth": [p.truth for _, p in rows],
    }
    out = {}
    for name, dtype in ARRAYS.items():
        array = np.asarray(values[name], dtype=np.float64) if rows else np.zeros(0)
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise ValueError(f"the view cannot hold {name} values beyond {info.min * _step(name)} .. "
                             f"{info.max * _step(name)} (a root-relative pose of more than 3.2 m?)")
        out[name] = {"dtype": dtype, "b64": base64.b64encode(array.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
                     .decode("ascii")}
    return out


def _step(name: str) -> float:
    return {"pixel": PIXEL_STEP, "visibility": VISIBILITY_STEP, "mm": MM_STEP, "pelvis": MM_STEP}.get(name, 1)


def decode(arrays: dict[str, dict[str, str]], frames: int) -> list[list[ViewPerson]]:
    """encode()'s inverse, as the page reads it (for tests and tools)."""
    raw = {name: np.frombuffer(base64.b64decode(entry["b64"]), dtype=np.dtype(entry["dtype"]).newbyteorder("<"))
           for name, entry in arrays.items()}
    count = len(raw["frame"])
    pixel = raw["pixel"].reshape(count, sk.NUM_JOINTS, 2) * PIXEL_STEP
    visibility = raw["visibility"].reshape(count, sk.NUM_JOINTS, 1) * VISIBILITY_STEP
    mm = raw["mm"].reshape(count, sk.NUM_JOINTS, 3) * MM_STEP
    pelvis = raw["pelvis"].reshape(count, 3) * MM_STEP
    out: list[list[ViewPerson]] = [[] for _ in range(frames)]
    for k in range(count):
        out[int(raw["frame"][k])].append(ViewPerson(np.concatenate([pixel[k], visibility[k]], -1), mm[k],
                                                    pelvis[k] if raw["placed"][k] else None, int(raw["id"][k]),
                                                    bool(raw["truth"][k])))
    return out


def page(frames: list[list[ViewPerson]], fps: float, title: str, about: str) -> str:
    """The whole HTML page: layout, the data as window.POSE_DATA, and viewer.js inlined."""
    data = {"frames": len(frames), "fps": round(float(fps), 3), "joint_names": list(sk.JOINT_NAMES),
            "parents": list(sk.PARENTS), "arrays": encode(frames)}
    script = VIEWER_SCRIPT.read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ margin: 0; font: 14px sans-serif; color: #303030; background: #ffffff; }}
#view {{ width: 100vw; height: calc(100vh - 92px); display: block; cursor: grab; }}
#controls {{ padding: 4px 10px; }} #frame {{ width: 70%; vertical-align: middle; }}
#marks {{ width: 70%; height: 6px; display: block; margin-left: 58px; }}
#tip {{ position: fixed; display: none; background: #ffffe8; border: 1px solid #999; padding: 2px 5px; }}
footer {{ padding: 2px 10px; color: #707070; font-size: 12px; }}
</style></head>
<body>
<canvas id="view"></canvas>
<div id="controls"><button id="play">play</button> <input id="frame" type="range" min="0" value="0" step="1">
<span id="label"></span><canvas id="marks"></canvas></div>
<div id="tip"></div>
<footer>{html.escape(about)}. Drag to turn, wheel to zoom; arrow keys step frames, space plays.</footer>
<script>window.POSE_DATA = {json.dumps(data, separators=(",", ":"))};</script>
<script>{script}</script>
</body></html>
"""


def embedded_data(text: str) -> dict:
    """The window.POSE_DATA of a page that page() wrote."""
    start = text.index("window.POSE_DATA = ") + len("window.POSE_DATA = ")
    return json.loads(text[start:text.index(";</script>", start)])
