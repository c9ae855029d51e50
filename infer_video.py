"""infer.py's videos and webcams: read, detect, lift, draw and write on overlapping threads (pipeline.py),
MediaPipe in a process of its own (detector.py); the annotated video and one JSON line per frame."""
from __future__ import annotations

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
from atomic import temporary_path, write_text
from detector import Detection, DetectorFailed, DetectorProcess
from infer_lifting import LiftedPerson, TemporalTrack, detection_input, lift_detection, placed_detection
from infer_outputs import InputFailed, coco17_keypoints, output_paths, pose_record, to_json, write_bvh
from model import Lifter, SequenceLifter
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


@dataclass
class HeldFrame:
    """A frame the temporal model has not lifted yet: what the stages after it need."""

    t: float
    frame: np.ndarray
    detection: Detection | None
    joints2d: np.ndarray | None
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


def camera_joints(record: dict) -> np.ndarray | None:
    """A frame record's 28 joints placed in camera space, (28, 3) mm; None without a person."""
    return np.array([j["mm"] for j in record["joints"]]) + record["pelvis_camera_mm"] if record["person"] else None


def frame_record(index: int, t: float, result: LiftedPerson | None) -> dict:
    if result is None:
        return {"frame": index, "time_s": round(t, 4), "person": False}
    return {"frame": index, "time_s": round(t, 4), "person": True, **pose_record(result)}


def _window_wants_to_quit(window: str, image: np.ndarray) -> bool:
    cv2.imshow(window, image)
    return (cv2.waitKey(1) & 0xFF) in (ord("q"), ESCAPE_KEY)


class StreamOutputs:
    """The annotated video and the JSON lines of one stream, under temporary names until finish()."""

    def __init__(self, stem: str, out_dir: Path, fps: float, bvh: bool = False, view_about: str | None = None):
        self.paths = output_paths(stem, "video", out_dir)
        self.track = animation.MotionTrack() if bvh else None
        self.view_about, self.view_frames = view_about, []
        if view_about is None:
            del self.paths["view"]
        self._video_tmp, self._jsonl_tmp = temporary_path(self.paths["video"]), temporary_path(self.paths["jsonl"])
        self._fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._jsonl = self._jsonl_tmp.open("w", encoding="utf-8")
        self.frames = 0
        self.with_person = 0

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
        if self.track is not None:
            self.track.add(camera_joints(record), record["time_s"])
        if self.view_about is not None:
            self.view_frames.append([viewer.from_record(record)] if record["person"] else [])
        self.frames += 1

    def finish(self) -> list[Path]:
        """Close both files, write the 3D view, and give the files their final names."""
        self._close()
        if self.view_about is not None:
            write_text(self.paths["view"], viewer.page(self.view_frames, self._fps, self.paths["video"].name,
                                                       self.view_about))
        os.replace(self._video_tmp, self.paths["video"])
        os.replace(self._jsonl_tmp, self.paths["jsonl"])
        return list(self.paths.values())

    def discard(self) -> None:
        self._close()
        self._video_tmp.unlink(missing_ok=True)
        self._jsonl_tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        self._jsonl.close()
        if self._writer is not None:
            self._writer.release()


