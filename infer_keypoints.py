"""infer.py --keypoints: lift every person in other detectors' keypoint files and write what was lifted.

keypoints.py reads the files and tracks people from frame to frame; this module lifts them with the model,
places them in camera space where the frame size is known, and writes, all or nothing, in --out:
    STEM_people.jsonl          one line per frame: its people by track id, the detector's keypoints, the
                               model's 28 joints (and their placement), and the frame's problems
    STEM_people3d.png          the 3D poses of the frame with the most people
    STEM_view.html             the interactive 3D view of every frame's people (viewer.py; --no-html: none)
    FRAME_overlay_people.jpg   with --images, each frame's image with its people and their ids
    STEM_person<ID>.bvh        with --bvh, each tracked person's motion over the whole sequence
Drawing is visualize.py's; lifting (LiftedPerson) infer_lifting.py's; names and records infer_outputs.py's.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import animation
import camera
import keypoints as kp
import skeleton_utils as sk
import viewer
import visualize
from atomic import atomic_outputs
from checkpoints import CheckpointError, load_sequence_lifter, resolve_device, weights_for_layout
from infer_lifting import LiftedPerson, lift_people, lift_sequence, load_for_inference
from infer_outputs import (OUTPUT_ENDINGS, PERSON_BVH_ENDING, OutputSet, is_own_output, joints_record, media_kind,
                           output_folder, output_paths, person_bvh_path, read_image, refuse_existing, rounded, to_json,
                           view_about)
from model import Lifter, MirrorAveraged, SequenceLifter

MAX_FIGURE_PEOPLE = 12  # a crowd's figure would grow without bound (1,000 people: 141,196 px tall)
SUMMARY_LINES = 20  # people and problems listed in the printed summary, at most


@dataclass
class PersonTrack:
    """One person through a sequence: their lifted self in each frame they are in, by frame index in order."""

    id: int
    by_frame: dict[int, LiftedPerson]

    @property
    def frames(self) -> list[int]:
        return list(self.by_frame)

    def motion(self, num_frames: int, fps: float) -> animation.MotionTrack:
        """Their BVH motion over all the sequence's frames, in camera space (every frame of theirs is placed)."""
        placed = {f: person.joints3d + person.pelvis_mm for f, person in self.by_frame.items()}
        return animation.MotionTrack.over_frames(placed, num_frames, fps)


def lift_frames(sequence: kp.KeypointSequence, ids: list[list[int]], lifter: Lifter, input_mode: str,
                  intrinsics: list[np.ndarray | None]) -> list[list[LiftedPerson]]:
    """Every person of every frame lifted, in one batched pass, and placed where the frame has intrinsics."""
    people = [(f, pid, keypoints) for f, frame in enumerate(sequence.frames)
              for pid, keypoints in zip(ids[f], frame.people)]
    flat = lift_people(np.stack([keypoints for _, _, keypoints in people]), sequence.layout, lifter, input_mode,
                       [intrinsics[f] for f, _, _ in people], [pid for _, pid, _ in people])
    lifted: list[list[LiftedPerson]] = [[] for _ in sequence.frames]
    for (f, _, _), person in zip(people, flat):
        lifted[f].append(person)
    return lifted


# Keypoint files that hold a video (a folder of OpenPose frames, MMPose's predictions of a video), which the
# temporal model lifts; COCO files hold photos (results or annotations of unrelated images), lifted one by one.
VIDEO_FORMATS = ("openpose", "mmpose")
MIN_VIDEO_FRAMES = 3


def is_video(sequence: kp.KeypointSequence) -> bool:
    return sequence.format in VIDEO_FORMATS and len(sequence.frames) >= MIN_VIDEO_FRAMES


