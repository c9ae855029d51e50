"""infer.py as a user runs it: a real photo, a photo without a person, a batch, a video, bad weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from matplotlib import cbook

import infer
import skeleton_utils as sk
import visualize
import infer_video
import infer_lifting
import smoothing
import synthetic
import checkpoints as ckpt
import model as model_module

REPO = Path(__file__).resolve().parents[1]
GRACE_HOPPER = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
# No bone of an adult's 28-joint skeleton is this long: the longest, the thigh, is about 400-500 mm.
LONGEST_PLAUSIBLE_BONE_MM = 650.0


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    """The bundled weights when present, else a small model trained for a few seconds on synthetic poses."""
    if Path(ckpt.BUNDLED_WEIGHTS).is_file():
        return Path(ckpt.BUNDLED_WEIGHTS)
    out = tmp_path_factory.mktemp("trained")
    # One thread: on a busy machine with few cores, several would mostly wait for each other (5x slower).
    subprocess.run([sys.executable, str(REPO / "train.py"), "--synthetic", "12000", "--epochs", "6", "--bs", "256",
                    "--lr", "0.004", "--dim", "32", "--depth", "1", "--heads", "2", "--device", "cpu", "--out", str(out)],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out / "best_model_weights.pth"


def run_infer(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "infer.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def blank_image(path: Path, shape=(240, 320, 3)) -> Path:
    cv2.imwrite(str(path), np.full(shape, 128, dtype=np.uint8))
    return path


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photo_run(weights, tmp_path_factory):
    """infer.py on the Grace Hopper photo, run once for the tests that read its outputs."""
    cwd = tmp_path_factory.mktemp("photo")
    return run_infer(GRACE_HOPPER, "--weights", weights, "--out", "results", cwd=cwd), cwd / "results"


def test_photo_writes_overlay_figure_and_json(photo_run):
    proc, out = photo_run
    assert proc.returncode == 0, proc.stderr
    names = {"grace_hopper_overlay_coco17.jpg", "grace_hopper_pose3d.png", "grace_hopper_pose.json",
             "grace_hopper_view.html"}
    assert {p.name for p in out.iterdir()} == names
    for name in names:
        assert name in proc.stdout  # the user is told where the outputs are
    overlay = cv2.imread(str(out / "grace_hopper_overlay_coco17.jpg"))
    assert overlay.shape == cv2.imread(str(GRACE_HOPPER)).shape
    assert cv2.imread(str(out / "grace_hopper_pose3d.png")) is not None
    assert "W0000" not in proc.stderr and "INFO:" not in proc.stderr  # MediaPipe's start-up chatter is silenced


def test_photo_json_describes_both_lifters(photo_run, weights):
    image_record = json.loads((photo_run[1] / "grace_hopper_pose.json").read_text())
    assert image_record["image"] == {"path": str(GRACE_HOPPER.resolve()), "width": 512, "height": 600}
    assert image_record["weights"] == str(Path(weights).resolve())
    assert [p["id"] for p in image_record["people"]] == [1]  # the portrait holds one person
    record = image_record["people"][0]
    x0, y0, x1, y1 = record["box"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 600 and (x1 - x0) * (y1 - y0) > 0.2 * 512 * 600
    assert [j["name"] for j in record["joints"]] == list(sk.JOINT_NAMES)
    assert [m["name"] for m in record["mediapipe_landmarks"]] == list(sk.MEDIAPIPE_LANDMARKS)
    landmarks = np.array([m["pixel"] + [m["visibility"]] for m in record["mediapipe_landmarks"]])
    joints2d = np.array([j["pixel"] + [j["visibility"]] for j in record["joints"]])
    # The model was given exactly what skeleton_utils makes of MediaPipe's landmarks.
    np.testing.assert_allclose(joints2d, sk.mediapipe_to_mpiinf(landmarks), atol=0.02)
    # Grace Hopper's face and shoulders are in the photo, her legs are not.
    visible = dict(zip(sk.JOINT_NAMES, joints2d[:, 2]))
    assert visible["head"] == visible["left_shoulder"] == visible["right_shoulder"] == 1
    assert visible["left_knee"] == visible["right_ankle"] == 0
    world = np.array([m["world_mm"] for m in record["mediapipe_landmarks"]])
    hips = world[[sk.MEDIAPIPE_LANDMARKS.index("left_hip"), sk.MEDIAPIPE_LANDMARKS.index("right_hip")]]
    assert np.abs(hips.mean(0)).max() < 50  # MediaPipe's metric 3D, in mm, centred between the hips


def test_photo_pose_is_finite_with_plausible_bones(photo_run):
    record = json.loads((photo_run[1] / "grace_hopper_pose.json").read_text())["people"][0]
    pose = np.array([j["mm"] for j in record["joints"]])
    assert np.isfinite(pose).all()
    assert np.allclose(pose[sk.ROOT], 0)
    bones = sk.bone_lengths(pose)
    assert bones.max() < LONGEST_PLAUSIBLE_BONE_MM, dict(zip(sk.JOINT_NAMES[1:], bones.round()))
    limbs = {name: bones[[c for _, c in sk.MPIINF_EDGES].index(sk.J[name])]
             for name in ("left_elbow", "right_elbow", "left_knee", "right_knee")}
    # Upper arms and thighs of adults are 200-500 mm; a lifter that collapsed or exploded is far outside.
    assert all(120 < length < 600 for length in limbs.values()), limbs
    head_above_pelvis = pose[sk.J["head"], 1] < -300  # y points down
    assert head_above_pelvis, pose[sk.J["head"]]


def test_image_without_a_person_fails_clearly_and_writes_nothing(weights, tmp_path):
    proc = run_infer(blank_image(tmp_path / "wall.png"), "--weights", weights, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert "wall.png: no person found" in proc.stderr
    assert not (tmp_path / "out").exists()  # the run created it and left nothing in it: removed again


def test_batch_goes_on_past_failures_and_reports_them(weights, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "hopper.jpg").write_bytes(GRACE_HOPPER.read_bytes())
    blank_image(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "notes.txt").write_text("ignored: not an image")
    proc = run_infer(folder, "--weights", weights, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "hopper_overlay_coco17.jpg", "hopper_pose3d.png", "hopper_pose.json", "hopper_view.html"}
    assert "1 of 3 inputs processed; 2 failed" in proc.stdout
    assert "broken.jpg: cannot read the image" in proc.stdout
    assert "wall.png: no person found" in proc.stdout


def test_corrupt_weights_fail_clearly_before_anything_is_written(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00garbage" * 50)
    proc = run_infer(GRACE_HOPPER, "--weights", corrupt, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"error: {corrupt}: cannot read the weights file; it is corrupt" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_weights_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="weights file not found"):
        infer.main([str(GRACE_HOPPER), "--weights", str(tmp_path / "none.pth"), "--out", str(tmp_path / "out")])
    monkeypatch.setattr(ckpt, "BUNDLED_WEIGHTS", str(tmp_path / "best_model_weights.pth"))
    with pytest.raises(SystemExit, match="bundled weights are missing; restore them"):
        infer_lifting.load_for_inference(ckpt.BUNDLED_WEIGHTS, torch.device("cpu"))
    assert not (tmp_path / "out").exists()


def test_a_model_trained_on_full_ground_truth_2d_is_used_with_a_warning(capsys):
    infer_lifting.warn_if_not_for_detectors(Path("full.pth"), {"input_mode": "full"})
    assert "full.pth was trained with --input full" in capsys.readouterr().err
    infer_lifting.warn_if_not_for_detectors(Path("mp.pth"), {"input_mode": "mediapipe"})
    assert capsys.readouterr().err == ""


def test_unsupported_file_and_colliding_names_are_refused_up_front(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SystemExit, match="unsupported file type '.txt'"):
        infer.main([str(tmp_path / "notes.txt")])
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.jpg").write_bytes(GRACE_HOPPER.read_bytes())
    with pytest.raises(SystemExit, match="would both write x_"):
        infer.main([str(tmp_path / "a" / "x.jpg"), str(tmp_path / "b" / "x.jpg")])


def test_a_folder_run_skips_what_infer_wrote_there_before(tmp_path, capsys):
    for name in ("photo.jpg", "photo_overlay_coco17.jpg", "photo_pose3d.png", "clip_annotated.mp4", "photo.mp4"):
        (tmp_path / name).write_bytes(b"")
    assert infer.collect_inputs([str(tmp_path)]) == [tmp_path / "photo.jpg", tmp_path / "photo.mp4"]
    assert "skipping 3 files that infer.py wrote" in capsys.readouterr().err
    infer.check_distinct_stems([tmp_path / "photo.jpg", tmp_path / "photo.mp4"])  # an image and a video may share


def test_camera_and_files_are_exclusive():
    with pytest.raises(SystemExit) as exit_info:
        infer.parse_args([str(GRACE_HOPPER), "--camera", "0"])
    assert exit_info.value.code == 2


# ---------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------
def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    video, frames = cv2.VideoCapture(str(path)), []
    ok, frame = video.read()
    while ok:
        frames.append(frame)
        ok, frame = video.read()
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Ten frames: the photo sliding sideways, with two frames of bare wall (frames 4 and 5)."""
    photo = cv2.imread(str(GRACE_HOPPER))
    wall = np.full_like(photo, 128)
    frames = [wall if i in (4, 5) else np.roll(photo, 6 * i, axis=1) for i in range(10)]
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames)


