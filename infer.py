"""Lift the person in photos, videos or a webcam stream to a 3D 28-joint skeleton.

    python infer.py --demo                         # the photo that ships with matplotlib (Grace Hopper)
    python infer.py photo.jpg                      # one image (weights: see --help)
    python infer.py a.jpg b.png folder/ --out results/
    python infer.py clip.mp4 --smooth              # a video, 3D joints smoothed over time
    python infer.py --camera 0 --show              # a webcam; q or Esc quits the window, Ctrl-C a headless run
    python infer.py clip.mp4 --bvh                 # also clip.bvh: the motion for Blender and retargeting tools

MediaPipe Pose finds 33 landmarks; skeleton_utils.mediapipe_to_mpiinf turns them into the model's 28
joints with visibility, exactly as training with `--input mediapipe` builds them; the model lifts those
to root-relative millimetres (camera space: x right, y down, z away from the camera, pelvis at 0).

Outputs, in --out (default: the working directory), named after each input's file name without its suffix:
    photo.jpg  ->  photo_overlay_coco17.jpg   MediaPipe's COCO-17 keypoints on the photo (hollow and dashed:
                                              visibility below 0.5)
                   photo_pose3d.png           the 2D joints flat at depth 0 ("2D-in-3D") beside the 3D pose
                   photo_pose.json            2D joints (pixels, visibility), 3D joints (mm), MediaPipe's 33
                                              landmarks with its own metric 3D (mm), image, weights
    clip.mp4   ->  clip_annotated.mp4         each frame with the overlay, beside a live 3D view
                   clip_joints.jsonl          one JSON object per frame ("person": false where none was found)
    --camera 0 ->  camera0_annotated.mp4, camera0_joints.jsonl
    --bvh      ->  also STEM.bvh                  the skeleton moving through camera space (mocap.py's writer);
                                              with --keypoints STEM_person<ID>.bvh for each tracked person
Every record also places the pelvis in camera space (camera.py's pinhole solve; see COORDINATES).
Inputs whose outputs would share a name (a/x.jpg and b/x.png) are refused before anything runs. Every file
is written under a temporary name and renamed when complete, so an existing output is either replaced
whole or left untouched.

Exit status: 0 when every input was processed; 1 when any input failed (no person in an image, an
unreadable file), after the others were processed and a summary printed; 1 also for fatal errors
(missing or corrupt weights, an unsupported file, no CUDA for --device cuda); 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
from matplotlib import cbook
import numpy as np
import torch
from tqdm import tqdm

import camera
import export_model
import keypoint_lifting
import mocap
import pipeline
import skeleton_utils as sk
import visualize
from detector import Detection, DetectorProcess, PoseDetector
from infer_common import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, InputFailed, is_own_output, joints_record, lift, load_weights,
                          media_kind, model_input, output_folder, output_paths, read_image, rounded, temporary_path,
                          to_json, to_readable_json, warn_if_not_for_detectors, write_image, write_text)
from model import WEIGHTS_HELP, Lifter, default_weights, resolve_device

# Frames per second assumed when a video or camera does not report its own.
FALLBACK_FPS = 30.0
ESCAPE_KEY = 27


# ---------------------------------------------------------------------------
# Inputs and outputs
# ---------------------------------------------------------------------------
def collect_inputs(paths: list[str]) -> list[Path]:
    """The images and videos named on the command line, folders expanded (not recursively, sorted).

    In a folder, files that infer.py wrote itself are skipped, so a second run does not lift its overlays.
    """
    inputs = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            media = sorted(p for p in path.iterdir() if p.is_file() and media_kind(p))
            found = [p for p in media if not is_own_output(p)]
            if len(found) < len(media):
                print(f"note: {path}: skipping {len(media) - len(found)} files that infer.py wrote", file=sys.stderr)
            if not found:
                raise SystemExit(f"error: {path}: the folder holds no images or videos "
                                 f"({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}).")
            inputs.extend(found)
        elif not path.is_file():
            raise SystemExit(f"error: {path}: no such file or folder.")
        elif media_kind(path) is None:
            raise SystemExit(f"error: {path}: unsupported file type '{path.suffix}'. Give an image "
                             f"({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)}).")
        else:
            inputs.append(path)
    return inputs


def check_distinct_stems(inputs: list[Path], bvh: bool = False) -> None:
    """Refuse inputs that would write the same output files (two images, or two videos, of one stem; with
    --bvh any two inputs of one stem)."""
    seen: dict[tuple[str, str | None], Path] = {}
    for path in inputs:
        key = (path.stem, None if bvh else media_kind(path))
        if key in seen and seen[key].resolve() != path.resolve():
            raise SystemExit(f"error: {seen[key]} and {path} would both write {path.stem}_* outputs; "
                             f"process them in separate calls with different --out folders.")
        seen[key] = path


def write_bvh(track: mocap.MotionTrack, path: Path, source) -> Path:
    """The track as a BVH file; InputFailed when no frame had a person."""
    text = track.bvh_text()
    if text is None:
        raise InputFailed(f"{source}: no person in any of its {len(track)} frames, so no {path.name} was written.")
    write_text(path, text)
    return path


# ---------------------------------------------------------------------------
# Lifting MediaPipe's detection (detector.py)
# ---------------------------------------------------------------------------
@dataclass
class PoseResult:
    """One person: MediaPipe's detection, the model's (28, 3) input (pixels + visibility), its (28, 3) mm output,
    and, once placed (estimate_pose), the camera's (4,) intrinsics and the pelvis in camera space, (3,) mm."""

    detection: Detection
    joints2d: np.ndarray
    joints3d: np.ndarray
    intrinsics: np.ndarray | None = None
    pelvis_mm: np.ndarray | None = None


