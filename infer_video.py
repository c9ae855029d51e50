"""infer.py's videos and webcams: read, detect, lift, draw and write on overlapping threads (pipeline.py),
MediaPipe in a process of its own (detector.py); the annotated video and one JSON line per frame."""
from __future__ import annotations

import copy
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

import animation
import camera
import pipeline
import viewer
import visualize
from atomic import atomic_outputs, temporary_path
import keypoints as kp
import skeleton_utils as sk
from detector import Detection
from detector_process import DetectorFailed, DetectorProcess
from infer_lifting import (WINDOW_TOLERANCE_S, LiftedPerson, TemporalTrack, detection_input, lift_detections,
                           placed_detection)
from infer_outputs import (PERSON_BVH_ENDING, InputFailed, coco17_keypoints, output_paths, people_records,
                           person_bvh_path, to_json)
from model import Lifter, SequenceLifter
from sequences import INTERNAL_FPS
from smoothing import OneEuroFilter

# Frames per second assumed when a video or camera does not report its own.
FALLBACK_FPS = 30.0
ESCAPE_KEY = 27


@dataclass
class StreamOptions:
    max_frames: int | None
    smooth: OneEuroFilter | None
    show: bool
    focal: float | None = None
    bvh: bool = False
    input_mode: str = "mediapipe"  # the checkpoint's: how MediaPipe's landmarks become the model's input
    # The temporal model: a video file's frames offline (each waits for the frames of its window), a
    # camera's causally (past frames only, no delay); infer.py gives its traced form (export_model.
    # TracedSequenceLifter, the same encode and attend_window). None: frame by frame (--per-frame).
    temporal: SequenceLifter | None = None
    view_about: str | None = None  # the 3D view's line on what made it; None: no STEM_view.html (--no-html)
    max_people: int | None = None  # the most people lifted per frame, the largest (None: everyone found)


@dataclass
class HeldFrame:
    """A frame the temporal model has not lifted yet: what the stages after it need."""

    t: float
    frame: np.ndarray
    people: list[Detection]
    ids: list[int]
    joints2d: list[np.ndarray]
    intrinsics: np.ndarray


def open_capture(source: Path | int) -> tuple[cv2.VideoCapture, float, int | None]:
    """(capture, frames per second, frame count or None) of a video file or a camera index."""
    capture = cv2.VideoCapture(str(source) if isinstance(source, Path) else source)
    if not capture.isOpened():
        raise InputFailed(f"{source}: cannot open the video (corrupt, or a codec OpenCV lacks)." if isinstance(source, Path)
                          else f"camera {source}: cannot open it (no such camera, or another program is using it).")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if isinstance(source, Path) else 0
    return capture, fps if fps and fps > 0 else FALLBACK_FPS, count if count > 0 else None


def camera_joints(person: dict) -> np.ndarray:
    """A person record's 28 joints placed in camera space, (28, 3) mm."""
    return np.array([j["mm"] for j in person["joints"]]) + person["pelvis_camera_mm"]


def frame_record(index: int, t: float, people: list[LiftedPerson]) -> dict:
    """One JSON line: the frame and its people by track id, in infer_outputs.people_records' schema."""
    return {"frame": index, "time_s": round(t, 4), "people": people_records(people)}


def _window_wants_to_quit(window: str, image: np.ndarray) -> bool:
    cv2.imshow(window, image)
    return (cv2.waitKey(1) & 0xFF) in (ord("q"), ESCAPE_KEY)


