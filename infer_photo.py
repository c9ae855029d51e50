"""infer.py's photos: the people finder finds everyone, the model lifts them all in one pass, and the
image's files are written: the overlay, the 2D-in-3D figure, one JSON record per person, the 3D view."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import animation
import camera
import skeleton_utils as sk
import viewer
import visualize
from atomic import atomic_outputs
from infer_lifting import LiftedPerson, lift_detections
from infer_outputs import (COORDINATES, InputFailed, output_paths, people_records, person_bvh_path, read_image,
                           to_readable_json, view_about)
from model import Lifter
from people_finder import PeopleFinder


def image_record(path: Path, image: np.ndarray, people: list[LiftedPerson], weights: Path, checkpoint: dict) -> dict:
    height, width = image.shape[:2]
    return {
        "image": {"path": str(path.resolve()), "width": width, "height": height},
        "weights": str(weights.resolve()),
        "model": {"arch": checkpoint["arch"], "input_mode": checkpoint["input_mode"]},
        "coordinates": COORDINATES,
        "people": people_records(people),
    }


def pose_figure(path: Path, people: list[LiftedPerson], weights: Path):
    """Everyone's 2D input drawn flat at depth 0 beside their 3D poses where they stand (camera space)."""
    return visualize.figure_2d_in_3d_and_3d(
        [p.joints2d for p in people], [p.joints3d + p.pelvis_mm for p in people],
        [f"id {p.id}" for p in people],
        title=f"{path.name}, {len(people)} {'person' if len(people) == 1 else 'people'}, lifted by {weights.name}  "
              f"(hollow, dotted: joints MediaPipe did not see)")


def lift_photo(image: np.ndarray, path: Path, finder: PeopleFinder, lifter: Lifter, input_mode: str,
               focal: float | None, max_people: int | None) -> list[LiftedPerson]:
    """Everyone the finder finds in the photo (largest first, ids 1, 2, ...), lifted and placed in camera space."""
    found = finder.find(image, max_people)
    if not found:
        raise InputFailed(f"{path}: no person found (MediaPipe's person detector found no body). Use a photo in which "
                          f"a person's head, shoulders and hips are visible.")
    intrinsics = camera.image_intrinsics(image.shape, focal, path)[0]
    return lift_detections(found, lifter, intrinsics, input_mode, list(range(1, len(found) + 1)))


def process_image(path: Path, out_dir: Path, finder: PeopleFinder, lifter: Lifter, weights: Path,
                  checkpoint: dict, show: bool, focal: float | None = None, bvh: bool = False,
                  html: bool = True, max_people: int | None = None) -> list[Path]:
    """Find, lift and write the outputs of one image (with html its 3D view, with bvh a pose per person), all
    or nothing; returns their paths."""
    image = read_image(path)
    people = lift_photo(image, path, finder, lifter, checkpoint["input_mode"], focal, max_people)
    outputs = output_paths(path.stem, "image", out_dir)
    if not html:
        del outputs["view"]
    text = to_readable_json(image_record(path, image, people, weights, checkpoint))  # fails before any write
    overlay = visualize.draw_people(image, [p.keypoints[list(sk.MEDIAPIPE_TO_COCO17)] for p in people],
                                    [f"id {p.id}" for p in people])
    written = list(outputs.values())
    with atomic_outputs() as stage:
        visualize.encode_image(stage(outputs["overlay"]), overlay, outputs["overlay"])
        visualize.save_figure(pose_figure(path, people, weights), stage(outputs["figure"]))
        stage(outputs["json"]).write_text(text, encoding="utf-8")
        if html:
            persons = [viewer.ViewPerson(p.joints2d, p.joints3d, p.pelvis_mm, p.id) for p in people]
            stage(outputs["view"]).write_text(viewer.page([persons], 1.0, path.name, view_about(path, weights)),
                                              encoding="utf-8")
        for person in people if bvh else ():
            (track := animation.MotionTrack()).add(person.joints3d + person.pelvis_mm)
            written.append(person_bvh_path(out_dir, path.stem, person.id))
            stage(written[-1]).write_text(track.bvh_text(), encoding="utf-8")
    if show:  # save_figure closed the saved figure: draw it again for the window
        visualize.show_or_close(pose_figure(path, people, weights), show)
    return written
