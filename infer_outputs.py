"""infer.py's inputs and outputs: input kinds, output names, the JSON records, images read, BVH files written.

What each input writes is listed in infer.py's docstring; every file is written atomically (atomic.py).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

import camera
import skeleton_utils as sk
from atomic import remove_stale_temporaries
from infer_lifting import LiftedPerson

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class InputFailed(Exception):
    """One input could not be processed (no person, unreadable file); the batch goes on without it."""


# ---------------------------------------------------------------------------
# Inputs and output names
# ---------------------------------------------------------------------------
def media_kind(path: Path) -> str | None:
    """'image', 'video' or None (unsupported), from the file suffix."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


# What each input writes: its file stem followed by these endings.
OUTPUT_ENDINGS = {
    "image": {"overlay": "_overlay_coco17.jpg", "figure": "_pose3d.png", "json": "_pose.json", "view": "_view.html"},
    "video": {"video": "_annotated.mp4", "jsonl": "_joints.jsonl", "view": "_view.html"},
    # --keypoints: STEM is the keypoint file's or folder's; the overlays are named after each frame's image.
    "keypoints": {"jsonl": "_people.jsonl", "figure": "_people3d.png", "view": "_view.html",
                  "overlay": "_overlay_people.jpg"},
}


def is_own_output(path: Path) -> bool:
    """Whether a file looks like one infer.py wrote (e.g. when --out is the input folder)."""
    return any(path.name.endswith(ending) for endings in OUTPUT_ENDINGS.values() for ending in endings.values())


@contextmanager
def output_folder(name: str) -> Iterator[Path]:
    """--out, created when missing, for the length of a run: temporaries that killed runs left there are
    removed first, and a folder the run created is removed again if the run leaves it empty."""
    out_dir = Path(name)
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SystemExit(f"error: --out {out_dir}: cannot create the output folder ({err.strerror}).") from err
    remove_stale_temporaries(out_dir)
    try:
        yield out_dir
    finally:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()


class OutputSet:
    """The files one input owns in --out: its STEM_* outputs, STEM.bvh, and what patterns match (e.g.
    STEM_person*.bvh).

    Without --force a run refuses to start while any of them exists (existing()). With --force they are
    replaced as a set (replaced()): once the run has written any of them, the rest, an older run's
    STEM.bvh or STEM_person3.bvh, are removed, so nothing of an older run is left looking current.
    """

    def __init__(self, paths: list[Path], folder: Path, patterns: tuple[str, ...] = ()):
        self.paths, self.folder, self.patterns = list(paths), folder, patterns

    def existing(self) -> list[Path]:
        found = [p for p in self.paths if p.exists()]
        return found + [p for pattern in self.patterns for p in sorted(self.folder.glob(pattern)) if p not in found]

    @contextmanager
    def replaced(self) -> Iterator[None]:
        before = {p: _stamp(p) for p in self.existing()}
        try:
            yield
        finally:
            now = self.existing()
            written = [p for p in now if _stamp(p) != before.get(p)]
            for path in now if written else ():
                if path not in written:
                    path.unlink(missing_ok=True)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced (atomic.py renames a new file over it)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


# With --bvh, each person's file: the input's STEM, then this (photos, videos, the camera and --keypoints alike).
PERSON_BVH_ENDING = "_person{id}.bvh"


def person_bvh_path(out_dir: Path, stem: str, person_id: int) -> Path:
    return out_dir / f"{stem}{PERSON_BVH_ENDING.format(id=person_id)}"


def media_outputs(stem: str, kind: str, out_dir: Path) -> OutputSet:
    """What an image or video (or the camera) of this stem owns in out_dir: its files and its people's BVH
    (and STEM.bvh, the name earlier versions gave a single person's)."""
    return OutputSet([*output_paths(stem, kind, out_dir).values(), out_dir / f"{stem}.bvh"], out_dir,
                     (f"{stem}{PERSON_BVH_ENDING.format(id='*')}",))


def refuse_existing(outputs: list[tuple[str, OutputSet]], force: bool) -> None:
    """Before any work: a SystemExit naming the first output an earlier run left, unless --force."""
    if force:
        return
    for name, owned in outputs:
        existing = owned.existing()
        if existing:
            raise SystemExit(f"error: {existing[0]} already exists, from an earlier run on {name}; pass --force to "
                             f"replace that run's outputs, or choose another --out.")


def output_paths(stem: str, kind: str, out_dir: Path) -> dict[str, Path]:
    """Where the outputs of one input go (see infer.py's docstring)."""
    return {key: out_dir / f"{stem}{ending}" for key, ending in OUTPUT_ENDINGS[kind].items()}