class StreamSteps:
    """The work on each frame of a stream, one method per pipeline stage; each runs on a thread of its own."""

    def __init__(self, detector: DetectorProcess, lifter: Lifter, options: StreamOptions, live: bool):
        self.detector, self.lifter, self.options = detector, lifter, options
        self.annotator = visualize.FrameAnnotator(ring=pipeline.RESULTS_ALIVE_PER_STAGE)
        self.lifted = 0  # frames lifted so far: the next one's index in the outputs (a camera drops stale frames)
        self.track = None if options.temporal is None else TemporalTrack(options.temporal, causal=live)
        self.held: deque[HeldFrame] = deque()

    def submit(self, frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray]]:
        """The frames, each handed to the detector as it is read, so that detection never waits for the reader."""
        for t, frame in frames:
            self.detector.submit(frame)
            yield t, frame

    def collect(self, timed_frame: tuple[float, np.ndarray]) -> tuple[float, np.ndarray, Detection | None]:
        """The detection of a frame that submit() handed over."""
        t, frame = timed_frame
        return t, frame, self.detector.collect()

    def detect(self, timed_frame: tuple[float, np.ndarray]) -> tuple[float, np.ndarray, Detection | None]:
        """Detect a frame now: a live camera queues nothing behind the detector, so the newest frame goes next."""
        t, frame = timed_frame
        return t, frame, self.detector.detect(frame)

    def lift(self, detected: tuple[float, np.ndarray, Detection | None]) -> tuple | pipeline.Emit:
        """Frame by frame: this frame's (frame, person or None, record). Temporal: the frames now ready (Emit)."""
        t, frame, detection = detected
        intrinsics, _ = camera.image_intrinsics(frame.shape, self.options.focal)
        if self.track is None:
            result = None if detection is None else lift_detection(detection, self.lifter, intrinsics,
                                                                   self.options.input_mode)
            return self._recorded(t, frame, result)
        joints2d = None if detection is None else detection_input(detection, self.options.input_mode)
        self.held.append(HeldFrame(t, frame, detection, joints2d, intrinsics))
        return pipeline.Emit([self._from_track(pose) for _, pose in self.track.push(t, joints2d)])

    def flush(self) -> pipeline.Emit:
        """At the end of a video: the frames the temporal model still holds (their windows end with the video)."""
        return pipeline.Emit([self._from_track(pose) for _, pose in self.track.finish()])

    def _from_track(self, pose3d: np.ndarray | None) -> tuple[np.ndarray, LiftedPerson | None, dict]:
        held = self.held.popleft()  # the track gives its frames in order
        result = None if pose3d is None else placed_detection(held.detection, held.joints2d, pose3d, held.intrinsics)
        return self._recorded(held.t, held.frame, result)

    def _recorded(self, t: float, frame: np.ndarray, result: LiftedPerson | None) -> tuple[np.ndarray, LiftedPerson | None, dict]:
        _smooth(result, t, self.options.smooth)
        record = frame_record(self.lifted, t, result)
        self.lifted += 1
        return frame, result, record

    def draw(self, lifted: tuple[np.ndarray, LiftedPerson | None, dict]) -> tuple[np.ndarray, dict]:
        frame, result, record = lifted
        if result is None:
            return self.annotator.annotate(frame), record
        return self.annotator.annotate(frame, coco17_keypoints(result.keypoints), result.joints3d,
                                       result.joints2d[:, 2]), record


def read_frames(capture: cv2.VideoCapture, clock) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, BGR frame) for each frame of the capture, until it ends."""
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield clock(index), frame
        index += 1


def _run_frames(capture: cv2.VideoCapture, clock, stem: str, total: int | None, lifter: Lifter,
                outputs: StreamOutputs, options: StreamOptions, stats: pipeline.PipelineStats, live: bool) -> None:
    """Read, detect, lift, draw and write on overlapping threads until the stream ends, --max-frames, or q/Esc.

    MediaPipe runs in a process of its own (detector.py says why). A file's frames are handed to it as
    they are read, up to the pipeline's queue sizes ahead; a live camera's one at a time, newest first.
    """
    show = options.show and visualize.display_available()
    if options.show and not show:
        print("note: no display available, not opening a window", file=sys.stderr)
    detector = DetectorProcess(tracking=True, slots=pipeline.RESULTS_ALIVE_PER_STAGE)
    with detector, tqdm(total=total, unit="frame", desc=stem, file=sys.stderr) as bar:
        steps = StreamSteps(detector, lifter, options, live)

        def write(drawn: tuple[np.ndarray, dict]) -> bool:
            """Write one frame; whether to go on."""
            annotated, record = drawn
            outputs.write(annotated, record)
            outputs.with_person += record["person"]
            bar.update()
            if show and _window_wants_to_quit(f"infer.py: {stem} (q or Esc quits)", annotated):
                return False
            return options.max_frames is None or outputs.frames < options.max_frames

        frames = read_frames(capture, clock) if live else steps.submit(read_frames(capture, clock))
        lifting = ("lifting", steps.lift) if steps.track is None or live else ("lifting", steps.lift, steps.flush)
        stages = [("detection", steps.detect if live else steps.collect), lifting, ("drawing", steps.draw)]
        pipeline.run_pipeline(frames, stages, ("writing", write), keep_latest=live, stats=stats)
    if show:
        cv2.destroyAllWindows()


def _smooth(result: LiftedPerson | None, t: float, one_euro: OneEuroFilter | None) -> None:
    """Filter the 3D joints and the pelvis's camera-space trajectory in place; a frame without a person
    restarts the filter."""
    if one_euro is None:
        return
    if result is None:
        one_euro.reset()
    else:
        smoothed = one_euro(np.vstack([result.joints3d, result.pelvis_mm]), t)
        result.joints3d, result.pelvis_mm = smoothed[:-1], smoothed[-1]


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
    if options.smooth is not None:
        options.smooth.reset()
    try:
        _run_frames(capture, clock, stem, total, lifter, outputs, options, stats, live=is_camera)
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
    gaps = (f"; in {stem}.bvh the other {outputs.frames - outputs.with_person} keep the last pose"
            if options.bvh and outputs.with_person else "")
    print(f"{stem}: {stats.summary()}; a person in {outputs.with_person} of {outputs.frames} frames" + gaps)
    return written + ([write_bvh(outputs.track, out_dir / f"{stem}.bvh", source)] if options.bvh else [])