def lift_over_time(lifted: list[list[LiftedPerson]], temporal: SequenceLifter | MirrorAveraged, fps: float) -> None:
    """Replace each tracked person's per-frame 3D with the temporal model's, over their frames (the others are
    gaps), and place them again."""
    for track in person_tracks(lifted).values():
        joints = np.zeros((len(lifted), sk.NUM_JOINTS, 3))
        found = np.zeros(len(lifted), dtype=bool)
        for f, person in track.by_frame.items():
            joints[f], found[f] = person.joints2d, True
        poses = lift_sequence(temporal, joints, found, fps)
        for f, person in track.by_frame.items():
            person.joints3d = poses[f]
            if person.intrinsics is not None:
                person.pelvis_mm = camera.place_pelvis(person.joints2d, poses[f], person.intrinsics)


def person_tracks(lifted: list[list[LiftedPerson]]) -> dict[int, PersonTrack]:
    """The lifted sequence regrouped by track id."""
    tracks: dict[int, PersonTrack] = {}
    for f, people in enumerate(lifted):
        for person in people:
            tracks.setdefault(person.id, PersonTrack(person.id, {})).by_frame[f] = person
    return dict(sorted(tracks.items()))


def keypoint_frame_record(index: int, fps: float, frame: kp.Frame, people: list[LiftedPerson],
                          layout: sk.KeypointLayout) -> dict:
    """One JSON line: the frame, its people by track id (the detector's keypoints and the model's joints)."""
    return {
        "frame": index, "time_s": round(index / fps, 4), "name": frame.name,
        "people": [{"id": person.id, **person.placement(),
                    "keypoints": [{"name": name, "pixel": rounded(k[:2], 2), "confidence": round(float(k[2]), 3)}
                                  for name, k in zip(layout.keypoints, person.keypoints)],
                    "joints": joints_record(person.joints2d, person.joints3d)} for person in people],
        "problems": frame.problems,
    }


def people_figure(sequence: kp.KeypointSequence, lifted: list[list[LiftedPerson]], weights: Path):
    """The 3D figure of the frame with the most people (the first such), one panel per person: the
    MAX_FIGURE_PEOPLE largest in the image when there are more, and the title says how many were left out."""
    index = max(range(len(lifted)), key=lambda f: len(lifted[f]))
    people = lifted[index]
    shown = sorted(people, key=lambda p: -kp.pose_sizes(p.joints2d[None])[0])[:MAX_FIGURE_PEOPLE]
    left_out = (f"; the {len(shown)} largest in the image shown, {len(people) - len(shown)} left out"
                if len(shown) < len(people) else "")
    return visualize.figure_people_3d(
        [person.joints3d for person in shown], [f"id {person.id}" for person in shown],
        title=f"{sequence.path.name}, frame {sequence.frames[index].name} ({len(people)} people{left_out}), "
              f"lifted by {weights.name}")


def frame_images(sequence: kp.KeypointSequence, folder: Path) -> list[Path | None]:
    """The image of each frame in --images FOLDER (None where there is none), refusing a folder without any."""
    if not folder.is_dir():
        raise SystemExit(f"error: --images {folder}: no such folder.")
    images = sorted(p for p in folder.iterdir() if p.is_file() and media_kind(p) == "image" and not is_own_output(p))
    matched = kp.match_frame_images(sequence.frames, images)
    if not any(matched):
        raise SystemExit(f"error: --images {folder}: no image there matches a frame of {sequence.path} (by file name, "
                         f"stem or COCO image id), and there are {len(images)} images for {len(sequence.frames)} frames.")
    return matched


def keypoint_stem(sequence: kp.KeypointSequence) -> str:
    """The name of a keypoint file without its suffix, or of a keypoint folder."""
    return sequence.path.stem if sequence.path.is_file() else sequence.path.name


def keypoint_outputs(sequence: kp.KeypointSequence, images: list[Path | None], out_dir: Path) -> OutputSet:
    """What a --keypoints run owns in out_dir: its JSON lines and figure, the frames' overlays, every person's BVH."""
    stem = keypoint_stem(sequence)
    overlays = [out_dir / f"{image.stem}{OUTPUT_ENDINGS['keypoints']['overlay']}" for image in images if image]
    return OutputSet([*output_paths(stem, "keypoints", out_dir).values(), *overlays], out_dir,
                     (f"{stem}{PERSON_BVH_ENDING.format(id='*')}",))


