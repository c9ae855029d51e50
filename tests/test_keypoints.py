"""Other detectors' keypoints: the layouts, reading each format, tracking, --input coco17 and infer.py --keypoints."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import data_loader as dl
import infer
import keypoints as kp
import mocap
import skeleton_utils as sk
import synthetic
import train
import checkpoints as ckpt
import bvh
import augmentation

# The name each keypoint of a layout takes from the 28 joints: faces at the head, OpenPose's neck and
# mid-hip at ours, heels at the ankles.
FROM_JOINT = {"nose": "head", "left_eye": "head", "right_eye": "head", "left_ear": "head", "right_ear": "head",
              "neck": "neck", "mid_hip": "pelvis", "left_big_toe": "left_toe", "right_big_toe": "right_toe",
              "left_small_toe": "left_toe", "right_small_toe": "right_toe", "left_heel": "left_ankle",
              "right_heel": "right_ankle"}


def as_layout(pose28: np.ndarray, layout: sk.KeypointLayout, confidence: float = 0.9) -> np.ndarray:
    """(28, 2) pixel joints -> (K, 3) keypoints of a layout, all with the given confidence."""
    xy = np.stack([pose28[sk.J[FROM_JOINT.get(name, name)]] for name in layout.keypoints])
    return np.column_stack([xy, np.full(len(xy), confidence)])


@pytest.fixture(scope="module")
def poses() -> np.ndarray:
    """Two people's 2D joints in pixels, (2, 28, 2), the second further right."""
    pose2d = synthetic.generate_poses(2, seed=3)["pose2d"].astype(np.float64)
    return pose2d + np.array([[[0.0, 0.0]], [[900.0, 0.0]]])


# ---------------------------------------------------------------------------
# The layouts (skeleton_utils)
# ---------------------------------------------------------------------------
def test_coco17_mapping_against_hand_computed_joints():
    coco = np.zeros((17, 3))
    points = {"left_ear": (100, 50), "right_ear": (120, 50), "left_shoulder": (150, 100), "right_shoulder": (90, 100),
              "left_elbow": (160, 150), "right_elbow": (80, 150), "left_wrist": (170, 200), "right_wrist": (70, 200),
              "left_hip": (140, 200), "right_hip": (100, 200), "left_knee": (140, 280), "right_knee": (100, 280),
              "left_ankle": (140, 360), "right_ankle": (100, 360)}
    for name, xy in points.items():
        coco[sk.COCO17_NAMES.index(name)] = (*xy, 0.9)
    coco[sk.COCO17_NAMES.index("left_knee"), 2] = 0.2  # below the 0.3 threshold: unseen
    joints = sk.layout_to_mpiinf(coco, sk.COCO17)
    at = {name: joints[sk.J[name]] for name in sk.JOINT_NAMES}
    assert tuple(at["head"]) == (110, 50, 1)
    assert tuple(at["pelvis"]) == (120, 200, 1) and tuple(at["neck"]) == (120, 100, 1)
    assert tuple(at["spine"][:2]) == pytest.approx((120, 200 - 0.08 * 100))
    assert tuple(at["left_knee"]) == (140, 280, 0) and tuple(at["right_knee"]) == (100, 280, 1)
    # No hands or toes in COCO-17: at the wrists and ankles, unseen, and the foot between them unseen too.
    assert tuple(at["left_hand"]) == (170, 200, 0) and tuple(at["right_toe"]) == (100, 360, 0)
    assert tuple(at["left_foot"][:2]) == (140, 360) and at["left_foot"][2] == pytest.approx(0.4)


def test_each_layout_says_which_detector_joints_it_gives():
    hands, toes = ("left_hand", "right_hand"), ("left_toe", "right_toe")
    assert sk.COCO17.unseen_joints == sk.COCO18.unseen_joints == hands + toes
    assert sk.BODY25.unseen_joints == hands and set(toes) <= set(sk.BODY25.seen_joints)
    assert sk.MEDIAPIPE.unseen_joints == ()
    assert {len(layout.keypoints) for layout in sk.LAYOUTS_BY_COUNT.values()} == {17, 18, 25, 33}


