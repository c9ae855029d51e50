"""The 2D keypoints of other detectors, read from their files, and people followed from frame to frame.

Formats, recognised from the content (never the file name):
    openpose  a folder of per-frame *_keypoints.json files, or one of them: {"people": [{"pose_keypoints_2d":
              [x, y, c] * K}, ...]}, K = 25 (BODY_25) or 18 (COCO-18)
    coco      COCO keypoint results: [{"image_id", "keypoints": [x, y, v] * 17, "score"}, ...], with an optional
              COCO annotation file for image names and sizes; or an annotation file itself
              ({"images", "annotations"}, a labelled data set)
    mmpose    MMPose inferencer predictions: {"predictions": [[instance, ...] per frame]}, a video's
              [{"frame_id", "instances": [...]}, ...], the demo scripts' {"instance_info": [...]}, or one image's
              [instance, ...] (a folder of those: one per frame); instance = {"keypoints": [[x, y]] * K,
              "keypoint_scores": [s] * K}
The layout of a person's keypoints follows from their number (skeleton_utils.LAYOUTS_BY_COUNT).

A sequence goes on past a frame that cannot be read (not JSON, a wrong shape, a wrong keypoint count,
NaN coordinates): the frame keeps its place with no people, and its problem is listed. Only a file or
folder that yields no person at all is refused.

Tracking (PoseTracker): each frame's people are matched to the tracks of earlier frames by the
Hungarian algorithm on the mean distance between their seen joints, in units of the pose's size,
after moving each track on at its last speed (a detector that follows people itself, as infer.py's
MediaPipe path does, passes its own labels as hints, which continue a track first). Its limits: there is no appearance model, so two people
who overlap completely and change direction while hidden can swap ids; a person missed for more than
TRACK_MAX_MISSED frames, or one who moves more than TRACK_GATE pose sizes between frames (a low frame
rate, a fast jump), gets a new id; ids are never reused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

import camera
import skeleton_utils as sk

FORMATS = {
    "openpose": "OpenPose: a folder of *_keypoints.json files ({\"people\": [{\"pose_keypoints_2d\": [...]}]})",
    "coco": "COCO keypoint results ([{\"image_id\", \"keypoints\", \"score\"}, ...]) or a COCO annotation file",
    "mmpose": "MMPose inferencer predictions (instances with \"keypoints\" and \"keypoint_scores\")",
}
# Largest mean joint distance, in pose sizes, at which a person still continues a track.
TRACK_GATE = 0.5
# Frames a track waits for its person to come back before it ends.
TRACK_MAX_MISSED = 15
# Fewest joints seen in both poses for a distance between them to mean anything.
MIN_SHARED_JOINTS = 3


class KeypointError(ValueError):
    """Keypoints that cannot be read at all; the message names the file and what to give instead."""


@dataclass
class Frame:
    """One frame: its label (an image name where the format has one) and its people's (K, 3) keypoints."""

    name: str
    people: list[np.ndarray] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    image_size: tuple[int, int] | None = None  # width, height
    image_id: int | str | None = None


@dataclass
class KeypointSequence:
    path: Path
    format: str
    layout: sk.KeypointLayout
    frames: list[Frame]

    @property
    def problems(self) -> list[str]:
        return [problem for frame in self.frames for problem in frame.problems]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def read_keypoints(path: str | Path, annotations: str | Path | None = None,
                   image_size: tuple[int, int] | None = None) -> KeypointSequence:
    """The frames of a keypoint file or folder, their keypoints checked and in pixels.

    annotations: a COCO annotation file naming the images (and sizes) of a COCO results file.
    image_size: (width, height) of frames whose format does not say; needed only for normalised coordinates.
    """
    path = Path(path)
    if path.is_dir():
        fmt, frames = _read_folder(path)
    elif path.is_file():
        fmt, frames = _read_file(path, annotations)
    else:
        raise KeypointError(f"{path}: no such file or folder.")
    if annotations is not None and fmt != "coco":
        raise KeypointError(f"--annotations {annotations}: a COCO annotation file names the images of COCO keypoint "
                            f"results, but {path} holds {fmt} keypoints.")
    layout = _check_layout(path, frames)
    for frame in frames:
        frame.image_size = frame.image_size or image_size
    _to_pixels(path, frames)
    return KeypointSequence(path, fmt, layout, frames)


