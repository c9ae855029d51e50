"""The interactive 3D view (viewer.py, viewer.js): its data round-trips to the JSON records, its size, and a real
browser (headless Chromium) drawing it."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import synthetic
import viewer
from infer_outputs import joints_record
from tests.test_infer import GRACE_HOPPER, run_infer

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
                None)
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (Debian: apt-get install chromium); "
                                                            "the page was not opened in a browser")


def people(frames: int, count: int, seed: int = 0) -> list[list[viewer.ViewPerson]]:
    """Synthetic people as infer.py records them (rounded as the JSON rounds), a few joints unseen."""
    poses = synthetic.generate_poses(frames * count, seed=seed)
    out = []
    for f in range(frames):
        row = []
        for k in range(count):
            i = f * count + k
            visibility = np.ones((28, 1))
            visibility[[5, 9]] = 0.2
            record = {"joints": joints_record(np.concatenate([poses["pose2d"][i], visibility], -1),
                                              poses["pose3d"][i] - poses["pose3d"][i, 4]),
                      "pelvis_camera_mm": np.round(poses["pose3d"][i, 4], 1).tolist(), "id": k}
            row.append(viewer.from_record(json.loads(json.dumps(record))))
        out.append(row)
    return out


def test_the_embedded_data_round_trips_to_the_records_exactly():
    frames = people(6, 2)
    frames[3] = []  # a frame without anyone
    text = viewer.page(frames, 25.0, "test", "made by the test")
    data = viewer.embedded_data(text)
    back = viewer.decode(data["arrays"], data["frames"])
    assert [len(f) for f in back] == [len(f) for f in frames] and data["fps"] == 25.0
    for got_frame, want_frame in zip(back, frames):
        for got, want in zip(got_frame, want_frame):
            assert np.array_equal(np.round(got.joints2d, 3), np.round(want.joints2d, 3))
            assert np.array_equal(np.round(got.joints3d, 1), np.round(want.joints3d, 1))
            assert np.array_equal(np.round(got.pelvis_mm, 1), np.round(want.pelvis_mm, 1)) and got.id == want.id
    assert "<script src" not in text and "http" not in text.split("<script>", 1)[1]  # nothing from the web


def test_a_page_of_ten_thousand_frames_stays_under_eight_megabytes():
    one = people(1, 1)[0]
    text = viewer.page([one] * 10_000, 30.0, "long", "made by the test")
    assert len(text.encode()) < 8 * 2**20


def page_state(path: Path, frame: int | None = None) -> dict:
    """What the page reports once drawn, read back from the DOM headless Chromium dumps."""
    url = path.resolve().as_uri() + (f"#frame={frame}" if frame is not None else "")
    dom = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800",
                          "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, f"Chromium gave no page: {dom[:300]}"
    return dict(re.findall(r'data-(\w+)="([^"]*)"', tag.group(1)))


@needs_browser
def test_a_browser_draws_two_people_and_the_slider_changes_the_picture(tmp_path):
    frames = people(8, 2)
    frames[6] = []
    path = tmp_path / "two_view.html"
    path.write_text(viewer.page(frames, 10.0, "two people", "made by the test"))
    first, later, empty = page_state(path, 0), page_state(path, 4), page_state(path, 6)
    for state in (first, later, empty):
        assert "errors" not in state, state["errors"]  # no JavaScript error
    assert first["skeletons"] == later["skeletons"] == "2" and empty["skeletons"] == "0"
    assert int(first["drawn"]) > 5000  # the canvas is not blank
    assert first["hash"] != later["hash"]  # another frame, another picture


@needs_browser
def test_the_photo_page_infer_writes_draws_its_person(tmp_path):
    proc = run_infer(GRACE_HOPPER, "--out", tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    state = page_state(tmp_path / "grace_hopper_view.html")
    assert "errors" not in state and state["skeletons"] == "1" and int(state["drawn"]) > 5000
    no_html = run_infer(GRACE_HOPPER, "--out", tmp_path / "plain", "--no-html", cwd=tmp_path)
    assert no_html.returncode == 0 and not list((tmp_path / "plain").glob("*.html"))
