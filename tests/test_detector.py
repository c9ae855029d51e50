"""The people finder in a process of its own: the same people in the same order, clear errors, nothing left behind."""
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib import cbook

from detector_process import DetectorProcess
from people_finder import PeopleFollower

GRACE_HOPPER = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
SHARED_MEMORY = Path("/dev/shm")


def leftovers() -> tuple[set[str], set[str]]:
    """What the temporary folder and POSIX shared memory hold now."""
    shared = set(os.listdir(SHARED_MEMORY)) if SHARED_MEMORY.is_dir() else set()
    return set(os.listdir(tempfile.gettempdir())), shared


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """The photo sliding sideways, then a bare wall (no person)."""
    photo = cv2.imread(str(GRACE_HOPPER))
    return [np.roll(photo, 8 * i, axis=1) for i in range(5)] + [np.full_like(photo, 128)]


def test_the_process_gives_the_in_process_detections_in_order(frames):
    before = leftovers()
    with DetectorProcess(fps=10.0, slots=3) as detector:
        found = []
        for i, frame in enumerate(frames):  # three frames ahead, as infer.py's reader submits them
            detector.submit(frame)
            if i >= 2:
                found.append(detector.collect())
        found += [detector.collect(), detector.collect()]
        assert len(detector.detect(frames[0])) == 1  # one at a time, as for a camera
    with PeopleFollower(fps=10.0) as in_process:
        expected = [in_process.follow(frame) for frame in frames]
    assert [len(people) for people in found] == [1] * 5 + [0]
    for got, want in zip(found[:5], expected[:5]):
        np.testing.assert_array_equal(got[0].landmarks_px, want[0].landmarks_px)
        np.testing.assert_array_equal(got[0].world_mm, want[0].world_mm)
        assert got[0].followed == want[0].followed == 1  # followed from frame to frame
    assert leftovers() == before


def test_misuse_and_a_dead_process_are_clear_errors_and_nothing_is_left_behind(frames):
    before = leftovers()
    with DetectorProcess(fps=10.0, slots=2) as detector:
        detector.submit(frames[0])
        detector.submit(frames[1])
        with pytest.raises(RuntimeError, match="more than 2 frames submitted"):
            detector.submit(frames[2])
        with pytest.raises(ValueError, match="frame size changed"):
            detector.submit(frames[0][:100])
        assert len(detector.collect()) == 1 and len(detector.collect()) == 1
        detector._child.kill()
        with pytest.raises(RuntimeError, match="MediaPipe process stopped unexpectedly"):
            detector.detect(frames[0])
    assert leftovers() == before
