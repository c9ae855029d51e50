"""prepare_data.py on tiny raw MPI-INF-3DHP folders written in the dataset's exact formats."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import h5py

import prepare_data
import skeleton_utils as sk
from tests import mpi_fixtures as fx

TRAINING_KEYS = {"pose2d", "pose3d", "subject", "sequence", "camera", "frame", "intrinsics"}
TEST_KEYS = {"pose2d", "pose3d", "sequence", "frame"}


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    """A read-only training fixture: S1, S2 with both sequences, all 14 cameras."""
    root = tmp_path_factory.mktemp("mpi_inf_3dhp")
    return root, fx.write_training_fixture(root, subjects=(1, 2))


@pytest.fixture
def writable_training(tmp_path):
    """A training fixture a test may damage."""
    root = tmp_path / "mpi_inf_3dhp"
    return root, fx.write_training_fixture(root, subjects=(1, 2))


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpi_inf_3dhp_test_set")
    return root, fx.write_test_fixture(root)


def prepare(args: list[str], out: Path) -> dict[str, np.ndarray]:
    prepare_data.main([*args, "--out", str(out)])
    with np.load(out, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def error_of(args: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        prepare_data.main(args)
    assert isinstance(exc.value.code, str), "errors must exit with a message (non-zero status)"
    return exc.value.code


def assert_arrays_match(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(got) == set(expected)
    for key, want in expected.items():
        if want.dtype.kind == "f":
            assert got[key].dtype == np.float32, key
            np.testing.assert_array_equal(got[key], want.astype(np.float32), err_msg=key)
        else:
            assert got[key].dtype.kind == "i", key
            np.testing.assert_array_equal(got[key], want, err_msg=key)


def no_leftovers(folder: Path) -> bool:
    return not list(folder.glob(".*.part"))


# ---------------------------------------------------------------------------
# The fixtures are in the dataset's formats
# ---------------------------------------------------------------------------
def test_training_fixture_has_the_dataset_layout(training):
    root, truth = training
    annot = scipy.io.loadmat(str(root / "S1" / "Seq1" / "annot.mat"), squeeze_me=True)
    n = truth[1, 1].pose3d.shape[1]
    for key, width in (("annot2", 56), ("annot3", 84), ("univ_annot3", 84)):
        assert annot[key].dtype == object and annot[key].shape == (14,)
        assert all(cell.shape == (n, width) for cell in annot[key])
    calibration = (root / "S1" / "Seq1" / "camera.calibration").read_text().splitlines()
    assert calibration[0] == "Skeletool Camera Calibration File V1.0"
    assert sum(line.split()[:1] == ["intrinsic"] and len(line.split()) == 17 for line in calibration) == 14


def test_test_fixture_has_the_dataset_layout(test_set):
    root, truth = test_set
    v5 = scipy.io.loadmat(str(root / "TS1" / "annot_data.mat"))
    assert v5["annot2"].shape == (2, 1, 17, len(truth[1].valid))
    assert v5["univ_annot3"].shape == (3, 1, 17, len(truth[1].valid))
    with pytest.raises(NotImplementedError):  # v7.3: scipy refuses it, as on the real TS5/TS6
        scipy.io.loadmat(str(root / "TS5" / "annot_data.mat"))
    with h5py.File(root / "TS5" / "annot_data.mat", "r") as f:
        assert f["annot3"].shape == (len(truth[5].valid), 17, 1, 3)


# ---------------------------------------------------------------------------
# Training set
# ---------------------------------------------------------------------------
def test_training_npz_holds_the_fixture_poses_metadata_and_intrinsics(training, tmp_path):
    root, truth = training
    got = prepare(["--root", str(root), "--subjects", "1", "2"], tmp_path / "train.npz")
    assert_arrays_match(got, fx.expected_training_arrays(truth, (1, 2), prepare_data.DEFAULT_CAMERAS))
    assert got["pose2d"].shape[1:] == (28, 2) and got["pose3d"].shape[1:] == (28, 3)
    assert set(got["camera"]) == {0, 1, 2, 4, 5, 6, 7, 8}
    (tmp_path / "plain").touch()  # the output gets the permissions of any file the user creates
    assert (tmp_path / "train.npz").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_pose2d_is_the_projection_of_pose3d_with_the_intrinsics(training, tmp_path):
    root, _ = training
    got = prepare(["--root", str(root), "--subjects", "1", "2", "--cameras", *map(str, range(14))], tmp_path / "t.npz")
    projected = fx.project(got["pose3d"].astype(np.float64), got["intrinsics"].astype(np.float64))
    np.testing.assert_allclose(got["pose2d"], projected, atol=0.01)


def test_stride_subject_and_camera_selection(training, tmp_path):
    root, truth = training
    got = prepare(["--root", str(root), "--subjects", "2", "--cameras", "13", "3", "--stride", "2"], tmp_path / "t.npz")
    assert_arrays_match(got, fx.expected_training_arrays(truth, (2,), (3, 13), stride=2))
    assert set(got["frame"]) == {0, 2, 4}


def test_univ_takes_3d_from_univ_annot3(training, tmp_path):
    root, truth = training
    got = prepare(["--root", str(root), "--subjects", "1", "--univ"], tmp_path / "t.npz")
    assert_arrays_match(got, fx.expected_training_arrays(truth, (1,), prepare_data.DEFAULT_CAMERAS, univ=True))


def test_summary_counts_frames_per_subject_and_camera(training, tmp_path, capsys):
    root, truth = training
    prepare(["--root", str(root), "--subjects", "1", "2", "--cameras", "0", "5"], tmp_path / "t.npz")
    out = capsys.readouterr().out
    s1 = truth[1, 1].pose3d.shape[1] + truth[1, 2].pose3d.shape[1]
    s2 = truth[2, 1].pose3d.shape[1] + truth[2, 2].pose3d.shape[1]
    assert "'annot3'" in out and "MB" in out
    assert [f"S1 {s1} {s1} {2 * s1}".split(), f"S2 {s2} {s2} {2 * s2}".split()] == \
        [line.split() for line in out.splitlines() if line.split()[:1] in (["S1"], ["S2"])]


def test_missing_subject_sequence_and_cameras_are_all_listed(writable_training, tmp_path):
    root, truth = writable_training
    shutil.rmtree(root / "S2" / "Seq2")
    fx.write_annot_mat(root / "S1" / "Seq1" / "annot.mat", truth[1, 1], n_cells=6)
    calibration = root / "S1" / "Seq2" / "camera.calibration"
    lines = calibration.read_text().splitlines()
    start = lines.index("name          7")
    calibration.write_text("\n".join(lines[:start] + lines[start + 7:]) + "\n")
    out = tmp_path / "t.npz"
    message = error_of(["--root", str(root), "--subjects", "1", "2", "3", "--out", str(out)])
    assert "4 missing input(s)" in message
    assert f"{root / 'S3'}/ (subject folder)" in message
    assert f"{root / 'S2' / 'Seq2'}/ (sequence folder)" in message
    assert f"{root / 'S1' / 'Seq1' / 'annot.mat'}: camera 6, 7, 8" in message
    assert f"{calibration}: camera 7" in message
    assert "--allow-missing" in message
    assert not out.exists() and no_leftovers(tmp_path)


def test_allow_missing_prepares_the_rest_and_lists_what_it_skipped(writable_training, tmp_path, capsys):
    root, truth = writable_training
    shutil.rmtree(root / "S2" / "Seq2")
    fx.write_annot_mat(root / "S1" / "Seq1" / "annot.mat", truth[1, 1], n_cells=6)
    got = prepare(["--root", str(root), "--subjects", "1", "2", "3", "--allow-missing"], tmp_path / "t.npz")
    kept = {(s, q): t for (s, q), t in truth.items() if (s, q) != (2, 2)}
    expected = fx.expected_training_arrays(kept, (1, 2), prepare_data.DEFAULT_CAMERAS)
    dropped = (expected["subject"] == 1) & (expected["sequence"] == 1) & (expected["camera"] >= 6)
    assert_arrays_match(got, {k: v[~dropped] for k, v in expected.items()})
    summary = capsys.readouterr().out
    assert "Skipped 3 missing input(s)" in summary and f"{root / 'S3'}/ (subject folder)" in summary


@pytest.mark.parametrize("keep_fraction", [0.02, 0.5])
def test_truncated_annot_mat_is_named(writable_training, tmp_path, keep_fraction):
    root, _ = writable_training
    annot = root / "S2" / "Seq1" / "annot.mat"
    data = annot.read_bytes()
    annot.write_bytes(data[: int(len(data) * keep_fraction)])
    message = error_of(["--root", str(root), "--subjects", "1", "2", "--out", str(tmp_path / "t.npz")])
    assert str(annot) in message and "truncated" in message and "Re-download" in message
    assert not (tmp_path / "t.npz").exists() and no_leftovers(tmp_path)


@pytest.mark.parametrize("bad_line, problem", [
    ("  intrinsic   1500 0 1024 0 0 1500 1024 0 0 0 1 0 0 0 0", "16 numbers"),
    ("  intrinsic   1500 0 1024 0 0 abc 1024 0 0 0 1 0 0 0 0 1", "16 numbers"),
    ("  intrinsic   -1500 0 1024 0 0 1500 1024 0 0 0 1 0 0 0 0 1", "focal lengths must be positive"),
    ("name", "expected 'name <camera id>'"),
])
def test_malformed_calibration_names_file_and_line(writable_training, tmp_path, bad_line, problem):
    root, _ = writable_training
    calibration = root / "S1" / "Seq2" / "camera.calibration"
    lines = calibration.read_text().splitlines()
    lines[12] = bad_line  # the second camera's intrinsic line
    calibration.write_text("\n".join(lines) + "\n")
    message = error_of(["--root", str(root), "--out", str(tmp_path / "t.npz"), "--allow-missing"])
    assert f"{calibration}, line 13" in message and problem in message


def test_annot2_and_annot3_frame_counts_must_agree(writable_training, tmp_path):
    root, truth = writable_training
    t = truth[1, 2]
    annot = root / "S1" / "Seq2" / "annot.mat"
    cells = fx.cell_array(t.pose3d)
    cells[4, 0] = cells[4, 0][:-1]
    scipy.io.savemat(str(annot), {"annot2": fx.cell_array(t.pose2d), "annot3": cells})
    message = error_of(["--root", str(root), "--subjects", "1", "--out", str(tmp_path / "t.npz")])
    n = t.pose3d.shape[1]
    assert f"{annot}: camera 4 has {n} frames in annot2 but {n - 1} in annot3" in message


def test_wrong_cell_width_is_named(writable_training, tmp_path):
    root, truth = writable_training
    annot = root / "S1" / "Seq1" / "annot.mat"
    t = truth[1, 1]
    scipy.io.savemat(str(annot), {"annot2": fx.cell_array(t.pose2d[..., :27, :]), "annot3": fx.cell_array(t.pose3d)})
    message = error_of(["--root", str(root), "--subjects", "1", "--out", str(tmp_path / "t.npz")])
    assert f"{annot}: annot2{{camera 0}} has shape" in message and "(frames, 56)" in message


def test_existing_out_is_kept_without_force_and_replaced_with_it(training, tmp_path):
    root, truth = training
    out = tmp_path / "train.npz"
    out.write_bytes(b"precious")
    message = error_of(["--root", str(root), "--subjects", "1", "--out", str(out)])
    assert str(out) in message and "--force" in message
    assert out.read_bytes() == b"precious"
    got = prepare(["--root", str(root), "--subjects", "1", "--force"], out)
    assert_arrays_match(got, fx.expected_training_arrays(truth, (1,), prepare_data.DEFAULT_CAMERAS))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial_file(training, tmp_path, monkeypatch):
    root, _ = training
    out = tmp_path / "train.npz"
    out.write_bytes(b"precious")

    def savez_then_fail(file, **arrays):
        file.write(b"half an npz")
        raise OSError("No space left on device")

    monkeypatch.setattr(prepare_data.np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="No space left"):
        prepare_data.main(["--root", str(root), "--subjects", "1", "--out", str(out), "--force"])
    assert out.read_bytes() == b"precious" and no_leftovers(tmp_path)


def test_nothing_left_to_prepare_is_an_error(training, tmp_path):
    message = error_of(["--root", str(training[0]), "--subjects", "5", "--allow-missing", "--out", str(tmp_path / "t")])
    assert "nothing to prepare" in message and not (tmp_path / "t").exists()


def test_missing_root_is_a_clear_error(tmp_path):
    message = error_of(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "t.npz")])
    assert "S1/ ... S8/" in message


# ---------------------------------------------------------------------------
# Official test set
# ---------------------------------------------------------------------------
def test_test_set_keeps_valid_frames_with_univ_annot3_by_default(test_set, tmp_path, capsys):
    root, truth = test_set
    got = prepare(["--test-root", str(root)], tmp_path / "test.npz")
    assert_arrays_match(got, fx.expected_test_arrays(truth, univ=True))
    assert got["pose2d"].shape[1:] == (17, 2) and got["pose3d"].shape[1:] == (17, 3)
    assert set(got["sequence"]) == {1, 2, 3, 4, 5, 6}
    summary = capsys.readouterr().out
    assert "'univ_annot3'" in summary
    assert f"TS5: {truth[5].valid.sum()} of {len(truth[5].valid)}" in summary


def test_test_set_no_univ_uses_annot3_whose_projection_is_the_2d(test_set, tmp_path):
    root, truth = test_set
    got = prepare(["--test-root", str(root), "--no-univ"], tmp_path / "test.npz")
    assert_arrays_match(got, fx.expected_test_arrays(truth, univ=False))
    intrinsics = np.where((got["sequence"] >= 5)[:, None], fx.OUTDOOR_INTRINSICS, fx.STUDIO_INTRINSICS)
    np.testing.assert_allclose(got["pose2d"], fx.project(got["pose3d"].astype(np.float64), intrinsics), atol=0.01)


def test_test_set_accepts_frames_first_arrays(tmp_path):
    truth = fx.write_test_fixture(tmp_path / "ts", frames_first=True)
    got = prepare(["--test-root", str(tmp_path / "ts")], tmp_path / "test.npz")
    assert_arrays_match(got, fx.expected_test_arrays(truth))


@pytest.mark.parametrize("sequence", [1, 5])  # MATLAB v5 and v7.3 (HDF5)
@pytest.mark.parametrize("frames", [2, 3])  # as many frames as coordinates: only the axis order tells them apart
def test_test_set_axis_order_with_as_many_frames_as_coordinates(tmp_path, sequence, frames):
    truth = fx.write_test_fixture(tmp_path / "ts", sequences=(sequence,), frames=frames)
    got = prepare(["--test-root", str(tmp_path / "ts"), "--allow-missing", "--no-univ"], tmp_path / "test.npz")
    assert_arrays_match(got, fx.expected_test_arrays(truth, univ=False))


def test_test_set_wrong_shape_is_named(tmp_path):
    root = tmp_path / "ts"
    truth = fx.write_test_fixture(root, sequences=(1,))
    n = len(truth[1].valid)
    annot = root / "TS1" / "annot_data.mat"
    scipy.io.savemat(str(annot), {"annot2": np.zeros((2, 1, 16, n)), "univ_annot3": np.zeros((3, 1, 17, n)),
                                  "valid_frame": np.ones((n, 1))})
    message = error_of(["--test-root", str(root), "--out", str(tmp_path / "t.npz"), "--allow-missing"])
    assert f"{annot}: annot2 has shape (2, 1, 16, {n})" in message and f"N = {n}" in message


def test_test_set_missing_sequences_are_listed(tmp_path):
    root = tmp_path / "ts"
    fx.write_test_fixture(root, sequences=(1, 2, 4, 5, 6))
    (root / "TS6" / "annot_data.mat").unlink()
    message = error_of(["--test-root", str(root), "--out", str(tmp_path / "t.npz")])
    assert f"{root / 'TS3'}/ (sequence folder)" in message and f"{root / 'TS6' / 'annot_data.mat'} (file)" in message


def test_prepared_files_pass_the_data_contract(training, test_set, tmp_path):
    import data_loader  # imports torch: only this test pays for it

    prepare(["--root", str(training[0]), "--subjects", "1"], tmp_path / "train.npz")
    prepare(["--test-root", str(test_set[0])], tmp_path / "test.npz")
    assert data_loader.load_pose_file(str(tmp_path / "train.npz"))["pose3d"].shape[1] == sk.NUM_JOINTS
    assert data_loader.load_pose_file(str(tmp_path / "test.npz"))["pose3d"].shape[1] == len(sk.TEST17_INDICES)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def test_script_exits_non_zero_with_the_message(tmp_path):
    script = Path(prepare_data.__file__)
    result = subprocess.run([sys.executable, str(script), "--root", str(tmp_path / "nowhere"),
                             "--out", str(tmp_path / "t.npz")], capture_output=True, text=True, cwd=script.parent)
    assert result.returncode != 0 and "no such folder" in result.stderr


def test_training_options_are_refused_for_the_test_set(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        prepare_data.main(["--test-root", str(tmp_path), "--cameras", "0"])
    assert exc.value.code == 2 and "--cameras" in capsys.readouterr().err