class StreamOutputs:
    """The annotated video and the JSON lines of one stream, under temporary names until finish()."""

    def __init__(self, stem: str, out_dir: Path, fps: float, bvh: bool = False, view_about: str | None = None):
        self.stem, self.out_dir = stem, out_dir
        self.paths = output_paths(stem, "video", out_dir)
        self.motion = animation.SceneMotion() if bvh else None
        self.view_about, self.view_frames = view_about, []
        if view_about is None:
            del self.paths["view"]
        self._video_tmp, self._jsonl_tmp = temporary_path(self.paths["video"]), temporary_path(self.paths["jsonl"])
        self._fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._jsonl = self._jsonl_tmp.open("w", encoding="utf-8")
        self.frames = 0
        self.with_people = 0

    def write(self, annotated: np.ndarray, record: dict) -> None:
        if self._writer is None:  # the size is known with the first annotated frame
            height, width = annotated.shape[:2]
            # MPEG-4 part 2: the fastest encoder this OpenCV build has (3 ms per 1120x480 frame, MJPG 7.5 ms,
            # no H.264), and the file is 10 times smaller than MJPG's.
            self._writer = cv2.VideoWriter(str(self._video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), self._fps,
                                           (width, height))
            if not self._writer.isOpened():
                raise OSError(f"{self.paths['video']}: OpenCV cannot write an mp4v video here")
        self._writer.write(annotated)
        self._jsonl.write(to_json(record) + "\n")
        if self.motion is not None:
            self.motion.add({p["id"]: camera_joints(p) for p in record["people"]}, record["time_s"])
        if self.view_about is not None:
            self.view_frames.append([viewer.from_record(p) for p in record["people"]])
        self.frames += 1
        self.with_people += bool(record["people"])

    def finish(self) -> list[Path]:
        """Close both files, write the 3D view and each person's BVH, and give the files their final names."""
        self._close()
        written = []
        with atomic_outputs() as stage:
            if self.view_about is not None:
                stage(self.paths["view"]).write_text(viewer.page(self.view_frames, self._fps, self.paths["video"].name,
                                                                 self.view_about), encoding="utf-8")
            for person_id, track in sorted(self.motion.tracks.items()) if self.motion is not None else ():
                written.append(person_bvh_path(self.out_dir, self.stem, person_id))
                stage(written[-1]).write_text(track.bvh_text(), encoding="utf-8")
            os.replace(self._video_tmp, self.paths["video"])
            os.replace(self._jsonl_tmp, self.paths["jsonl"])
        return list(self.paths.values()) + written

    def discard(self) -> None:
        self._close()
        self._video_tmp.unlink(missing_ok=True)
        self._jsonl_tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        self._jsonl.close()
        if self._writer is not None:
            self._writer.release()