def write_keypoint_outputs(sequence: kp.KeypointSequence, lifted: list[list[LiftedPerson]], images: list[Path | None],
                           out_dir: Path, fps: float, weights: Path, bvh: bool = False,
                           view_about: str | None = None) -> tuple[list[Path], int]:
    """The JSON lines, the 3D figure, the 3D view (unless view_about is None), with bvh a BVH per tracked person,
    and the overlays, all or nothing; returns the paths of all but the overlays, and how many overlays there are."""
    stem = keypoint_stem(sequence)
    outputs = output_paths(stem, "keypoints", out_dir)
    records = [keypoint_frame_record(f, fps, frame, people, sequence.layout)
               for f, (frame, people) in enumerate(zip(sequence.frames, lifted))]
    written, overlays = [outputs["jsonl"], outputs["figure"]], 0
    with atomic_outputs() as stage:
        stage(outputs["jsonl"]).write_text("".join(to_json(r) + "\n" for r in records), encoding="utf-8")
        visualize.save_figure(people_figure(sequence, lifted, weights), stage(outputs["figure"]))
        if view_about is not None:
            frames = [[viewer.from_record(person) for person in record["people"]] for record in records]
            stage(outputs["view"]).write_text(viewer.page(frames, fps, sequence.path.name, view_about), encoding="utf-8")
            written.append(outputs["view"])
        for track in person_tracks(lifted).values() if bvh else ():
            path = person_bvh_path(out_dir, stem, track.id)
            stage(path).write_text(track.motion(len(sequence.frames), fps).bvh_text(), encoding="utf-8")
            written.append(path)
        for image_path, people in zip(images, lifted):
            if image_path is None:
                continue
            overlay = out_dir / f"{image_path.stem}{OUTPUT_ENDINGS['keypoints']['overlay']}"
            drawn = visualize.draw_people(read_image(image_path), [p.joints2d for p in people],
                                          [f"id {p.id}" for p in people])
            visualize.encode_image(stage(overlay), drawn, overlay)
            overlays += 1
    return written, overlays


def keypoint_summary(sequence: kp.KeypointSequence, tracks: dict[int, PersonTrack], bvh: bool = False) -> str:
    """What was lifted, who was tracked where (with bvh: the gaps in their BVH), and the problems met:
    SUMMARY_LINES of each at most, and how many more (every problem is in the JSON lines too)."""
    total = len(sequence.frames)
    empty = [frame.name for frame in sequence.frames if not frame.people and not frame.problems]
    lines = [f"{sequence.path}: {sequence.format} keypoints, {sequence.layout.name} layout, {len(sequence.frames)} frames, "
             f"{len(tracks)} people tracked"]
    gaps = {t.id: total - len(t.frames) for t in tracks.values()} if bvh else {}
    lines += [f"  id {t.id}: {len(t.frames)} frames ({sequence.frames[t.frames[0]].name} to "
              f"{sequence.frames[t.frames[-1]].name})"
              + (f"; in its BVH the other {gaps[t.id]} hold its last (or first) pose" if gaps.get(t.id) else "")
              for t in list(tracks.values())[:SUMMARY_LINES]]
    if len(tracks) > SUMMARY_LINES:
        lines.append(f"  ... and {len(tracks) - SUMMARY_LINES} more people (every id is in the JSON lines)")
    if empty:
        lines.append(f"  no people in {len(empty)} frames: {', '.join(empty[:10])}{', ...' if len(empty) > 10 else ''}")
    if sequence.problems:
        lines.append(f"  {len(sequence.problems)} problem(s); those frames or people were skipped:")
        lines += [f"    {problem}" for problem in sequence.problems[:SUMMARY_LINES]]
        if len(sequence.problems) > SUMMARY_LINES:
            lines.append(f"    ... and {len(sequence.problems) - SUMMARY_LINES} more (each frame's are in its JSON line)")
    return "\n".join(lines)


