"""Lift the people in photos, videos or a webcam stream to 3D 28-joint skeletons.

    python infer.py --demo                         # the photo that ships with matplotlib (Grace Hopper)
    python infer.py photo.jpg                      # one image (weights: see --help)
    python infer.py a.jpg b.png folder/ --out results/
    python infer.py clip.mp4                       # a video, lifted by the temporal model (a window of frames)
    python infer.py clip.mp4 --per-frame --smooth  # each frame on its own, 3D joints smoothed over time
    python infer.py --camera 0 --show              # a webcam (the causal temporal model); q or Esc quits the window
    python infer.py clip.mp4 --bvh                 # also clip_person<ID>.bvh: each person's motion for Blender
    python infer.py group.jpg --max-people 3       # the three largest people of the photo (default: everyone)

people_finder.py finds everyone with the models the mediapipe wheel bundles (its person detector on the
image and on tiles, then MediaPipe Pose's landmark model on each person), 33 landmarks each;
skeleton_utils.mediapipe_to_mpiinf turns them into the model's 28
joints with visibility, exactly as training with `--input mediapipe` builds them; the model lifts those
to root-relative millimetres (camera space: x right, y down, z away from the camera, pelvis at 0).

Outputs, in --out (default: the working directory), named after each input's file name without its suffix:
    photo.jpg  ->  photo_overlay_coco17.jpg   everyone's COCO-17 keypoints and id on the photo (hollow and
                                              dashed: visibility below 0.5)
                   photo_pose3d.png           the 2D joints flat at depth 0 ("2D-in-3D") beside the 3D poses,
                                              each person where they stand
                   photo_pose.json            "people": per person its id, box, 2D joints (pixels, visibility),
                                              3D joints (mm), placement, MediaPipe's 33 landmarks with its own
                                              metric 3D (mm) (infer_outputs.people_records); image, weights
                   photo_view.html            the interactive 3D view (viewer.py): turn, zoom; --no-html: none
    clip.mp4   ->  clip_annotated.mp4         each frame with everyone's overlay and id, beside a live 3D view
                   clip_joints.jsonl          one JSON object per frame, its "people" by track id (as above)
                   clip_view.html             the 3D view with play, pause and a frame slider
    --camera 0 ->  camera0_annotated.mp4, camera0_joints.jsonl
    --bvh      ->  also STEM_person<ID>.bvh       each person's skeleton moving through camera space
                                              (animation.py's writer), every file spanning all the frames
Every record also places the pelvis in camera space (camera.py's pinhole solve; see COORDINATES).
Inputs whose outputs would share a name (a/x.jpg and b/x.png) are refused before anything runs, and so are
outputs an earlier run left in --out, unless --force: then each input's files (STEM_*, STEM.bvh, with
STEM_person*.bvh) are replaced as a set, so no file of the older run is left looking current.
Every file is written under a temporary name and renamed when complete; temporaries of killed runs are
removed at the next run, and an --out folder the run created and left empty is removed.

The parts: infer_photo.py (photos), infer_video.py (videos, the camera), infer_keypoints.py (--keypoints),
over infer_lifting.py (weights, lifting, LiftedPerson) and infer_outputs.py (names, records, files).

Exit status: 0 when every input was processed; 1 when any input failed (no person in an image, an
unreadable file), after the others were processed and a summary printed; 1 also for fatal errors
(missing or corrupt weights, an unsupported file, no CUDA for --device cuda); 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
from matplotlib import cbook
import torch
from torch import nn

import export_model
import infer_keypoints
from checkpoints import (BUNDLED_TEMPORAL_WEIGHTS, WEIGHTS_HELP, CheckpointError, default_video_weights,
                         default_weights, is_temporal, load_sequence_lifter, read_checkpoint, resolve_device)
from infer_lifting import load_for_inference
from infer_outputs import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, InputFailed, is_own_output, media_kind, media_outputs,
                           output_folder, refuse_existing, view_about)
from infer_photo import process_image
from infer_video import FALLBACK_FPS, StreamOptions, process_stream
from model import Lifter, MirrorAveraged
from people_finder import PeopleFinder
from sequences import INTERNAL_FPS
from smoothing import OneEuroFilter


# ---------------------------------------------------------------------------
# Inputs
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


def stem_and_kind(source: Path | int) -> tuple[str, str]:
    """The stem an input's outputs are named after, and its kind: a camera's is camera<N>, a video."""
    return (f"camera{source}", "video") if isinstance(source, int) else (source.stem, media_kind(source))


def describe(source: Path | int) -> str:
    return f"camera {source}" if isinstance(source, int) else str(source)


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


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Lift people in images, videos or a webcam stream to 3D with MediaPipe Pose and the "
                    "GCN+Transformer lifter.",
        epilog="Outputs per input STEM: images STEM_overlay_coco17.jpg, STEM_pose3d.png, STEM_pose.json; "
               "videos and the camera STEM_annotated.mp4, STEM_joints.jsonl (camera STEM: camera<N>); "
               "--bvh adds STEM_person<ID>.bvh for each person. "
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
    parser.add_argument("--max-people", type=int, metavar="N", help="lift at most this many people per photo or frame, "
                        "the largest in the image (default: everyone found)")
    parser.add_argument("--video-weights", metavar="FILE",
                        help="the temporal model for videos, the camera and keypoint sequences (default: the bundled "
                             "pretrained/temporal_model_weights.pth when --weights is not given; a temporal --weights "
                             "serves both)")
    parser.add_argument("--per-frame", action="store_true",
                        help="lift every video frame on its own, without the temporal model")
    parser.add_argument("--flip", action="store_true", help="test-time flip: every pose also lifted mirrored, the two "
                        "averaged (VideoPose3D's test-time augmentation; a little more accurate, twice the lifting work)")
    parser.add_argument("--smooth", action="store_true", help="smooth the 3D joints over time (One-Euro filter; the "
                        "temporal model needs none)")
    parser.add_argument("--smooth-min-cutoff", type=float, metavar="HZ", default=OneEuroFilter.DEFAULT_MIN_CUTOFF,
                        help="One-Euro cut-off at rest, Hz: lower smooths more (default: %(default)s)")
    parser.add_argument("--smooth-beta", type=float, metavar="BETA", default=OneEuroFilter.DEFAULT_BETA,
                        help="One-Euro cut-off increase per mm/s of speed: higher lags less (default: %(default)s)")
    parser.add_argument("--focal", type=float, metavar="PX", help="focal length in pixels (default: the photo's EXIF, "
                        "else a 60 degree horizontal field of view)")
    parser.add_argument("--force", action="store_true", help="replace the outputs an earlier run left in --out: each "
                        "input's files are replaced as a set (without it, existing outputs are refused)")
    parser.add_argument("--bvh", action="store_true", help="also write STEM_person<ID>.bvh for each person: the "
                        "motion for Blender, retargeting")
    parser.add_argument("--no-html", action="store_true",
                        help="do not write STEM_view.html, the interactive 3D view (opens from disk in a browser)")
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
    if args.per_frame and args.video_weights:
        parser.error("--per-frame lifts without the temporal model; it takes no --video-weights")
    args.video_weights = video_weights(args)
    if args.keypoints is not None:
        if (args.inputs or args.camera is not None or args.smooth or args.max_frames is not None
                or args.max_people is not None):
            parser.error("--keypoints reads 2D keypoints instead of images, videos or a camera; it takes no inputs, "
                         "--demo, --camera, --smooth, --max-frames or --max-people (every person in the file is lifted)")
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
    if args.max_people is not None and args.max_people < 1:
        parser.error("--max-people must be at least 1")
    if args.smooth and (args.smooth_min_cutoff <= 0 or args.smooth_beta < 0):
        parser.error("--smooth-min-cutoff must be positive and --smooth-beta non-negative")
    return args


def video_weights(args: argparse.Namespace) -> str | None:
    """The temporal model for videos: --video-weights, else a temporal --weights, else (no --weights) the bundled
    video model; None for --per-frame, or when --weights names a per-frame model (its videos go frame by frame)."""
    if args.per_frame:
        return None
    if args.video_weights or not args.weights:
        return args.video_weights or default_video_weights()
    try:
        return args.weights if is_temporal(read_checkpoint(args.weights)) else None
    except CheckpointError:
        return None  # loading --weights reports it, naming the fix


@dataclass
class Session:
    """The model and settings every input of one call is processed with."""

    lifter: Lifter
    checkpoint: dict
    weights: Path
    out_dir: Path
    show: bool
    stream: StreamOptions
    html: bool = True
    finder: PeopleFinder | None = None

    def process(self, source: Path | int) -> list[Path]:
        """Write the outputs of one image, video or camera; returns their paths."""
        stem, kind = stem_and_kind(source)
        if kind == "video":
            temporal = self.stream.temporal
            how = (" and the temporal model, " + ("causal" if isinstance(source, int) else "offline")
                   if temporal is not None else ", frame by frame")
            about = view_about(describe(source), self.weights, how) if self.html else None
            return process_stream(source, stem, self.out_dir, self.lifter, replace(self.stream, view_about=about))
        if self.finder is None:
            self.finder = PeopleFinder()
        return process_image(source, self.out_dir, self.finder, self.lifter, self.weights, self.checkpoint,
                             self.show, self.stream.focal, self.stream.bvh, self.html, self.stream.max_people)

    def close(self) -> None:
        if self.finder is not None:
            self.finder.close()


def load_temporal(weights: str | None, device: str, flip: bool) -> nn.Module | None:
    """The temporal model for the videos of this call, or None (frame by frame), saying which."""
    if weights is None:
        print("videos: lifted frame by frame" + ("" if os.path.isfile(BUNDLED_TEMPORAL_WEIGHTS) else
                                                  f" ({BUNDLED_TEMPORAL_WEIGHTS} is missing)"), file=sys.stderr)
        return None
    try:
        temporal, checkpoint = load_sequence_lifter(weights, resolve_device(device))
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from err
    print(f"videos: the temporal model {weights} (a window of {2 * temporal.radius + 1} frames at "
          f"{INTERNAL_FPS:g} fps; a camera: causal, the past {temporal.radius} frames)", file=sys.stderr)
    traced = export_model.TracedSequenceLifter(temporal)  # the same numbers as eager, faster per frame
    return MirrorAveraged(traced) if flip else traced


def run(args: argparse.Namespace) -> int:
    """Process every input; returns the exit status."""
    if args.keypoints is not None:
        try:
            return infer_keypoints.run_keypoints(args)
        except (InputFailed, OSError) as err:  # an unreadable image for an overlay, a full disk
            print(f"error: {err}", file=sys.stderr)
            return 1
    inputs = collect_inputs(args.inputs)
    check_distinct_stems(inputs, args.bvh)
    sources: list[Path | int] = [args.camera] if args.camera is not None else list(inputs)
    owned = {source: media_outputs(*stem_and_kind(source), Path(args.out)) for source in sources}
    refuse_existing([(describe(source), owned[source]) for source in sources], args.force)
    weights = Path(args.weights)
    lifter, checkpoint = load_for_inference(weights, args.device)
    # One pose at a time is too little work to share: extra intra-op threads only spin and
    # steal the CPU from MediaPipe's own threads (measured: lifting 40-75 ms per frame instead of 1).
    torch.set_num_threads(1)
    # The traced model gives the eager model's numbers exactly, in about half the time per pose.
    lifter = export_model.trace_lifter(lifter)
    lifter = MirrorAveraged(lifter) if args.flip else lifter
    temporal = load_temporal(args.video_weights, args.device, args.flip) if any(stem_and_kind(s)[1] == "video" for s in sources) else None
    smooth = OneEuroFilter(args.smooth_min_cutoff, args.smooth_beta) if args.smooth else None
    options = StreamOptions(args.max_frames, smooth, args.show, args.focal, args.bvh, checkpoint["input_mode"], temporal,
                            max_people=args.max_people)
    failures: list[str] = []
    with output_folder(args.out) as out_dir:
        session = Session(lifter, checkpoint, weights, out_dir, args.show, options, not args.no_html)
        try:
            for source in sources:
                try:
                    with owned[source].replaced():
                        written = session.process(source)
                except (InputFailed, OSError) as err:  # OSError: an output could not be written (disk full, ...)
                    print(f"error: {err}", file=sys.stderr)
                    failures.append(str(err))
                    continue
                print(f"{describe(source)}: wrote " + ", ".join(map(str, written)))
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