class StreamSteps:
    """The work on each frame of a stream, one method per pipeline stage; each runs on a thread of its own.

    Everyone the detector process finds gets a track id (keypoints.PoseTracker, as --keypoints); with the
    temporal model each id has a TemporalTrack of its own, all pushed every frame (None where the person is not
    seen), so their frames come out together, in order.
    """

    def __init__(self, detector: DetectorProcess, lifter: Lifter, options: StreamOptions, live: bool):
        self.detector, self.lifter, self.options, self.live = detector, lifter, options, live
        self.annotator = visualize.FrameAnnotator(ring=pipeline.RESULTS_ALIVE_PER_STAGE)
        self.lifted = 0  # frames lifted so far: the next one's index in the outputs (a camera drops stale frames)
        self.ids = kp.PoseTracker()
        self.smoothers: dict[int, OneEuroFilter] = {}
        self.tracks: dict[int, tuple[int, TemporalTrack]] = {}  # id -> (the frame it starts at, its track)
        self.last_seen: dict[int, int] = {}
        self.held: deque[HeldFrame] = deque()
        self.held_from = 0  # the number of the oldest held frame
        self.ready: dict[int, dict[int, np.ndarray]] = {}  # held frame number -> id -> 3D
        self.reach_s = 0.0 if options.temporal is None else options.temporal.radius / INTERNAL_FPS

    def submit(self, frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray]]:
        """The frames, each handed to the detector as it is read, so that detection never waits for the reader."""
        for t, frame in frames:
            self.detector.submit(frame)
            yield t, frame

    def collect(self, timed_frame: tuple[float, np.ndarray]) -> tuple[float, np.ndarray, list[Detection]]:
        """The people of a frame that submit() handed over."""
        t, frame = timed_frame
        return t, frame, self.detector.collect()

    def detect(self, timed_frame: tuple[float, np.ndarray]) -> tuple[float, np.ndarray, list[Detection]]:
        """Detect a frame now: a live camera queues nothing behind the detector, so the newest frame goes next."""
        t, frame = timed_frame
        return t, frame, self.detector.detect(frame)

    def lift(self, detected: tuple[float, np.ndarray, list[Detection]]) -> tuple | pipeline.Emit:
        """Frame by frame: this frame's (frame, people, record). Temporal: the frames now ready (Emit)."""
        t, frame, people = detected
        intrinsics, _ = camera.image_intrinsics(frame.shape, self.options.focal)
        ids = self.ids.update([sk.layout_detector_joints(p.landmarks_px, sk.MEDIAPIPE) for p in people],
                              [p.followed for p in people])
        if self.options.temporal is None:
            return self._recorded(t, frame, lift_detections(people, self.lifter, intrinsics, self.options.input_mode, ids))
        joints2d = [detection_input(p, self.options.input_mode) for p in people]
        number = self.held_from + len(self.held)
        self.held.append(HeldFrame(t, frame, people, ids, joints2d, intrinsics))
        self._push(number, t, dict(zip(ids, joints2d)))
        return pipeline.Emit(self._ready_frames(t))

    def flush(self) -> pipeline.Emit:
        """At the end of a video: the frames the temporal model still holds (their windows end with the video)."""
        for person_id in list(self.tracks):
            self._finish(person_id)
        return pipeline.Emit(self._ready_frames(None))

    def _push(self, number: int, t: float, joints2d: dict[int, np.ndarray]) -> None:
        """Push frame `number` to every person's track (a new one for a new id); finish the tracks of people gone."""
        for person_id in joints2d:
            self.last_seen[person_id] = number
            if person_id not in self.tracks:
                self.tracks[person_id] = (number, TemporalTrack(self.options.temporal, causal=self.live))
        for person_id, (start, track) in list(self.tracks.items()):
            for k, pose in track.push(t, joints2d.get(person_id)):
                if pose is not None:
                    self.ready.setdefault(start + k, {})[person_id] = pose
            if number - self.last_seen[person_id] > kp.TRACK_MAX_MISSED:  # the tracker has let the id go
                self._finish(person_id)

    def _finish(self, person_id: int) -> None:
        start, track = self.tracks.pop(person_id)
        for k, pose in track.finish():
            if pose is not None:
                self.ready.setdefault(start + k, {})[person_id] = pose
        del self.last_seen[person_id]

    def _ready_frames(self, now: float | None) -> list[tuple[np.ndarray, list[LiftedPerson], dict]]:
        """The held frames whose windows are complete at time now (None: all), in order, as _recorded gives them."""
        out = []
        while self.held and (now is None or self.live
                             or self.held[0].t + self.reach_s <= now + WINDOW_TOLERANCE_S):
            held = self.held.popleft()
            poses = self.ready.pop(self.held_from, {})
            self.held_from += 1
            people = [placed_detection(d, j2, poses[pid], held.intrinsics, pid)
                      for d, pid, j2 in zip(held.people, held.ids, held.joints2d) if pid in poses]
            out.append(self._recorded(held.t, held.frame, people))
        return out

    def _recorded(self, t: float, frame: np.ndarray, people: list[LiftedPerson]) -> tuple:
        for person in people:
            self._smooth(person, t)
        for person_id in set(self.smoothers) - {p.id for p in people}:  # a frame without them restarts their filter
            del self.smoothers[person_id]
        record = frame_record(self.lifted, t, people)
        self.lifted += 1
        return frame, people, record

    def _smooth(self, person: LiftedPerson, t: float) -> None:
        """With --smooth, filter the person's 3D joints and pelvis trajectory in place (a filter per id)."""
        if self.options.smooth is None:
            return
        if person.id not in self.smoothers:
            self.smoothers[person.id] = copy.deepcopy(self.options.smooth)
            self.smoothers[person.id].reset()
        smoothed = self.smoothers[person.id](np.vstack([person.joints3d, person.pelvis_mm]), t)
        person.joints3d, person.pelvis_mm = smoothed[:-1], smoothed[-1]

    def draw(self, lifted: tuple[np.ndarray, list[LiftedPerson], dict]) -> tuple[np.ndarray, dict]:
        frame, people, record = lifted
        return self.annotator.annotate(frame, [coco17_keypoints(p.keypoints) for p in people],
                                       [p.joints3d + p.pelvis_mm if len(people) > 1 else p.joints3d for p in people],
                                       [p.joints2d[:, 2] for p in people], [f"id {p.id}" for p in people]), record