def test_body25_gives_the_big_toes_and_a_missing_part_lands_on_its_neighbour(poses):
    body25 = as_layout(poses[0], sk.BODY25)
    body25[sk.BODY25_NAMES.index("right_wrist")] = 0  # OpenPose's "not found": (0, 0), confidence 0
    joints = sk.layout_to_mpiinf(body25, sk.BODY25)
    assert np.allclose(joints[sk.J["left_toe"]], [*poses[0][sk.J["left_toe"]], 1])
    assert np.allclose(joints[sk.J["right_wrist"]], [*poses[0][sk.J["right_elbow"]], 0])
    assert np.allclose(joints[sk.J["right_hand"]], [*poses[0][sk.J["right_elbow"]], 0])


# ---------------------------------------------------------------------------
# Training with --input coco17 never shows a hand or a toe
# ---------------------------------------------------------------------------
def test_coco17_training_input_never_marks_hands_or_toes_visible(poses):
    pose2d, pose3d = torch.tensor(poses, dtype=torch.float32).repeat(50, 1, 1), torch.zeros(100, 28, 3)
    torch.manual_seed(0)
    inputs, _ = augmentation.augmented_batch(pose2d, pose3d, "coco17", augmentation.Augmentation())
    for hidden, stand_in in (("left_hand", "left_wrist"), ("right_toe", "right_ankle")):
        assert (inputs[:, sk.J[hidden], 2] == 0).all()
        assert torch.equal(inputs[:, sk.J[hidden], :2], inputs[:, sk.J[stand_in], :2])
    assert (inputs[:, sk.J["left_knee"], 2] == 1).float().mean() > 0.5  # the others mostly seen
    # Ground truth in coco17 mode is exactly what the layout mapping gives for COCO-17 keypoints.
    from_truth = dl.model_input_from_ground_truth(torch.tensor(poses[:1], dtype=torch.float32), "coco17")[0]
    assert np.allclose(from_truth.numpy(), sk.layout_to_mpiinf(as_layout(poses[0], sk.COCO17), sk.COCO17), atol=1e-3)


@pytest.fixture(scope="module")
def coco17_weights(tmp_path_factory) -> Path:
    """A tiny model trained with train.py --input coco17."""
    out = tmp_path_factory.mktemp("coco17")
    assert train.main(["--input", "coco17", "--synthetic", "2000", "--epochs", "1", "--dim", "32", "--depth", "1",
                       "--heads", "2", "--device", "cpu", "--out", str(out)]) == 0
    return out / train.BEST_WEIGHTS


def test_train_input_coco17_writes_a_coco17_checkpoint(coco17_weights):
    lifter, checkpoint = ckpt.load_lifter(str(coco17_weights))
    assert checkpoint["input_mode"] == "coco17"
    # Its normalisation statistics are those of inputs with the hands at the wrists.
    mean = checkpoint["norm_stats"][0]
    assert torch.allclose(mean[sk.J["left_hand"]], mean[sk.J["left_wrist"]], atol=1e-5)


# ---------------------------------------------------------------------------
# Reading the formats (fixtures written here), with two people, an empty frame and bad frames
# ---------------------------------------------------------------------------
def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def openpose_frame(people: list[np.ndarray]) -> dict:
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()} for p in people]}


@pytest.fixture
def openpose_folder(tmp_path, poses) -> Path:
    """Four BODY_25 frames: two people, nobody, a file that is not JSON, a person with a NaN."""
    folder = tmp_path / "openpose"
    folder.mkdir()
    people = [as_layout(p, sk.BODY25) for p in poses]
    write_json(folder / "clip_000000000000_keypoints.json", openpose_frame(people))
    write_json(folder / "clip_000000000001_keypoints.json", openpose_frame([]))
    (folder / "clip_000000000002_keypoints.json").write_text("{not json")
    nan = people[1].copy()
    nan[4, 0] = np.nan
    (folder / "clip_000000000003_keypoints.json").write_text(json.dumps(openpose_frame([people[0], nan])))
    return folder


def test_openpose_folder_goes_on_past_bad_frames_and_names_them(openpose_folder):
    seq = kp.read_keypoints(openpose_folder)
    assert seq.format == "openpose" and seq.layout is sk.BODY25
    assert [f.name for f in seq.frames] == [f"clip_00000000000{i}" for i in range(4)]
    assert [len(f.people) for f in seq.frames] == [2, 0, 0, 1]
    assert len(seq.problems) == 2
    assert "clip_000000000002_keypoints.json: not a JSON file" in seq.problems[0]
    assert "clip_000000000003_keypoints.json, person 1: keypoint 4 has a NaN" in seq.problems[1]


