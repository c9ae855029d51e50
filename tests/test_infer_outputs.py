"""What infer.py leaves in --out: nothing overwritten without --force, sets replaced whole with it, no litter,
and a batch that goes on when the detector process dies."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import infer
import infer_video
import skeleton_utils as sk
from test_infer import GRACE_HOPPER, write_video
from test_keypoints import as_layout, openpose_frame, write_json


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_an_earlier_runs_outputs_are_refused_without_force_and_replaced_with_it(tmp_path, keep_threads, capsys):
    out = tmp_path / "out"
    assert infer.main([str(GRACE_HOPPER), "--out", str(out), "--bvh"]) == 0
    before = _stamps(out)
    with pytest.raises(SystemExit, match=r"grace_hopper_overlay_coco17.jpg already exists, from an earlier run on "
                                         r".*grace_hopper.jpg; pass --force"):
        infer.main([str(GRACE_HOPPER), "--out", str(out)])
    assert _stamps(out) == before  # nothing touched
    # --force replaces the set: without --bvh this time, the older grace_hopper.bvh must not look current.
    assert infer.main([str(GRACE_HOPPER), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["grace_hopper_overlay_coco17.jpg", "grace_hopper_pose.json",
                                                     "grace_hopper_pose3d.png", "grace_hopper_view.html"]


def test_a_video_without_anyone_removes_an_older_bvh_with_force(tmp_path, keep_threads, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "black.bvh").write_text("an earlier run's motion\n")
    black = write_video(tmp_path / "black.mp4", [np.zeros((120, 160, 3), np.uint8)] * 4)
    assert infer.main([str(black), "--out", str(out), "--bvh", "--force"]) == 1
    printed = capsys.readouterr()
    assert "no person in any of its 4 frames, so no black_person<ID>.bvh was written" in printed.err
    assert "keep the last pose" not in printed.out  # there is no pose to keep
    assert sorted(p.name for p in out.iterdir()) == ["black_annotated.mp4", "black_joints.jsonl", "black_view.html"]


def test_force_with_keypoints_leaves_no_bvh_of_a_person_no_longer_there(tmp_path, keep_threads, capsys):
    rng = np.random.default_rng(0)
    pose = np.column_stack([rng.uniform(700, 900, sk.NUM_JOINTS), rng.uniform(300, 800, sk.NUM_JOINTS)])
    runs = []
    for count in (2, 1):  # the same sequence name, first with two people, then with one
        folder = tmp_path / f"take{count}" / "seq"
        folder.mkdir(parents=True)
        for t in range(3):
            people = [as_layout(pose + (600 * k + 5 * t, 0), sk.BODY25) for k in range(count)]
            write_json(folder / f"seq_{t:012d}_keypoints.json", openpose_frame(people))
        runs.append(folder)
    out = tmp_path / "out"
    common = ["--image-size", "1920", "1080", "--bvh", "--out", str(out)]
    assert infer.main(["--keypoints", str(runs[0]), *common]) == 0
    assert sorted(p.name for p in out.glob("*.bvh")) == ["seq_person1.bvh", "seq_person2.bvh"]
    with pytest.raises(SystemExit, match="seq_people.jsonl already exists"):
        infer.main(["--keypoints", str(runs[1]), *common])
    assert infer.main(["--keypoints", str(runs[1]), *common, "--force"]) == 0
    assert sorted(p.name for p in out.glob("*.bvh")) == ["seq_person1.bvh"]


def test_temporaries_of_killed_runs_are_removed_and_live_ones_kept(tmp_path, keep_threads, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = 2 ** 22 + 12345  # above Linux's default pid_max: no such process
    stale = [out / f".clip_annotated.{dead}.tmp.mp4", out / f".clip_joints.{dead}.tmp.jsonl"]
    live = out / f".other_joints.{os.getppid()}.tmp.jsonl"  # a process that is still running
    for path in [*stale, live]:
        path.write_text("left behind")
    assert infer.main([str(GRACE_HOPPER), "--out", str(out)]) == 0
    assert not any(p.exists() for p in stale) and live.exists()


def test_a_killed_detector_fails_its_video_and_the_batch_goes_on(tmp_path, keep_threads, monkeypatch, capsys):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 12
    first, second = write_video(tmp_path / "first.mp4", frames), write_video(tmp_path / "second.mp4", frames[:4])
    collect = infer_video.StreamSteps.collect
    calls = {"n": 0}

    def kill_on_the_third(self, timed_frame):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(self.detector._child.pid, signal.SIGKILL)
            self.detector._child.wait()
        return collect(self, timed_frame)

    monkeypatch.setattr(infer_video.StreamSteps, "collect", kill_on_the_third)
    out = tmp_path / "out"
    assert infer.main([str(first), str(second), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "first.mp4: the MediaPipe process stopped unexpectedly" in printed.err
    assert "Traceback" not in printed.err
    assert "done: 1 of 2 inputs processed; 1 failed" in printed.out
    assert sorted(p.name for p in out.iterdir()) == ["second_annotated.mp4", "second_joints.jsonl", "second_view.html"]
