"""infer.py --bvh and the camera-space placement in its records: a photo, a video and a video without anyone."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import infer
import mocap
from test_infer import GRACE_HOPPER, blank_image, clip, weights, write_video  # noqa: F401 (fixtures)
import infer_video
import bvh
import animation


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """infer.main sets torch's thread count for the process: restore it for the other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _photo_record(weights, out, *flags) -> dict:
    assert infer.main([str(GRACE_HOPPER), "--weights", str(weights), "--out", str(out), *flags]) == 0
    image_record = json.loads((out / "grace_hopper_pose.json").read_text())
    for key in ("pelvis_camera_mm", "focal_px", "reprojection_error_px"):
        assert key in image_record["coordinates"]
    return image_record["people"][0]


def test_a_photo_is_placed_in_camera_space_and_written_as_bvh(weights, tmp_path):
    record = _photo_record(weights, tmp_path / "a", "--bvh")
    for key in ("pelvis_camera_mm", "focal_px", "reprojection_error_px"):
        assert key in record
    # grace_hopper.jpg (512 x 600) has no EXIF: the default 60 degree horizontal field of view.
    assert record["focal_px"] == pytest.approx(256 / math.tan(math.radians(30)), abs=0.1)
    x, y, z = record["pelvis_camera_mm"]
    assert 300 < z < 3000  # a head-and-shoulders portrait: close
    assert record["reprojection_error_px"] < 15
    clip_ = bvh.read_bvh(tmp_path / "a" / "grace_hopper_person1.bvh")
    assert len(clip_.values) == 1 and mocap.detect_rig(clip_.skeleton).name == "infer_bvh"
    # Twice the focal length: the same picture of the same body about twice as far away (not exactly:
    # at half a metre the body's own depth changes the perspective).
    longer = _photo_record(weights, tmp_path / "b", "--focal", str(2 * record["focal_px"]))
    assert 1.7 * z < longer["pelvis_camera_mm"][2] < 2.05 * z
    assert not list((tmp_path / "b").glob("*.bvh"))  # only with --bvh


def test_a_video_walks_across_the_bvh_and_gaps_keep_the_last_pose(weights, clip, tmp_path, capsys):
    assert infer.main([str(clip), "--weights", str(weights), "--out", str(tmp_path), "--bvh", "--smooth"]) == 0
    assert "in clip_person1.bvh the other 2 hold their last (or first) pose" in capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "clip_joints.jsonl").read_text().splitlines()]
    assert {p["id"] for r in records for p in r["people"]} == {1}
    people = [r["people"][0] if r["people"] else None for r in records]
    seen = [p for p in people if p is not None]
    assert all(r["focal_px"] == seen[0]["focal_px"] for r in seen)
    clip_bvh = bvh.read_bvh(tmp_path / "clip_person1.bvh")
    assert len(clip_bvh.values) == 10 and clip_bvh.frame_time == pytest.approx(0.1)
    assert np.array_equal(clip_bvh.values[4], clip_bvh.values[3]) and np.array_equal(clip_bvh.values[5], clip_bvh.values[3])
    # The photo slides 6 px a frame to the right: so do the pelvis and the BVH's root (x: the camera's right).
    assert seen[-1]["pelvis_camera_mm"][0] > seen[0]["pelvis_camera_mm"][0]
    assert clip_bvh.values[-1, 0] > clip_bvh.values[0, 0]
    # Read back, the file gives the records' joints (normalised) to within a millimetre.
    filled = np.stack([infer_video.camera_joints(people[3 if i in (4, 5) else i]) for i in range(10)])
    _, normalised = animation.lifted_to_clip(animation.camera_to_world(filled), 10.0)
    assert np.abs(mocap.clip_to_mpiinf(clip_bvh) * mocap.UNIT_TO_MM["cm"] - normalised).max() < 1.0


def test_a_video_without_anyone_writes_no_bvh_and_says_so(weights, tmp_path, capsys):
    wall = write_video(tmp_path / "wall.mp4", [np.full((120, 160, 3), 128, np.uint8)] * 3)
    assert infer.main([str(wall), "--weights", str(weights), "--out", str(tmp_path), "--bvh"]) == 1
    assert "no person in any of its 3 frames, so no wall_person<ID>.bvh was written" in capsys.readouterr().err
    assert (tmp_path / "wall_joints.jsonl").exists() and not list(tmp_path.glob("*.bvh"))


def test_bad_focal_and_bvh_name_clashes_are_refused(tmp_path, capsys):
    photo = blank_image(tmp_path / "x.jpg")
    with pytest.raises(SystemExit) as exit_:
        infer.parse_args([str(photo), "--focal", "0"])
    assert exit_.value.code == 2 and "--focal must be a positive" in capsys.readouterr().err
    video = write_video(tmp_path / "x.mp4", [np.zeros((64, 64, 3), np.uint8)])
    infer.check_distinct_stems([photo, video])  # without --bvh their outputs differ
    with pytest.raises(SystemExit, match="would both write"):
        infer.check_distinct_stems([photo, video], bvh=True)