def estimate_pose(detection: Detection, lifter: Lifter, intrinsics: np.ndarray, input_mode: str) -> PoseResult:
    joints2d = model_input(detection.landmarks_px, sk.MEDIAPIPE, input_mode)
    joints3d = lift(lifter, joints2d)
    return PoseResult(detection, joints2d, joints3d, intrinsics, camera.place_pelvis(joints2d, joints3d, intrinsics))


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



def pose_record(result: PoseResult) -> dict:
    """The joints of one person, JSON-ready: the model's 28 joints and MediaPipe's 33 landmarks, by name."""
    joints = joints_record(result.joints2d, result.joints3d)
    det = result.detection
    pixel, visibility, world_mm = (rounded(det.landmarks_px[:, :2], 2), rounded(det.landmarks_px[:, 2], 3),
                                   rounded(det.world_mm, 1))
    landmarks = [{"name": name, "pixel": pixel[m], "visibility": visibility[m], "world_mm": world_mm[m]}
                 for m, name in enumerate(sk.MEDIAPIPE_LANDMARKS)]
    placement = camera.placement_record(result.joints2d, result.joints3d, result.pelvis_mm, result.intrinsics)
    return {**placement, "joints": joints, "mediapipe_landmarks": landmarks}



# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------
def coco17_keypoints(detection: Detection) -> np.ndarray:
    """MediaPipe's own 17 COCO keypoints, (17, 3) pixels + visibility."""
    return detection.landmarks_px[list(sk.MEDIAPIPE_TO_COCO17)]


