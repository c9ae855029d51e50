"""infer.py's photos: MediaPipe finds the person, the model lifts them, and its files are written per image."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import animation
import camera
import viewer
import visualize
from atomic import write_text
from detector import PoseDetector
from infer_lifting import LiftedPerson, lift_detection
from infer_outputs import (COORDINATES, InputFailed, coco17_keypoints, output_paths, pose_record, read_image,
                           to_readable_json, view_about, write_bvh)
from model import Lifter


def image_record(path: Path, image: np.ndarray, result: LiftedPerson, weights: Path, checkpoint: dict) -> dict:
    height, width = image.shape[:2]
    return {
        "image": {"path": str(path.resolve()), "width": width, "height": height},
        "weights": str(weights.resolve()),
        "model": {"arch": checkpoint["arch"], "input_mode": checkpoint["input_mode"]},
        "coordinates": COORDINATES,
        **pose_record(result),
    }


def pose_figure(path: Path, result: LiftedPerson, weights: Path):
    """The 2D input drawn flat at depth 0 beside the lifted 3D pose."""
    return visualize.figure_2d_in_3d_and_3d(
        result.joints2d, result.joints3d,
        title=f"{path.name}, lifted by {weights.name}  (hollow, dotted: joints MediaPipe did not see)")


def process_image(path: Path, out_dir: Path, detector: PoseDetector, lifter: Lifter, weights: Path,
                  checkpoint: dict, show: bool, focal: float | None = None, bvh: bool = False,
                  html: bool = True) -> list[Path]:
    """Detect, lift and write the outputs of one image (with html its 3D view); returns their paths."""
    image = read_image(path)
    detection = detector.detect(image)
    if detection is None:
        raise InputFailed(f"{path}: no person found (MediaPipe Pose detected no body). Use a photo in which "
                          f"a person's head, shoulders and hips are visible.")
    result = lift_detection(detection, lifter, camera.image_intrinsics(image.shape, focal, path)[0],
                            checkpoint["input_mode"])
    outputs = output_paths(path.stem, "image", out_dir)
    text = to_readable_json(image_record(path, image, result, weights, checkpoint))  # fails before any write
    visualize.write_image(outputs["overlay"], visualize.draw_coco17(image, coco17_keypoints(detection.landmarks_px)))
    visualize.save_figure(pose_figure(path, result, weights), outputs["figure"])
    write_text(outputs["json"], text)
    if html:
        person = viewer.ViewPerson(result.joints2d, result.joints3d, result.pelvis_mm)
        write_text(outputs["view"], viewer.page([[person]], 1.0, path.name, view_about(path, weights)))
    else:
        del outputs["view"]
    if bvh:
        (track := animation.MotionTrack()).add(result.joints3d + result.pelvis_mm)
        outputs["bvh"] = write_bvh(track, out_dir / f"{path.stem}.bvh", path)
    if show:  # save_figure closed the saved figure: draw it again for the window
        visualize.show_or_close(pose_figure(path, result, weights), show)
    return list(outputs.values())