def _where(path: Path, frame: Frame) -> str:
    return str(path) if frame.name == path.name else f"{path}, frame {frame.name}"


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KeypointError(f"{path}: not a JSON file ({err}).") from err
    except OSError as err:
        raise KeypointError(f"{path}: cannot read it ({err.strerror}).") from err


def _describe(data) -> str:
    """What a JSON value is, in a few words, for an error message."""
    if isinstance(data, dict):
        return f"a JSON object with the keys {sorted(data)[:8]}"
    if isinstance(data, list):
        if not data:
            return "an empty JSON list"
        first = data[0]
        what = f"objects (the first with the keys {sorted(first)[:8]})" if isinstance(first, dict) else type(first).__name__ + "s"
        return f"a JSON list of {len(data)} {what}"
    return f"a JSON {type(data).__name__}"


def _unknown(path: Path, data) -> KeypointError:
    known = "\n  ".join(FORMATS.values())
    return KeypointError(f"{path}: not a keypoint format this reads; found {_describe(data)}. The formats read are:\n  {known}")


def _is_instance(item) -> bool:
    return isinstance(item, dict) and "keypoints" in item and "keypoint_scores" in item


FORMAT_NAMES = {"coco": "COCO keypoint results", "coco-annotations": "COCO annotation", "mmpose": "MMPose predictions",
                "openpose": "OpenPose", "mmpose-frame": "MMPose frame"}


def _format_of(data) -> str | None:
    """'openpose', 'coco', 'coco-annotations', 'mmpose', 'mmpose-frame' (one image's instances) or None."""
    if isinstance(data, dict):
        if "people" in data:
            return "openpose"
        if "annotations" in data and "images" in data:
            return "coco-annotations"
        if "predictions" in data or "instance_info" in data:
            return "mmpose"
        return None
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        return None
    if all("image_id" in item and "keypoints" in item for item in data):
        return "coco"
    if all("instances" in item for item in data):
        return "mmpose"
    if all(_is_instance(item) for item in data):
        return "mmpose-frame"
    return None


def _read_file(path: Path, annotations: str | Path | None) -> tuple[str, list[Frame]]:
    data = _load_json(path)
    fmt = _format_of(data)
    if fmt == "openpose":
        return "openpose", [_openpose_frame(path, path.name, data)]
    if fmt == "mmpose-frame":
        return "mmpose", [_mmpose_frame(path, path.name, data)]
    if fmt == "mmpose":
        return "mmpose", _mmpose_frames(path, data)
    if fmt == "coco":
        return "coco", _coco_frames(path, data, None if annotations is None else Path(annotations))
    if fmt == "coco-annotations":
        if annotations is not None:
            raise KeypointError(f"{path} is itself a COCO annotation file; give --annotations only with a results file.")
        # Entries with no labelled keypoint (crowds, people too small to label) are not people to lift.
        labelled = [a for a in data["annotations"] if isinstance(a, dict) and a.get("num_keypoints", 1) > 0]
        return "coco", _coco_frames(path, labelled, path, data)
    raise _unknown(path, data)