def test_openpose_coco18_and_a_wrong_keypoint_count(tmp_path, poses):
    frame = openpose_frame([as_layout(p, sk.COCO18) for p in poses])
    frame["people"].append({"pose_keypoints_2d": [1.0] * 20})
    seq = kp.read_keypoints(write_json(tmp_path / "one_keypoints.json", frame))
    assert seq.layout is sk.COCO18 and len(seq.frames[0].people) == 2
    assert seq.problems == [f"{tmp_path / 'one_keypoints.json'}, person 2: 20 keypoint values; expected [x, y, confidence] "
                            f"for 17, 18, 25, 33 keypoints (51, 54, 75, 99 values)"]


def coco_results(poses) -> list[dict]:
    return [{"image_id": 785, "category_id": 1, "keypoints": as_layout(p, sk.COCO17).ravel().tolist(), "score": 0.9}
            for p in poses]


def test_coco_results_with_annotations_name_images_and_keep_empty_ones(tmp_path, poses):
    results = write_json(tmp_path / "results.json", coco_results(poses))
    annotations = write_json(tmp_path / "person_keypoints.json", {
        "images": [{"id": 785, "file_name": "000000000785.jpg", "width": 1920, "height": 1080},
                   {"id": 786, "file_name": "000000000786.jpg", "width": 640, "height": 480}],
        "annotations": [], "categories": [{"id": 1, "name": "person"}]})
    seq = kp.read_keypoints(results, annotations)
    assert seq.format == "coco" and seq.layout is sk.COCO17
    assert [(f.name, f.image_size, len(f.people)) for f in seq.frames] == [
        ("000000000785.jpg", (1920, 1080), 2), ("000000000786.jpg", (640, 480), 0)]
    # Without the annotation file the frames are the results' image ids.
    assert [f.name for f in kp.read_keypoints(results).frames] == ["785"]


def test_a_coco_annotation_file_is_read_as_labelled_keypoints(tmp_path, poses):
    labels = [{**r, "id": i, "num_keypoints": 17} for i, r in enumerate(coco_results(poses))]
    labels.append({"image_id": 785, "id": 9, "num_keypoints": 0, "keypoints": [0] * 51})  # a crowd: skipped
    path = write_json(tmp_path / "labels.json", {"images": [{"id": 785, "file_name": "a.jpg", "width": 9, "height": 9}],
                                                 "annotations": labels})
    seq = kp.read_keypoints(path)
    assert len(seq.frames[0].people) == 2 and not seq.problems


@pytest.mark.parametrize("shape", ["returned", "video", "demo", "one image"])
def test_mmpose_predictions_in_each_shape(tmp_path, poses, shape):
    def instance(pose):
        k = as_layout(pose, sk.COCO17)
        return {"keypoints": k[:, :2].tolist(), "keypoint_scores": k[:, 2].tolist(), "bbox": [[0, 0, 9, 9]], "bbox_score": 0.9}

    frames = [[instance(p) for p in poses], []]
    data = {"returned": {"predictions": frames, "visualization": []},
            "video": [{"frame_id": i, "instances": f} for i, f in enumerate(frames)],
            "demo": {"meta_info": {}, "instance_info": [{"frame_id": i + 1, "instances": f} for i, f in enumerate(frames)]},
            "one image": frames[0]}[shape]
    seq = kp.read_keypoints(write_json(tmp_path / "pred.json", data))
    assert seq.format == "mmpose" and seq.layout is sk.COCO17
    assert [len(f.people) for f in seq.frames] == ([2] if shape == "one image" else [2, 0])
    assert np.allclose(seq.frames[0].people[1][:, :2], as_layout(poses[1], sk.COCO17)[:, :2])