def check_frame_sizes(sequence: kp.KeypointSequence, intrinsics: list[np.ndarray | None], bvh: bool) -> None:
    """Placing people in camera space needs their frame's size: refuse --bvh without it, note the records' lack."""
    unsized = [frame.name for frame, k in zip(sequence.frames, intrinsics) if frame.people and k is None]
    if not unsized:
        return
    where = f"{len(unsized)} frames with people (e.g. {unsized[0]}) of {sequence.path}"
    if bvh:
        raise SystemExit(f"error: --bvh places each person in camera space, which needs the frame size in pixels, "
                         f"unknown for {where}: give --image-size WIDTH HEIGHT, or --images FOLDER with the frames.")
    print(f"note: the frame size is unknown for {where}, so their people are not placed in camera space "
          f"(no pelvis_camera_mm); give --image-size WIDTH HEIGHT or --images FOLDER to place them.", file=sys.stderr)


def temporal_for(sequence: kp.KeypointSequence, args: argparse.Namespace,
                 input_mode: str) -> SequenceLifter | MirrorAveraged | None:
    """The temporal model for a keypoint video whose per-frame model it was built on, saying which; else None."""
    if args.video_weights is None or not is_video(sequence):
        return None
    try:
        temporal, checkpoint = load_sequence_lifter(args.video_weights, resolve_device(args.device))
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from err
    if checkpoint["input_mode"] != input_mode:
        print(f"note: {args.video_weights} builds on a model for --input {checkpoint['input_mode']}, not this file's "
              f"{input_mode}; lifting frame by frame (give --video-weights of a {input_mode} temporal model)",
              file=sys.stderr)
        return None
    print(f"video: the temporal model {args.video_weights}, offline, at {args.fps:g} fps (--fps)")
    return MirrorAveraged(temporal) if args.flip else temporal


def run_keypoints(args: argparse.Namespace) -> int:
    """Lift every person of a keypoint file or folder; returns the exit status (1 when a frame had a problem)."""
    try:
        sequence = kp.read_keypoints(args.keypoints, args.annotations,
                                     tuple(args.image_size) if args.image_size else None)
    except kp.KeypointError as err:
        raise SystemExit(f"error: {err}") from err
    images = frame_images(sequence, Path(args.images)) if args.images else [None] * len(sequence.frames)
    intrinsics = kp.frame_intrinsics(sequence.frames, images, args.focal)
    check_frame_sizes(sequence, intrinsics, args.bvh)
    owned = keypoint_outputs(sequence, images, Path(args.out))
    refuse_existing([(str(sequence.path), owned)], args.force)
    weights, note = (args.weights, None) if args.weights else weights_for_layout(sequence.layout.name)
    if note:
        print(f"note: {note}", file=sys.stderr)
    weights = Path(weights)
    lifter, checkpoint = load_for_inference(weights, args.device)
    lifter = MirrorAveraged(lifter) if args.flip else lifter
    print(f"weights: {weights} (trained with --input {checkpoint['input_mode']}) for {sequence.layout.name} keypoints")
    lifted = lift_frames(sequence, kp.track_people(sequence), lifter, checkpoint["input_mode"], intrinsics)
    temporal = temporal_for(sequence, args, checkpoint["input_mode"])
    if temporal is not None:
        lift_over_time(lifted, temporal, args.fps)
    with output_folder(args.out) as out_dir, owned.replaced():
        how = " and the temporal model, offline" if temporal is not None else ", frame by frame"
        about = None if args.no_html else view_about(sequence.path, weights, how)
        written, overlays = write_keypoint_outputs(sequence, lifted, images, out_dir, args.fps, weights, args.bvh, about)
    print(keypoint_summary(sequence, person_tracks(lifted), args.bvh))
    print(f"{sequence.path}: wrote " + ", ".join(map(str, written)) + (f" and {overlays} overlays" if overlays else ""))
    return 1 if sequence.problems else 0