def _read_folder(folder: Path) -> tuple[str, list[Frame]]:
    """Per-frame files, in name order: OpenPose's *_keypoints.json, or MMPose's one file per image."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise KeypointError(f"{folder}: the folder holds no .json files; give a folder of OpenPose *_keypoints.json "
                            f"files, or a single keypoint file.")
    frames, formats = [], set()
    for file in files:
        name = file.name[: -len("_keypoints.json")] if file.name.endswith("_keypoints.json") else file.stem
        try:
            data = _load_json(file)
            fmt = _format_of(data)
            if fmt == "openpose":
                frames.append(_openpose_frame(file, name, data))
            elif fmt == "mmpose-frame":
                frames.append(_mmpose_frame(file, name, data))
            elif fmt is not None:  # a whole sequence's file (COCO, MMPose predictions) among per-frame files
                raise KeypointError(f"{file}: a {FORMAT_NAMES[fmt]} file, which holds a whole sequence, in a folder "
                                    f"of per-frame files: the folder mixes formats. Give it alone (--keypoints {file}).")
            else:
                raise _unknown(file, data)
            formats.add("openpose" if fmt == "openpose" else "mmpose")
        except KeypointError as err:
            frames.append(Frame(name, problems=[str(err)]))
    if len(formats) > 1:
        raise KeypointError(f"{folder}: the folder mixes OpenPose and MMPose files; keep one detector's files per folder.")
    if not formats:
        raise KeypointError(f"{folder}: no file in the folder is a keypoint file:\n  " + "\n  ".join(
            problem for frame in frames for problem in frame.problems))
    return formats.pop(), frames


def _person(values, where: str, frame: Frame) -> np.ndarray | None:
    """(K, 3) x, y, confidence from a flat [x, y, c] * K list, or None with the problem noted in the frame."""
    try:
        flat = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        frame.problems.append(f"{where}: the keypoints are not a list of numbers")
        return None
    counts = sorted(sk.LAYOUTS_BY_COUNT)
    if flat.ndim != 1 or len(flat) % 3 or len(flat) // 3 not in sk.LAYOUTS_BY_COUNT:
        frame.problems.append(f"{where}: {flat.size} keypoint values; expected [x, y, confidence] for "
                              f"{', '.join(map(str, counts))} keypoints ({', '.join(str(3 * n) for n in counts)} values)")
        return None
    keypoints = flat.reshape(-1, 3)
    if not np.isfinite(keypoints).all():
        bad = int(np.flatnonzero(~np.isfinite(keypoints).all(1))[0])
        frame.problems.append(f"{where}: keypoint {bad} has a NaN or infinite value; the person is skipped")
        return None
    if not (keypoints[:, 2] > 0).any():
        frame.problems.append(f"{where}: every keypoint has confidence 0; the person is skipped")
        return None
    return keypoints


def _add_people(frame: Frame, people, where: str, to_flat) -> None:
    for i, person in enumerate(people):
        try:
            values = to_flat(person)
        except (KeyError, TypeError, ValueError) as err:
            frame.problems.append(f"{where}, person {i}: not a keypoint record ({type(err).__name__}: {err})")
            continue
        keypoints = _person(values, f"{where}, person {i}", frame)
        if keypoints is not None:
            frame.people.append(keypoints)


def _openpose_frame(path: Path, name: str, data: dict) -> Frame:
    frame = Frame(name)
    if not isinstance(data["people"], list):
        frame.problems.append(f"{path}: 'people' is {_describe(data['people'])}, not a list")
        return frame
    _add_people(frame, data["people"], str(path), lambda person: person["pose_keypoints_2d"])
    return frame


def _mmpose_flat(instance: dict) -> np.ndarray:
    """MMPose's (K, 2) keypoints and (K,) scores as a flat [x, y, score] * K array."""
    xy, scores = np.asarray(instance["keypoints"], dtype=np.float64), np.asarray(instance["keypoint_scores"], dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or scores.shape != (len(xy),):
        raise ValueError(f"keypoints of shape {xy.shape} with scores of shape {scores.shape}, expected (K, 2) and (K,)")
    return np.column_stack([xy, scores]).ravel()


def _mmpose_frame(path: Path, name: str, instances, where: str | None = None) -> Frame:
    frame = Frame(name)
    if not isinstance(instances, list):
        frame.problems.append(f"{where or path}: the instances are {_describe(instances)}, not a list")
        return frame
    _add_people(frame, instances, where or str(path), _mmpose_flat)
    return frame


def _mmpose_frames(path: Path, data) -> list[Frame]:
    """The frames of a whole MMPose predictions file (a video, or the inferencer's returned dict)."""
    if isinstance(data, dict):
        data = data.get("predictions", data.get("instance_info"))
        if not isinstance(data, list):
            raise KeypointError(f"{path}: 'predictions' is {_describe(data)}, expected a list of frames.")
    frames = []
    for index, item in enumerate(data):
        is_video_frame = isinstance(item, dict) and "instances" in item
        label = str(item.get("frame_id", index)) if is_video_frame else str(index)
        instances = item["instances"] if is_video_frame else item
        frames.append(_mmpose_frame(path, label, instances, f"{path}, frame {label}"))
    return frames


def _coco_frames(path: Path, results: list, annotations: Path | None, annotation_data: dict | None = None) -> list[Frame]:
    """One frame per image: the annotation file's images in its order, else the results' image ids sorted."""
    if annotations is not None and annotation_data is None:
        annotation_data = _load_json(annotations)
        if _format_of(annotation_data) != "coco-annotations":
            raise KeypointError(f"--annotations {annotations}: not a COCO annotation file (with 'images' and "
                                f"'annotations'); found {_describe(annotation_data)}.")
    frames: dict = {}
    for image in (annotation_data or {}).get("images", []):
        try:
            frames[image["id"]] = Frame(str(image.get("file_name", image["id"])), image_id=image["id"],
                                        image_size=(int(image["width"]), int(image["height"])) if "width" in image else None)
        except (KeyError, TypeError, ValueError) as err:
            raise KeypointError(f"{annotations or path}: an image entry without a usable 'id', 'width' or "
                                f"'height' ({image!r:.80}).") from err
    named = bool(frames)
    unknown = set()
    if not named:  # no annotation file: the results' image ids, numbers in numeric order
        for image_id in sorted({r["image_id"] for r in results}, key=lambda i: (isinstance(i, str), i)):
            frames[image_id] = Frame(str(image_id), image_id=image_id)
    for i, result in enumerate(results):
        frame = frames.get(result.get("image_id"))
        if frame is None:
            unknown.add(result.get("image_id"))
            continue
        _add_people(frame, [result], f"{path}, image {frame.name} (entry {i})", lambda r: r["keypoints"])
    ordered = list(frames.values())
    if unknown and ordered:
        ordered[0].problems.append(f"{path}: {len(unknown)} image ids are not in {annotations}, e.g. "
                                   f"{sorted(map(str, unknown))[:3]}; their keypoints are skipped")
    return ordered


def _check_layout(path: Path, frames: list[Frame]) -> sk.KeypointLayout:
    """The one layout of the sequence (that of its first person); people of another are dropped with a note."""
    first = next((person for frame in frames for person in frame.people), None)
    if first is None:
        problems = [p for frame in frames for p in frame.problems]
        raise KeypointError(f"{path}: no person in any frame, nothing to lift"
                            + (":\n  " + "\n  ".join(problems[:10]) if problems else "."))
    layout = sk.LAYOUTS_BY_COUNT[len(first)]
    for frame in frames:
        kept = [person for person in frame.people if len(person) == len(first)]
        if len(kept) < len(frame.people):
            frame.problems.append(f"{_where(path, frame)}: {len(frame.people) - len(kept)} people have another "
                                  f"keypoint count than the {layout.name} layout of the first; they are skipped")
        frame.people = kept
    return layout


def _to_pixels(path: Path, frames: list[Frame]) -> None:
    """Scale normalised coordinates (all within [0, 1], as OpenPose's --keypoint_scale 3 writes) to pixels."""
    found = np.concatenate([person[person[:, 2] > 0, :2] for frame in frames for person in frame.people])
    if found.min() < 0 or found.max() > 1:
        return
    if any(frame.people and frame.image_size is None for frame in frames):
        raise KeypointError(f"{path}: the coordinates all lie within [0, 1], normalised to the image; give the "
                            f"image size with --image-size WIDTH HEIGHT to turn them into pixels.")
    for frame in frames:
        for person in frame.people:
            person[:, :2] *= frame.image_size


def match_frame_images(frames: list[Frame], images: list[Path]) -> list[Path | None]:
    """The image of each frame: by file name, stem or image id (COCO's 000000000785.jpg is id 785);
    failing all of those, by order when there are as many images as frames."""
    by_key: dict = {}
    for image in images:
        by_key.update({image.name: image, image.stem: image})
        if image.stem.isdigit():
            by_key[int(image.stem)] = image
    matched = []
    for frame in frames:
        keys = (frame.name, Path(frame.name).stem, frame.image_id, int(frame.name) if frame.name.isdigit() else None)
        matched.append(next((by_key[key] for key in keys if key is not None and key in by_key), None))
    if not any(matched) and len(images) == len(frames):
        return list(images)
    return matched


def frame_intrinsics(frames: list[Frame], images: list[Path | None],
                     focal: float | None = None) -> list[np.ndarray | None]:
    """Each frame's (4,) pinhole intrinsics (camera.image_intrinsics) for placing its people in camera space,
    from the frame's size: the COCO annotation's or --image-size, else its image file's; None where none is known."""
    intrinsics = []
    for frame, image in zip(frames, images):
        size = frame.image_size or (camera.photo_size(image) if image is not None else None)
        intrinsics.append(None if size is None else camera.image_intrinsics(size[::-1], focal, image)[0])
    return intrinsics


# ---------------------------------------------------------------------------
# Tracking
# ---------------------------------------------------------------------------
def pose_sizes(joints: np.ndarray) -> np.ndarray:
    """(N,) RMS distance of the seen joints of (N, J, 3) poses (x, y, seen) from their centre, in pixels (0: none seen)."""
    seen = joints[..., 2] > 0
    count = seen.sum(-1)
    centre = (joints[..., :2] * seen[..., None]).sum(-2) / np.maximum(count, 1)[..., None]
    spread = (((joints[..., :2] - centre[..., None, :]) ** 2).sum(-1) * seen).sum(-1) / np.maximum(count, 1)
    return np.sqrt(spread)


def pose_distances(a: np.ndarray, b: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(A, B) mean distance between the joints seen in both of each pair of (A, J, 3) and (B, J, 3) poses, in
    units of the larger pose's size; inf where fewer than MIN_SHARED_JOINTS are shared. Vectorised, a chunk of
    rows at a time, so a thousand people cost a thousand-by-thousand array, not a million Python calls."""
    out = np.empty((len(a), len(b)))
    size_a, size_b = pose_sizes(a), pose_sizes(b)
    for start in range(0, len(a), chunk):
        rows = a[start:start + chunk]
        shared = (rows[:, None, :, 2] > 0) & (b[None, :, :, 2] > 0)
        gap = np.linalg.norm(rows[:, None, :, :2] - b[None, :, :, :2], axis=-1)
        count = shared.sum(-1)
        mean = (gap * shared).sum(-1) / np.maximum(count, 1)
        scale = np.maximum(size_a[start:start + chunk, None], size_b[None, :])
        out[start:start + chunk] = np.where((count >= MIN_SHARED_JOINTS) & (scale > 0), mean / np.maximum(scale, 1e-9),
                                            np.inf)
    return out


@dataclass
class _Track:
    id: int
    joints: np.ndarray  # (J, 3) where the person was last seen
    velocity: np.ndarray  # (2,) pixels per frame of the pose as a whole
    missed: int = 0
    hint: int | None = None  # the detector's own continuity label of the person last seen (see update)

    def predicted(self) -> np.ndarray:
        moved = self.joints.copy()
        moved[:, :2] += (self.missed + 1) * self.velocity
        return moved


class PoseTracker:
    """Ids for the people of consecutive frames; see the module docstring for how, and its limits."""

    def __init__(self, gate: float = TRACK_GATE, max_missed: int = TRACK_MAX_MISSED):
        self.gate, self.max_missed = gate, max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, poses: list[np.ndarray], hints: list[int] | None = None) -> list[int]:
        """The track id of each (J, 3) pose (x, y, seen) of the next frame.

        hints: a detector's own label of each pose's person (people_finder's follower numbers each person it
        follows from frame to frame): a pose whose hint is the one a track last had continues that track,
        however far it moved; the others are matched as above.
        """
        ids = [0] * len(poses)
        hints = hints if hints is not None else [None] * len(poses)
        matched = set()
        for c, hint in enumerate(hints):
            r = next((r for r, t in enumerate(self._tracks) if hint is not None and t.hint == hint), None)
            if r is not None:
                self._continue(self._tracks[r], poses[c], hint)
                ids[c] = self._tracks[r].id
                matched.add(r)
        cost = (pose_distances(np.stack([track.predicted() for track in self._tracks]), np.stack(poses))
                if self._tracks and poses else np.zeros((0, 0)))
        cost[list(matched), :] = np.inf
        cost[:, [c for c in range(len(poses)) if ids[c]]] = np.inf
        if cost.size:
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
            for r, c in zip(rows, cols):
                if cost[r, c] <= self.gate:
                    self._continue(self._tracks[r], poses[c], hints[c])
                    ids[c] = self._tracks[r].id
                    matched.add(r)
        for r, track in enumerate(self._tracks):
            track.missed += r not in matched
        self._tracks = [track for track in self._tracks if track.missed <= self.max_missed]
        for c, pose in enumerate(poses):
            if not ids[c]:
                self._tracks.append(_Track(self._next_id, pose.copy(), np.zeros(2), hint=hints[c]))
                ids[c] = self._next_id
                self._next_id += 1
        return ids

    @staticmethod
    def _continue(track: _Track, pose: np.ndarray, hint: int | None) -> None:
        shared = (track.joints[:, 2] > 0) & (pose[:, 2] > 0)
        shift = (pose[shared, :2] - track.joints[shared, :2]).mean(0) / (track.missed + 1) if shared.any() else 0.0
        track.velocity, track.joints, track.missed, track.hint = shift + np.zeros(2), pose.copy(), 0, hint


def track_people(sequence: KeypointSequence) -> list[list[int]]:
    """The track id of every person of every frame, in the frames' order."""
    tracker = PoseTracker()
    return [tracker.update([sk.layout_detector_joints(person, sequence.layout) for person in frame.people])
            for frame in sequence.frames]