def read_frames(capture: cv2.VideoCapture, clock) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, BGR frame) for each frame of the capture, until it ends."""
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield clock(index), frame
        index += 1


def _run_frames(capture: cv2.VideoCapture, clock, fps: float, stem: str, total: int | None, lifter: Lifter,
                outputs: StreamOutputs, options: StreamOptions, stats: pipeline.PipelineStats, live: bool) -> None:
    """Read, detect, lift, draw and write on overlapping threads until the stream ends, --max-frames, or q/Esc.

    The people finder runs in a process of its own (detector_process.py says why). A file's frames are handed to it as
    they are read, up to the pipeline's queue sizes ahead; a live camera's one at a time, newest first.
    """
    show = options.show and visualize.display_available()
    if options.show and not show:
        print("note: no display available, not opening a window", file=sys.stderr)
    detector = DetectorProcess(fps, slots=pipeline.RESULTS_ALIVE_PER_STAGE, max_people=options.max_people)
    with detector, tqdm(total=total, unit="frame", desc=stem, file=sys.stderr) as bar:
        steps = StreamSteps(detector, lifter, options, live)

        def write(drawn: tuple[np.ndarray, dict]) -> bool:
            """Write one frame; whether to go on."""
            annotated, record = drawn
            outputs.write(annotated, record)
            bar.update()
            if show and _window_wants_to_quit(f"infer.py: {stem} (q or Esc quits)", annotated):
                return False
            return options.max_frames is None or outputs.frames < options.max_frames

        frames = read_frames(capture, clock) if live else steps.submit(read_frames(capture, clock))
        lifting = ("lifting", steps.lift) if options.temporal is None or live else ("lifting", steps.lift, steps.flush)
        stages = [("detection", steps.detect if live else steps.collect), lifting, ("drawing", steps.draw)]
        pipeline.run_pipeline(frames, stages, ("writing", write), keep_latest=live, stats=stats)
    if show:
        cv2.destroyAllWindows()


def process_stream(source: Path | int, stem: str, out_dir: Path, lifter: Lifter, options: StreamOptions,
                   stats: pipeline.PipelineStats | None = None) -> list[Path]:
    """Run a video file or a camera frame by frame, writing the annotated video and per-frame JSON lines.

    A camera stops at --max-frames, q/Esc in the window, or Ctrl-C, and its outputs are kept; Ctrl-C
    during a video file abandons it, leaving earlier outputs untouched. stats, when given, receives
    the frame rate and per-stage times (benchmark.py reads them).
    """
    is_camera = isinstance(source, int)
    capture, fps, count = open_capture(source)
    started = time.monotonic()
    clock = (lambda _: time.monotonic() - started) if is_camera else (lambda index: index / fps)
    total = min(filter(None, (count, options.max_frames)), default=None)
    outputs = StreamOutputs(stem, out_dir, fps, options.bvh, options.view_about)
    stats = stats if stats is not None else pipeline.PipelineStats()
    try:
        _run_frames(capture, clock, fps, stem, total, lifter, outputs, options, stats, live=is_camera)
    except KeyboardInterrupt:
        if not is_camera:
            outputs.discard()
            raise
        print(f"\nstopped by Ctrl-C after {outputs.frames} frames", file=sys.stderr)
    except DetectorFailed as err:  # the batch goes on: the next stream starts a detector process of its own
        outputs.discard()
        raise InputFailed(f"{source}: {err}; the input was abandoned and nothing of it was written.") from None
    except BaseException:
        outputs.discard()
        raise
    finally:
        capture.release()
    if outputs.frames == 0:
        outputs.discard()
        raise InputFailed(f"{source}: no frame could be read from the {'camera' if is_camera else 'video'}.")
    written = outputs.finish()
    print(f"{stem}: {stats.summary()}; people in {outputs.with_people} of {outputs.frames} frames")
    for person_id, track in sorted(outputs.motion.tracks.items()) if options.bvh else ():
        print(f"  id {person_id}: in {len(track) - track.gaps} frames"
              + (f"; in {person_bvh_path(out_dir, stem, person_id).name} the other {track.gaps} hold their last (or "
                 f"first) pose" if track.gaps else ""))
    if options.bvh and not outputs.motion.tracks:
        raise InputFailed(f"{source}: no person in any of its {outputs.frames} frames, so no "
                          f"{stem}{PERSON_BVH_ENDING.format(id='<ID>')} was written (the other outputs were).")
    return written