def test_video_writes_annotated_video_and_one_json_line_per_frame(weights, clip, tmp_path):
    proc = run_infer(clip, "--weights", weights, "--out", tmp_path, "--smooth", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "clip_joints.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(10))
    assert [bool(r["people"]) for r in records] == [i not in (4, 5) for i in range(10)]
    assert records[1]["time_s"] == pytest.approx(0.1)
    pose = np.array([j["mm"] for j in records[9]["people"][0]["joints"]])
    assert pose.shape == (28, 3) and np.isfinite(pose).all()
    video = cv2.VideoCapture(str(tmp_path / "clip_annotated.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 10
    ok, frame = video.read()
    assert ok and frame.shape == (600, 512 + 600, 3)  # the frame, then a square 3D panel as high
    assert "people in 8 of 10 frames" in proc.stdout
    for stage in ("fps", "detection", "lifting", "drawing"):
        assert stage in proc.stdout
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left


@pytest.fixture
def keep_torch_threads():
    """infer.main sets torch's thread count for the process: restore it for the other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_max_frames_stops_the_video_early(weights, clip, tmp_path, keep_torch_threads, capsys):
    assert infer.main([str(clip), "--weights", str(weights), "--out", str(tmp_path), "--max-frames", "3"]) == 0
    assert len((tmp_path / "clip_joints.jsonl").read_text().splitlines()) == 3
    assert "people in 3 of 3 frames" in capsys.readouterr().out


def _interrupt_at_frame(stage: str, n: int):
    """A StreamSteps detection stage (detect: a camera's, collect: a file's) that presses Ctrl-C on the n-th
    frame (0-based)."""
    detect, frames = getattr(infer_video.StreamSteps, stage), []

    def detect_until_interrupted(self, timed_frame):
        frames.append(timed_frame)
        if len(frames) > n:
            raise KeyboardInterrupt
        return detect(self, timed_frame)
    return detect_until_interrupted


class EndlessCamera:
    """Stands in for a webcam: a clip's frames over and over, one every 1/fps seconds, never ending."""

    def __init__(self, clip: Path, fps: float = 30.0):
        self.frames = read_frames(clip)
        self.period, self.reads = 1 / fps, 0

    def read(self) -> tuple[bool, np.ndarray]:
        time.sleep(self.period)
        self.reads += 1
        return True, self.frames[(self.reads - 1) % len(self.frames)].copy()

    def release(self) -> None:
        pass


def test_camera_stops_at_max_frames_or_ctrl_c_and_keeps_its_outputs(weights, clip, tmp_path, monkeypatch):
    lifter, _ = infer_lifting.load_for_inference(weights, torch.device("cpu"))
    # No frame count, wall-clock timestamps, frames while the run lasts.
    monkeypatch.setattr(infer_video, "open_capture", lambda source: (EndlessCamera(clip), 30.0, None))
    infer_video.process_stream(0, "camera0", tmp_path, lifter, infer_video.StreamOptions(max_frames=4, smooth=None, show=False))
    assert len((tmp_path / "camera0_joints.jsonl").read_text().splitlines()) == 4
    monkeypatch.setattr(infer_video.StreamSteps, "detect", _interrupt_at_frame("detect", 2))
    written = infer_video.process_stream(0, "camera0", tmp_path, lifter, infer_video.StreamOptions(None, None, False))
    assert written == [tmp_path / "camera0_annotated.mp4", tmp_path / "camera0_joints.jsonl"]
    assert len((tmp_path / "camera0_joints.jsonl").read_text().splitlines()) == 2
    assert cv2.VideoCapture(str(written[0])).get(cv2.CAP_PROP_FRAME_COUNT) == 2


def test_ctrl_c_during_a_video_file_leaves_earlier_outputs_untouched(weights, clip, tmp_path, monkeypatch):
    lifter, _ = infer_lifting.load_for_inference(weights, torch.device("cpu"))
    previous = tmp_path / "clip_joints.jsonl"
    previous.write_text("an earlier run\n")
    monkeypatch.setattr(infer_video.StreamSteps, "collect", _interrupt_at_frame("collect", 3))
    with pytest.raises(KeyboardInterrupt):
        infer_video.process_stream(clip, "clip", tmp_path, lifter, infer_video.StreamOptions(None, None, False))
    assert previous.read_text() == "an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_joints.jsonl"]


INDEX_BITS, BIT_PX = 6, 16


def numbered_frame(index: int) -> np.ndarray:
    """A bare wall whose top row of squares spells index in binary (white 1, black 0), robust to mp4v."""
    frame = np.full((96, 128, 3), 128, dtype=np.uint8)
    for bit in range(INDEX_BITS):
        frame[:BIT_PX, bit * BIT_PX:(bit + 1) * BIT_PX] = 255 if index >> bit & 1 else 0
    return frame


def frame_number(frame: np.ndarray) -> int:
    squares = [frame[4:BIT_PX - 4, bit * BIT_PX + 4:(bit + 1) * BIT_PX - 4].mean() for bit in range(INDEX_BITS)]
    return sum(1 << bit for bit, value in enumerate(squares) if value > 128)


@pytest.fixture(scope="module")
def numbered_clip(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("numbered") / "numbered.mp4", [numbered_frame(i) for i in range(40)])


def test_the_pipeline_keeps_every_frame_of_a_file_in_order(weights, numbered_clip, tmp_path):
    lifter, _ = infer_lifting.load_for_inference(weights, torch.device("cpu"))
    infer_video.process_stream(numbered_clip, "numbered", tmp_path, lifter, infer_video.StreamOptions(None, None, False))
    annotated = read_frames(tmp_path / "numbered_annotated.mp4")
    assert [frame_number(frame) for frame in annotated] == list(range(40))
    records = [json.loads(line) for line in (tmp_path / "numbered_joints.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(40))
    assert [r["time_s"] for r in records] == pytest.approx([i / 10 for i in range(40)])


def _fail_on_call(function, n: int, error: BaseException):
    """function, raising error on its n-th call (0-based) instead."""
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > n:
            raise error
        return function(*args, **kwargs)
    return failing


@pytest.mark.parametrize("stage", ["read_frames", "collect", "lift", "draw", "write"])
def test_a_failing_stage_ends_the_video_with_its_error_and_no_output(weights, numbered_clip, tmp_path, monkeypatch,
                                                                     stage):
    lifter, _ = infer_lifting.load_for_inference(weights, torch.device("cpu"))
    previous = tmp_path / "numbered_joints.jsonl"
    previous.write_text("an earlier run\n")
    error = OSError(f"{stage} broke")
    if stage == "read_frames":
        read = infer_video.read_frames
        monkeypatch.setattr(infer_video, "read_frames", lambda *args: map(_fail_on_call(lambda x: x, 5, error), read(*args)))
    else:
        owner = infer_video.StreamOutputs if stage == "write" else infer_video.StreamSteps
        monkeypatch.setattr(owner, stage, _fail_on_call(getattr(owner, stage), 5, error))
    with pytest.raises(OSError, match=f"{stage} broke"):
        infer_video.process_stream(numbered_clip, "numbered", tmp_path, lifter, infer_video.StreamOptions(None, None, False))
    assert previous.read_text() == "an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numbered_joints.jsonl"]


def test_a_failing_stage_is_a_clear_error_on_the_command_line(weights, numbered_clip, tmp_path, monkeypatch, capsys,
                                                               keep_torch_threads):
    monkeypatch.setattr(infer_video.StreamOutputs, "write", _fail_on_call(infer_video.StreamOutputs.write, 3,
                                                                    OSError("No space left on device")))
    assert infer.main([str(numbered_clip), "--weights", str(weights), "--out", str(tmp_path)]) == 1
    assert "error: No space left on device" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_3d_panel_shows_the_pose_upright_and_centred():
    pose3d = np.zeros((28, 3))
    pose3d[sk.J["head"]] = (0, -600, 0)
    pose3d[sk.J["left_ankle"]] = (100, 900, 0)
    size = 300
    panel_points = visualize.project_to_panel(pose3d, size)
    assert np.allclose(panel_points[sk.ROOT], size / 2)
    assert panel_points[sk.J["head"], 1] < size / 2 < panel_points[sk.J["left_ankle"], 1]
    panel = visualize.render_3d_panel([pose3d], [np.ones(28)], size)
    assert panel.shape == (size, size, 3)
    assert (panel != visualize.PANEL_BACKGROUND).any(axis=2).mean() > 0.01


# ---------------------------------------------------------------------------
# The One-Euro filter
# ---------------------------------------------------------------------------
FPS = 30.0


def filtered(signal: np.ndarray, **params) -> np.ndarray:
    one_euro = smoothing.OneEuroFilter(**params)
    return np.array([one_euro(x, i / FPS) for i, x in enumerate(signal)])


def test_one_euro_removes_jitter_from_a_still_joint():
    noisy = 500.0 + np.random.default_rng(0).normal(0.0, 10.0, (300, 28, 3))
    smooth = filtered(noisy)
    assert smooth[60:].std() < 0.4 * noisy[60:].std()
    assert abs(smooth[60:].mean() - 500.0) < 2.0


def test_one_euro_follows_fast_motion_with_little_lag():
    ramp = 1000.0 * np.arange(90) / FPS  # a joint moving at 1 m/s
    lag = ramp[30:] - filtered(ramp)[30:]
    lag_without_speed_adaptation = ramp[30:] - filtered(ramp, beta=0.0)[30:]
    assert lag.max() < 25.0  # less than the 33 mm the joint moves per frame
    assert lag.max() < 0.1 * lag_without_speed_adaptation.min()


def test_one_euro_restarts_after_reset_and_needs_increasing_time():
    one_euro = smoothing.OneEuroFilter()
    one_euro(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="increase"):
        one_euro(np.ones(3), 0.0)
    one_euro.reset()
    np.testing.assert_array_equal(one_euro(np.full(3, 7.0), 5.0), np.full(3, 7.0))


# ---------------------------------------------------------------------------
# Video through the temporal model
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def temporal_weights(weights, tmp_path_factory) -> Path:
    """The bundled video model when present, else a temporal model on `weights` with a small random correction."""
    if Path(ckpt.BUNDLED_TEMPORAL_WEIGHTS).is_file() and Path(weights) == Path(ckpt.BUNDLED_WEIGHTS):
        return Path(ckpt.BUNDLED_TEMPORAL_WEIGHTS)
    frame, checkpoint = ckpt.load_checkpoint(str(weights))
    config = {"frame_config": checkpoint["config"], "radius": 4, "dim": 32, "depth": 1, "heads": 2}
    model = model_module.TemporalLifter(**config)
    model.frame_model.load_state_dict(frame.state_dict())
    torch.nn.init.normal_(model.head.weight, std=0.01)
    path = tmp_path_factory.mktemp("temporal") / "temporal_model_weights.pth"
    ckpt.save_checkpoint(str(path), model, "temporal", config, checkpoint["input_mode"], checkpoint["norm_stats"])
    return path


def test_a_video_is_lifted_offline_by_the_temporal_model_exactly_as_its_frames_in_one_sequence(
        weights, temporal_weights, clip, tmp_path):
    proc = run_infer(clip, "--weights", weights, "--video-weights", temporal_weights, "--out", tmp_path, "--bvh",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"videos: the temporal model {temporal_weights}" in proc.stderr
    records = [json.loads(line) for line in (tmp_path / "clip_joints.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(10))  # the frames held for their windows all came out
    assert [bool(r["people"]) for r in records] == [i not in (4, 5) for i in range(10)]
    assert cv2.VideoCapture(str(tmp_path / "clip_annotated.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 10
    assert (tmp_path / "clip_person1.bvh").is_file()
    # The streamed, delayed lifting gives what the whole sequence lifted at once gives (10 fps, gaps at 4 and 5).
    found = np.array([bool(r["people"]) for r in records])
    joints2d = np.zeros((10, 28, 3))
    for k, r in enumerate(records):
        if r["people"]:
            joints2d[k] = [j["pixel"] + [j["visibility"]] for j in r["people"][0]["joints"]]
    temporal, _ = ckpt.load_sequence_lifter(str(temporal_weights))
    expected = infer_lifting.lift_sequence(temporal, joints2d, found, fps=10.0)
    assert {p["id"] for r in records for p in r["people"]} == {1}  # one person, followed across the gap
    got = np.array([[j["mm"] for j in r["people"][0]["joints"]] if r["people"] else np.zeros((28, 3)) for r in records])
    assert np.abs(got - expected)[found].max() < 1.0  # the records round pixels to 0.01 and mm to 0.1
    per_frame = run_infer(clip, "--weights", weights, "--per-frame", "--out", tmp_path / "pf", cwd=tmp_path)
    assert per_frame.returncode == 0 and "videos: lifted frame by frame" in per_frame.stderr


def test_a_camera_is_lifted_causally_by_the_temporal_model_without_delay(weights, temporal_weights, clip, tmp_path,
                                                                         monkeypatch):
    lifter, _ = infer_lifting.load_for_inference(weights, torch.device("cpu"))
    temporal, _ = ckpt.load_sequence_lifter(str(temporal_weights))
    monkeypatch.setattr(infer_video, "open_capture", lambda source: (EndlessCamera(clip), 30.0, None))
    options = infer_video.StreamOptions(max_frames=6, smooth=None, show=False, temporal=temporal)
    infer_video.process_stream(0, "camera0", tmp_path, lifter, options)
    records = [json.loads(line) for line in (tmp_path / "camera0_joints.jsonl").read_text().splitlines()]
    assert len(records) == 6 and records[0]["people"]  # the first frame's 3D came at once, from itself alone


def mediapipe_keypoints(pose28: np.ndarray) -> np.ndarray:
    """(28, 2) pixels -> MediaPipe's (33, 3) landmarks at the joints they sit on (face at the head, fingers at the hand)."""
    def joint(name: str) -> str:
        side = name.split("_")[0]
        if name.startswith(("nose", "mouth")) or "eye" in name or "ear" in name:
            return "head"
        if name.endswith(("pinky", "index", "thumb")):
            return f"{side}_hand"
        return {"heel": f"{side}_ankle", "foot": f"{side}_toe"}.get(name.split("_")[1], name)
    return np.array([[*pose28[sk.J[joint(name)]], 0.9] for name in sk.MEDIAPIPE_LANDMARKS])


def test_a_keypoint_video_is_lifted_by_the_temporal_model_person_by_person(weights, temporal_weights, tmp_path):
    poses = synthetic.generate_poses(2, seed=4)["pose2d"].astype(np.float64)  # two people walking sideways
    frames = [{"frame_id": t, "instances": [
        {"keypoints": k[:, :2].tolist(), "keypoint_scores": k[:, 2].tolist()}
        for k in (mediapipe_keypoints(poses[0] + 3.0 * t), mediapipe_keypoints(poses[1] + (900.0 - 2.0 * t, 0.0)))]}
        for t in range(8)]
    path = tmp_path / "video_predictions.json"
    path.write_text(json.dumps(frames))
    proc = run_infer("--keypoints", path, "--weights", weights, "--video-weights", temporal_weights, "--fps", "25",
                     "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"video: the temporal model {temporal_weights}, offline, at 25 fps" in proc.stdout
    records = [json.loads(line) for line in (tmp_path / "out" / "video_predictions_people.jsonl").read_text().splitlines()]
    temporal, _ = ckpt.load_sequence_lifter(str(temporal_weights))
    ids = sorted({person["id"] for r in records for person in r["people"]})
    assert len(ids) == 2
    for pid in ids:  # each tracked person is one video of their own
        track = [next(p for p in r["people"] if p["id"] == pid) for r in records]
        joints2d = np.array([[j["pixel"] + [j["visibility"]] for j in person["joints"]] for person in track])
        got = np.array([[j["mm"] for j in person["joints"]] for person in track])
        expected = infer_lifting.lift_sequence(temporal, joints2d, np.ones(8, bool), fps=25.0)
        assert np.abs(got - expected).max() < 1.0