def test_unknown_shapes_and_files_that_are_not_json_are_refused_clearly(tmp_path):
    with pytest.raises(kp.KeypointError, match=r"other\.json: not a keypoint format this reads; found a JSON object "
                                                r"with the keys \['boxes', 'labels'\]\. The formats read are:\n  OpenPose"):
        kp.read_keypoints(write_json(tmp_path / "other.json", {"boxes": [], "labels": []}))
    (tmp_path / "broken.json").write_text("[1, 2")
    with pytest.raises(kp.KeypointError, match=r"broken\.json: not a JSON file"):
        kp.read_keypoints(tmp_path / "broken.json")
    with pytest.raises(kp.KeypointError, match="no person in any frame"):
        kp.read_keypoints(write_json(tmp_path / "empty_keypoints.json", openpose_frame([])))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(kp.KeypointError, match="holds no .json files"):
        kp.read_keypoints(tmp_path / "nothing")


def test_normalised_coordinates_need_the_image_size(tmp_path, poses):
    people = [as_layout(p, sk.COCO17) for p in poses]
    for p in people:
        p[:, :2] /= 4000.0
    path = write_json(tmp_path / "n_keypoints.json", openpose_frame(people))
    with pytest.raises(kp.KeypointError, match="--image-size"):
        kp.read_keypoints(path)
    seq = kp.read_keypoints(path, image_size=(4000, 4000))
    assert np.allclose(seq.frames[0].people[0][:, :2], as_layout(poses[0], sk.COCO17)[:, :2])


# ---------------------------------------------------------------------------
# Tracking
# ---------------------------------------------------------------------------
def test_ids_survive_two_people_crossing_paths_slowly(poses):
    """The same pose twice, walking towards each other through the same place, 8 px a frame."""
    body = as_layout(poses[0] - poses[0].mean(0), sk.COCO17)
    tracker = kp.PoseTracker()
    ids_of_a = []
    for t in range(60):
        a, b = body.copy(), body.copy()
        a[:, 0] += 200 + 8 * t
        b[:, 0] += 680 - 8 * t
        order = [a, b] if t % 2 else [b, a]  # detectors list people in no particular order
        ids = tracker.update([sk.layout_detector_joints(p, sk.COCO17) for p in order])
        ids_of_a.append(ids[0 if t % 2 else 1])
    assert ids_of_a == [ids_of_a[0]] * 60


def test_a_person_missed_briefly_keeps_the_id_and_a_newcomer_gets_a_new_one(poses):
    a = sk.layout_detector_joints(as_layout(poses[0], sk.COCO17), sk.COCO17)
    b = sk.layout_detector_joints(as_layout(poses[1], sk.COCO17), sk.COCO17)
    tracker = kp.PoseTracker()
    assert tracker.update([a]) == [1]
    assert tracker.update([]) == []
    assert tracker.update([b, a]) == [2, 1]


# ---------------------------------------------------------------------------
# infer.py --keypoints, end to end
# ---------------------------------------------------------------------------
def test_infer_lifts_everyone_writes_overlays_and_lists_problems(openpose_folder, coco17_weights, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.setattr(ckpt, "BUNDLED_COCO17_WEIGHTS", str(coco17_weights))
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        cv2.imwrite(str(images / f"clip_00000000000{i}.png"), np.full((1080, 1920, 3), 90, np.uint8))
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    status = infer.main(["--keypoints", str(openpose_folder), "--images", str(images), "--out", str(out), "--fps", "25"])
    torch.set_num_threads(threads)
    printed = capsys.readouterr()
    assert status == 1  # two frames had problems; the others were lifted
    assert f"weights: {coco17_weights} (trained with --input coco17) for body25 keypoints" in printed.out
    assert "2 problem(s)" in printed.out and "not a JSON file" in printed.out and "no people in 1 frames" in printed.out
    records = [json.loads(line) for line in (out / "openpose_people.jsonl").read_text().splitlines()]
    assert [len(r["people"]) for r in records] == [2, 0, 0, 1] and records[1]["time_s"] == 0.04
    first, second = records[0]["people"]
    assert {first["id"], second["id"]} == {1, 2} and records[3]["people"][0]["id"] == first["id"]
    joints = {j["name"]: j for j in first["joints"]}
    assert joints["left_hand"]["visibility"] == 0 and joints["left_toe"]["visibility"] == 0  # a coco17 model
    assert np.isfinite([j["mm"] for j in first["joints"]]).all()
    assert (out / "openpose_people3d.png").stat().st_size > 0
    assert sorted(p.name for p in out.glob("*_overlay_people.jpg")) == [
        f"clip_00000000000{i}_overlay_people.jpg" for i in range(4)]
    assert not list(out.glob(".*tmp*"))


def test_infer_falls_back_to_the_default_model_with_a_note(tmp_path, monkeypatch, capsys, poses):
    monkeypatch.setattr(ckpt, "BUNDLED_COCO17_WEIGHTS", str(tmp_path / "absent.pth"))
    path = write_json(tmp_path / "results.json", coco_results(poses))
    threads = torch.get_num_threads()
    assert infer.main(["--keypoints", str(path), "--out", str(tmp_path)]) == 0
    torch.set_num_threads(threads)
    printed = capsys.readouterr()
    assert "note: no model for coco17 keypoints" in printed.err
    assert "(trained with --input mediapipe) for coco17 keypoints" in printed.out


def test_infer_refuses_an_unknown_file_and_writes_nothing(tmp_path):
    path = write_json(tmp_path / "boxes.json", [{"bbox": [0, 0, 1, 1]}])
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="not a keypoint format this reads; found a JSON list of 1 objects"):
        infer.main(["--keypoints", str(path), "--out", str(out)])
    assert not out.exists()
    with pytest.raises(SystemExit):
        infer.main(["--keypoints", str(path), "photo.jpg"])