# ---------------------------------------------------------------------------
# Temporal smoothing
# ---------------------------------------------------------------------------
class OneEuroFilter:
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), elementwise on arrays.

    A low-pass filter whose cut-off rises with speed: at rest it smooths strongly (min_cutoff, Hz) and
    removes jitter; in fast motion the cut-off grows by beta Hz per unit/s of speed, so it lags little.
    d_cutoff (Hz) smooths the speed estimate itself. Timestamps are seconds and must increase.
    The defaults suit joints in mm at 30 fps: 10 mm of jitter on a still joint shrinks about
    threefold, and a joint moving at 1 m/s trails by about 20 mm (measured in tests/test_infer.py).
    """

    DEFAULT_MIN_CUTOFF = 0.5
    DEFAULT_BETA = 0.005

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One-Euro filter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, "
                             f"got {min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged (e.g. after the person was lost)."""
        self._value = self._speed = self._time = None

    @staticmethod
    def _smoothing_factor(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self._value is None:
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._time
        if dt <= 0:
            raise ValueError(f"One-Euro filter timestamps must increase: got {t} after {self._time}")
        a_speed = self._smoothing_factor(self.d_cutoff, dt)
        self._speed = a_speed * (value - self._value) / dt + (1 - a_speed) * self._speed
        a_value = self._smoothing_factor(self.min_cutoff + self.beta * np.abs(self._speed), dt)
        self._value = a_value * value + (1 - a_value) * self._value
        self._time = t
        return self._value.copy()


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
def image_record(path: Path, image: np.ndarray, result: PoseResult, weights: Path, checkpoint: dict) -> dict:
    height, width = image.shape[:2]
    return {
        "image": {"path": str(path.resolve()), "width": width, "height": height},
        "weights": str(weights.resolve()),
        "model": {"arch": checkpoint["arch"], "input_mode": checkpoint["input_mode"]},
        "coordinates": COORDINATES,
        **pose_record(result),
    }


def pose_figure(path: Path, result: PoseResult, weights: Path):
    """The 2D input drawn flat at depth 0 beside the lifted 3D pose."""
    return visualize.figure_2d_in_3d_and_3d(
        result.joints2d, result.joints3d,
        title=f"{path.name}, lifted by {weights.name}  (hollow, dotted: joints MediaPipe did not see)")


def process_image(path: Path, out_dir: Path, detector: PoseDetector, lifter: Lifter, weights: Path,
                  checkpoint: dict, show: bool, focal: float | None = None, bvh: bool = False) -> list[Path]:
    """Detect, lift and write the three outputs of one image; returns their paths."""
    image = read_image(path)
    detection = detector.detect(image)
    if detection is None:
        raise InputFailed(f"{path}: no person found (MediaPipe Pose detected no body). Use a photo in which "
                          f"a person's head, shoulders and hips are visible.")
    result = estimate_pose(detection, lifter, camera.image_intrinsics(image.shape, focal, path)[0],
                           checkpoint["input_mode"])
    outputs = output_paths(path.stem, "image", out_dir)
    text = to_readable_json(image_record(path, image, result, weights, checkpoint))  # fails before any write
    write_image(outputs["overlay"], visualize.draw_coco17(image, coco17_keypoints(detection)))
    visualize.save_figure(pose_figure(path, result, weights), outputs["figure"])
    write_text(outputs["json"], text)
    if bvh:
        (track := mocap.MotionTrack()).add(result.joints3d + result.pelvis_mm)
        outputs["bvh"] = write_bvh(track, out_dir / f"{path.stem}.bvh", path)
    if show:  # save_figure closed the saved figure: draw it again for the window
        visualize.show_or_close(pose_figure(path, result, weights), show)
    return list(outputs.values())


# ---------------------------------------------------------------------------
# Videos and the webcam
# ---------------------------------------------------------------------------
@dataclass
class StreamOptions:
    max_frames: int | None
    smooth: OneEuroFilter | None
    show: bool
    focal: float | None = None
    bvh: bool = False
    input_mode: str = "mediapipe"  # the checkpoint's: how MediaPipe's landmarks become the model's input


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


def frame_record(index: int, t: float, result: PoseResult | None) -> dict:
    if result is None:
        return {"frame": index, "time_s": round(t, 4), "person": False}
    return {"frame": index, "time_s": round(t, 4), "person": True, **pose_record(result)}


def _window_wants_to_quit(window: str, image: np.ndarray) -> bool:
    cv2.imshow(window, image)
    return (cv2.waitKey(1) & 0xFF) in (ord("q"), ESCAPE_KEY)


class StreamOutputs:
    """The annotated video and the JSON lines of one stream, under temporary names until finish()."""

    def __init__(self, stem: str, out_dir: Path, fps: float, bvh: bool = False):
        self.paths = output_paths(stem, "video", out_dir)
        self.track = mocap.MotionTrack() if bvh else None
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
        self.frames += 1

    def finish(self) -> list[Path]:
        """Close both files and give them their final names."""
        self._close()
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

    def __init__(self, detector: DetectorProcess, lifter: Lifter, options: StreamOptions):
        self.detector, self.lifter, self.options = detector, lifter, options
        self.annotator = visualize.FrameAnnotator(ring=pipeline.RESULTS_ALIVE_PER_STAGE)
        self.lifted = 0  # frames lifted so far: the next one's index in the outputs (a camera drops stale frames)

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

    def lift(self, detected: tuple[float, np.ndarray, Detection | None]) -> tuple[np.ndarray, PoseResult | None, dict]:
        t, frame, detection = detected
        intrinsics, _ = camera.image_intrinsics(frame.shape, self.options.focal)
        result = None if detection is None else estimate_pose(detection, self.lifter, intrinsics, self.options.input_mode)
        _smooth(result, t, self.options.smooth)
        record = frame_record(self.lifted, t, result)
        self.lifted += 1
        return frame, result, record

    def draw(self, lifted: tuple[np.ndarray, PoseResult | None, dict]) -> tuple[np.ndarray, dict]:
        frame, result, record = lifted
        if result is None:
            return self.annotator.annotate(frame), record
        return self.annotator.annotate(frame, coco17_keypoints(result.detection), result.joints3d,
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
        steps = StreamSteps(detector, lifter, options)

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
        stages = [("detection", steps.detect if live else steps.collect), ("lifting", steps.lift),
                  ("drawing", steps.draw)]
        pipeline.run_pipeline(frames, stages, ("writing", write), keep_latest=live, stats=stats)
    if show:
        cv2.destroyAllWindows()


def _smooth(result: PoseResult | None, t: float, one_euro: OneEuroFilter | None) -> None:
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
    outputs, stats = StreamOutputs(stem, out_dir, fps, options.bvh), stats if stats is not None else pipeline.PipelineStats()
    if options.smooth is not None:
        options.smooth.reset()
    try:
        _run_frames(capture, clock, stem, total, lifter, outputs, options, stats, live=is_camera)
    except KeyboardInterrupt:
        if not is_camera:
            outputs.discard()
            raise
        print(f"\nstopped by Ctrl-C after {outputs.frames} frames", file=sys.stderr)
    except BaseException:
        outputs.discard()
        raise
    finally:
        capture.release()
    if outputs.frames == 0:
        outputs.discard()
        raise InputFailed(f"{source}: no frame could be read from the {'camera' if is_camera else 'video'}.")
    written = outputs.finish()
    gaps = f"; in {stem}.bvh the other {outputs.frames - outputs.with_person} keep the last pose" if options.bvh else ""
    print(f"{stem}: {stats.summary()}; a person in {outputs.with_person} of {outputs.frames} frames" + gaps)
    return written + ([write_bvh(outputs.track, out_dir / f"{stem}.bvh", source)] if options.bvh else [])


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Lift people in images, videos or a webcam stream to 3D with MediaPipe Pose and the "
                    "GCN+Transformer lifter.",
        epilog="Outputs per input STEM: images STEM_overlay_coco17.jpg, STEM_pose3d.png, STEM_pose.json; "
               "videos and the camera STEM_annotated.mp4, STEM_joints.jsonl (camera STEM: camera<N>); "
               "--bvh adds STEM.bvh (--keypoints: STEM_person<ID>.bvh). "
               "Exit status 1 when any input failed.")
    parser.add_argument("inputs", nargs="*", help="images, videos, or folders of them")
    parser.add_argument("--camera", type=int, metavar="INDEX", help="read a webcam instead (e.g. 0)")
    parser.add_argument("--weights", help=WEIGHTS_HELP + "; with --keypoints of a layout without hands, the bundled "
                        "pretrained/best_model_weights_coco17.pth when present")
    parser.add_argument("--demo", action="store_true",
                        help="also lift the real photo that ships with matplotlib (grace_hopper.jpg): no photo of your own needed")
    parser.add_argument("--out", default=".", metavar="FOLDER", help="output folder (default: the working directory)")
    parser.add_argument("--device", default="auto", metavar="DEVICE", help="auto (CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--show", action="store_true",
                        help="open the figure (images) or a live window (video, camera) when a display exists")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop videos and the camera after this many frames")
    parser.add_argument("--smooth", action="store_true", help="smooth the 3D joints over time (One-Euro filter)")
    parser.add_argument("--smooth-min-cutoff", type=float, metavar="HZ", default=OneEuroFilter.DEFAULT_MIN_CUTOFF,
                        help="One-Euro cut-off at rest, Hz: lower smooths more (default: %(default)s)")
    parser.add_argument("--smooth-beta", type=float, metavar="BETA", default=OneEuroFilter.DEFAULT_BETA,
                        help="One-Euro cut-off increase per mm/s of speed: higher lags less (default: %(default)s)")
    parser.add_argument("--focal", type=float, metavar="PX", help="focal length in pixels (default: the photo's EXIF, "
                        "else a 60 degree horizontal field of view)")
    parser.add_argument("--bvh", action="store_true", help="also write STEM.bvh: the motion for Blender, retargeting; "
                        "with --keypoints, STEM_person<ID>.bvh for each tracked person")
    keypoints = parser.add_argument_group("2D keypoints of another detector, instead of MediaPipe (see keypoints.py)")
    keypoints.add_argument("--keypoints", metavar="PATH",
                           help="an OpenPose folder of *_keypoints.json, a COCO keypoint results or annotation file, "
                                "or MMPose inferencer predictions; every person is lifted and tracked")
    keypoints.add_argument("--annotations", metavar="FILE", help="COCO annotation file naming the images of COCO results")
    keypoints.add_argument("--images", metavar="FOLDER", help="the frames' images, for overlays")
    keypoints.add_argument("--fps", type=float, default=FALLBACK_FPS,
                           help="frame rate of a keypoint sequence, for time_s (default: %(default)s)")
    keypoints.add_argument("--image-size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"),
                           help="frame size in pixels, for coordinates normalised to [0, 1] and for placing people "
                                "in camera space (needed by --bvh unless the COCO annotations or --images give it)")
    args = parser.parse_args(argv)
    if args.demo:
        args.inputs.append(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if args.focal is not None and not args.focal > 0:
        parser.error("--focal must be a positive number of pixels")
    if args.keypoints is not None:
        if args.inputs or args.camera is not None or args.smooth or args.max_frames is not None:
            parser.error("--keypoints reads 2D keypoints instead of images, videos or a camera; it takes no inputs, "
                         "--demo, --camera, --smooth or --max-frames")
        if args.fps <= 0 or (args.image_size and min(args.image_size) < 1):
            parser.error("--fps must be positive and --image-size two positive integers")
        return args
    if args.annotations or args.images or args.image_size:
        parser.error("--annotations, --images and --image-size go with --keypoints")
    if (args.camera is None) == (not args.inputs):
        parser.error("give images, videos or folders, or --camera INDEX (not both)")
    args.weights = args.weights or default_weights()
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("--max-frames must be at least 1")
    if args.smooth and (args.smooth_min_cutoff <= 0 or args.smooth_beta < 0):
        parser.error("--smooth-min-cutoff must be positive and --smooth-beta non-negative")
    return args


@dataclass
class Session:
    """The model and settings every input of one call is processed with."""

    lifter: Lifter
    checkpoint: dict
    weights: Path
    out_dir: Path
    show: bool
    stream: StreamOptions
    image_detector: PoseDetector | None = None

    def process(self, source: Path | int) -> list[Path]:
        """Write the outputs of one image, video or camera; returns their paths."""
        if isinstance(source, int):
            return process_stream(source, f"camera{source}", self.out_dir, self.lifter, self.stream)
        if media_kind(source) == "video":
            return process_stream(source, source.stem, self.out_dir, self.lifter, self.stream)
        if self.image_detector is None:
            self.image_detector = PoseDetector(tracking=False)
        return process_image(source, self.out_dir, self.image_detector, self.lifter, self.weights, self.checkpoint,
                             self.show, self.stream.focal, self.stream.bvh)

    def close(self) -> None:
        if self.image_detector is not None:
            self.image_detector.close()


def run(args: argparse.Namespace) -> int:
    """Process every input; returns the exit status."""
    if args.keypoints is not None:
        try:
            return keypoint_lifting.run_keypoints(args)
        except (InputFailed, OSError) as err:  # an unreadable image for an overlay, a full disk
            print(f"error: {err}", file=sys.stderr)
            return 1
    inputs = collect_inputs(args.inputs)
    check_distinct_stems(inputs, args.bvh)
    sources: list[Path | int] = [args.camera] if args.camera is not None else list(inputs)
    device = resolve_device(args.device)
    weights = Path(args.weights)
    lifter, checkpoint = load_weights(weights, device)
    warn_if_not_for_detectors(weights, checkpoint)
    # One pose at a time is too little work to share: extra intra-op threads only spin and
    # steal the CPU from MediaPipe's own threads (measured: lifting 40-75 ms per frame instead of 1).
    torch.set_num_threads(1)
    # The traced model gives the eager model's numbers exactly, in about half the time per pose.
    lifter = export_model.trace_lifter(lifter)
    out_dir = output_folder(args.out)
    smooth = OneEuroFilter(args.smooth_min_cutoff, args.smooth_beta) if args.smooth else None
    options = StreamOptions(args.max_frames, smooth, args.show, args.focal, args.bvh, checkpoint["input_mode"])
    session = Session(lifter, checkpoint, weights, out_dir, args.show, options)
    failures: list[str] = []
    try:
        for source in sources:
            try:
                written = session.process(source)
            except (InputFailed, OSError) as err:  # OSError: an output could not be written (disk full, ...)
                print(f"error: {err}", file=sys.stderr)
                failures.append(str(err))
                continue
            name = f"camera {source}" if isinstance(source, int) else str(source)
            print(f"{name}: wrote " + ", ".join(map(str, written)))
    finally:
        session.close()
    if len(sources) > 1:
        print(f"done: {len(sources) - len(failures)} of {len(sources)} inputs processed"
              + (f"; {len(failures)} failed:\n  " + "\n  ".join(failures) if failures else ""))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # OpenCV's and FFmpeg's own lines about unreadable videos and cameras only repeat our messages.
    cv2.setLogLevel(1)  # fatal only
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when a video is opened
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: the input in progress was abandoned and its outputs were not written",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