# ---------------------------------------------------------------------------
# JSON records
# ---------------------------------------------------------------------------
COORDINATES = {
    "pixel": "image pixels: u right, v down, origin at the top-left corner of the image",
    "mm": "millimetres in camera space relative to the pelvis: x right, y down, z away from the camera",
    "world_mm": "MediaPipe's own metric 3D (pose_world_landmarks) in millimetres: origin midway between "
                "the hips, x right, y down, z away from the camera",
    "visibility": "landmarks: MediaPipe's probability that the landmark is visible; joints: what the model "
                  "was given, 1 seen, 0 not seen (MediaPipe visibility below 0.5), a fraction for a joint "
                  "placed between seen and unseen landmarks",
    **camera.PLACEMENT_COORDINATES,
}



def rounded(values: np.ndarray, decimals: int) -> list:
    """The values as nested lists of floats with this many decimals, for JSON."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


def joints_record(joints2d: np.ndarray, joints3d: np.ndarray) -> list[dict]:
    """The model's 28 joints by name: input pixels and visibility, output mm."""
    # Each array rounded once, not per joint: a video builds this for every frame.
    pixel, visibility, mm = rounded(joints2d[:, :2], 2), rounded(joints2d[:, 2], 3), rounded(joints3d, 1)
    return [{"name": name, "pixel": pixel[j], "visibility": visibility[j], "mm": mm[j]}
            for j, name in enumerate(sk.JOINT_NAMES)]


def view_about(source, weights, how: str = "") -> str:
    """The 3D view's line on what made it: the input, the weights and how they lifted it."""
    return f"{source}: lifted by {Path(str(weights)).name}{how}, infer.py"


def to_json(obj) -> str:
    """Compact JSON; a NaN or infinity is an error rather than invalid JSON."""
    return json.dumps(obj, allow_nan=False)


def to_readable_json(record: dict) -> str:
    """JSON with a line per key of an object and per element of a list of objects, down to the objects that hold
    no list of objects, which take a line each (a photo's record: a line per key, per person's key, per joint)."""
    return _readable(record, 0) + "\n"


def _holds_objects(value) -> bool:
    """Whether a value is, or directly holds, a non-empty list of objects."""
    values = value.values() if isinstance(value, dict) else [value]
    return any(isinstance(v, list) and v and isinstance(v[0], dict) for v in values)


def _readable(value, depth: int) -> str:
    inner = " " * (depth + 1)
    if isinstance(value, dict) and _holds_objects(value):
        items = [f"{inner}{to_json(k)}: {_readable(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and _holds_objects(value):
        return "[\n" + ",\n".join(inner + _readable(v, depth + 1) for v in value) + "\n" + " " * depth + "]"
    return to_json(value)


def pose_record(person: LiftedPerson) -> dict:
    """The joints of one person MediaPipe found, JSON-ready: the model's 28 joints and MediaPipe's 33 landmarks, by name."""
    joints = joints_record(person.joints2d, person.joints3d)
    pixel, visibility, world_mm = (rounded(person.keypoints[:, :2], 2), rounded(person.keypoints[:, 2], 3),
                                   rounded(person.world_mm, 1))
    landmarks = [{"name": name, "pixel": pixel[m], "visibility": visibility[m], "world_mm": world_mm[m]}
                 for m, name in enumerate(sk.MEDIAPIPE_LANDMARKS)]
    return {**person.placement(), "joints": joints, "mediapipe_landmarks": landmarks}


def people_records(people: list[LiftedPerson]) -> list[dict]:
    """Everyone MediaPipe found in one image or frame, in one schema: id, box (pixels: x0, y0, x1, y1 around the
    seen landmarks), the placement, the model's 28 joints and MediaPipe's 33 landmarks."""
    return [{"id": person.id, "box": rounded(person.box, 1), **pose_record(person)} for person in people]


def coco17_keypoints(landmarks_px: np.ndarray) -> np.ndarray:
    """MediaPipe's own 17 COCO keypoints of its (33, 3) landmarks, (17, 3) pixels + visibility."""
    return landmarks_px[list(sk.MEDIAPIPE_TO_COCO17)]


# ---------------------------------------------------------------------------
# Files read and written
# ---------------------------------------------------------------------------
def read_image(path: Path) -> np.ndarray:
    """A BGR image (EXIF orientation applied; grey, 16-bit and alpha images converted)."""
    # imdecode rather than imread: it reads paths with any characters and prints no warnings of its own.
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise InputFailed(f"{path}: cannot read the file ({err.strerror}).") from err
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputFailed(f"{path}: cannot read the image; the file is empty, corrupt or not a {path.suffix} image.")
    return image