@pytest.fixture
def crossing_folder(tmp_path, poses) -> Path:
    """30 BODY_25 frames of two people walking past each other, 15 px a frame: person A (first seen on the
    left) walks right, person B walks left and is missed in frame 10."""
    folder = tmp_path / "crossing"
    folder.mkdir()
    bodies = [as_layout(p - p.mean(0) + (0.0, 540.0), sk.BODY25) for p in poses]
    for t in range(30):
        a, b = bodies[0].copy(), bodies[1].copy()
        a[:, 0] += 500 + 15 * t
        b[:, 0] += 1400 - 15 * t
        people = [a] if t == 10 else [b, a] if t % 2 else [a, b]
        write_json(folder / f"walk_{t:012d}_keypoints.json", openpose_frame(people))
    return folder


def lift_keypoints(*argv: str) -> int:
    threads = torch.get_num_threads()
    try:
        return infer.main(["--keypoints", *argv, "--weights", ckpt.BUNDLED_WEIGHTS])
    finally:
        torch.set_num_threads(threads)


def test_infer_bvh_writes_one_file_per_person_that_follows_them(crossing_folder, tmp_path, capsys):
    out = tmp_path / "out"
    status = lift_keypoints(str(crossing_folder), "--bvh", "--image-size", "1920", "1080", "--focal", "1500",
                            "--fps", "25", "--out", str(out))
    printed = capsys.readouterr().out
    assert status == 0
    assert sorted(p.name for p in out.glob("*.bvh")) == ["crossing_person1.bvh", "crossing_person2.bvh"]
    assert "id 2: 29 frames" in printed and "in its BVH the other 1 hold its last (or first) pose" in printed
    records = [json.loads(line) for line in (out / "crossing_people.jsonl").read_text().splitlines()]
    first = {person["id"]: person for person in records[0]["people"]}
    last = {person["id"]: person for person in records[-1]["people"]}
    assert first[1]["focal_px"] == 1500 and first[1]["reprojection_error_px"] >= 0
    # Person 1 starts on the left and walks right (+x in camera space); person 2 the other way.
    assert first[1]["pelvis_camera_mm"][0] < first[2]["pelvis_camera_mm"][0]
    assert last[1]["pelvis_camera_mm"][0] - first[1]["pelvis_camera_mm"][0] > 500
    assert last[2]["pelvis_camera_mm"][0] - first[2]["pelvis_camera_mm"][0] < -500
    for pid, direction in ((1, 1), (2, -1)):
        clip = bvh.read_bvh(out / f"crossing_person{pid}.bvh")
        joints = mocap.clip_to_mpiinf(clip)
        assert joints.shape == (30, 28, 3) and clip.frame_time == pytest.approx(1 / 25, abs=1e-6)
        pelvis_x = joints[:, sk.J["pelvis"], 0]  # BVH X is the camera's right, in cm
        assert direction * (pelvis_x[-1] - pelvis_x[0]) > 50
        assert np.all(direction * np.diff(pelvis_x) > -5)  # steadily, with no jump to the other person
    # The frame without person 2 repeats its last pose.
    person2 = mocap.clip_to_mpiinf(bvh.read_bvh(out / "crossing_person2.bvh"))
    assert np.allclose(person2[10], person2[9], atol=1e-3)


def test_flip_lifts_the_keypoint_video_mirrored_too_with_the_temporal_model(crossing_folder, tmp_path, capsys):
    joints = {}
    for flag in ((), ("--flip",)):
        out = tmp_path / ("flip" if flag else "plain")
        assert lift_keypoints(str(crossing_folder), "--video-weights", ckpt.BUNDLED_TEMPORAL_WEIGHTS, "--fps", "25",
                              "--out", str(out), *flag) == 0
        assert "the temporal model" in capsys.readouterr().out
        records = [json.loads(line) for line in (out / "crossing_people.jsonl").read_text().splitlines()]
        joints[flag] = np.array([[j["mm"] for j in p["joints"]] for r in records for p in r["people"]])
    change = np.linalg.norm(joints[("--flip",)] - joints[()], axis=-1).mean()
    assert 0.1 < change < 30.0  # the mirrored lift averaged in: a small correction, not another pose


def test_infer_bvh_needs_the_frame_size_and_writes_nothing_without_it(crossing_folder, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"--bvh places each person in camera space.*30 frames with people.*"
                                         r"--image-size WIDTH HEIGHT, or --images FOLDER"):
        lift_keypoints(str(crossing_folder), "--bvh", "--out", str(out))
    assert not out.exists()
    # Without --bvh the records are written, unplaced, with a note saying why.
    assert lift_keypoints(str(crossing_folder), "--out", str(out)) == 0
    assert "no pelvis_camera_mm" in capsys.readouterr().err
    record = json.loads((out / "crossing_people.jsonl").read_text().splitlines()[0])
    assert "pelvis_camera_mm" not in record["people"][0] and not list(out.glob("*.bvh"))


def test_frame_intrinsics_take_the_known_size_else_the_image_file(tmp_path):
    image = tmp_path / "b.png"
    cv2.imwrite(str(image), np.zeros((480, 640, 3), np.uint8))
    frames = [kp.Frame("a", image_size=(1920, 1080)), kp.Frame("b"), kp.Frame("c")]
    a, b, c = kp.frame_intrinsics(frames, [image, image, None], focal=1000.0)
    assert a.tolist() == [1000, 1000, 960, 540] and b.tolist() == [1000, 1000, 320, 240] and c is None


def test_a_coco_file_in_an_openpose_folder_is_named_as_mixing_formats(openpose_folder, poses):
    coco = [{"image_id": 1, "category_id": 1, "keypoints": as_layout(poses[0], sk.COCO17).ravel().tolist(), "score": 0.9}]
    write_json(openpose_folder / "results.json", coco)
    sequence = kp.read_keypoints(openpose_folder)
    problems = "\n".join(sequence.problems)
    assert "results.json: a COCO keypoint results file, which holds a whole sequence, in a folder of per-frame " \
           "files: the folder mixes formats" in problems
    assert "not a keypoint format this reads" not in problems.split("results.json")[1].split("\n")[0]


def test_a_crowd_keeps_the_figure_and_the_summary_bounded(tmp_path, poses, capsys):
    import matplotlib.image
    folder = tmp_path / "crowd"
    folder.mkdir()
    base = poses[0] - poses[0].min(0)
    base = base / base.max() * 150
    for t in range(2):
        people = [as_layout(base + (200 * (k % 15) + 2 * t, 200 * (k // 15)), sk.BODY25) for k in range(150)]
        write_json(folder / f"crowd_{t:012d}_keypoints.json", openpose_frame(people))
    out = tmp_path / "out"
    assert lift_keypoints(str(folder), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "150 people tracked" in printed and "... and 130 more people" in printed
    assert printed.count("\n  id ") == 20
    height, width = matplotlib.image.imread(out / "crowd_people3d.png").shape[:2]
    assert height * width < 4000 * 4000  # twelve panels, not 150
    records = [json.loads(line) for line in (out / "crowd_people.jsonl").read_text().splitlines()]
    assert [len(r["people"]) for r in records] == [150, 150]
    assert sorted(p["id"] for p in records[1]["people"]) == list(range(1, 151))  # everyone kept their id
