"""Every script checks its output paths and arguments before the work, with one message naming the path."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import atomic
import checkpoints as ckpt
import eval as evaluation
import mocap
import train

REPO = Path(__file__).resolve().parents[1]
UNWRITABLE = Path("/sys")  # even root cannot create files there


def test_output_problem_names_each_case(tmp_path):
    (tmp_path / "old.npz").write_text("x")
    assert "is a folder" in atomic.output_problem(tmp_path)
    assert "already exists; pass --force" in atomic.output_problem(tmp_path / "old.npz", force=False)
    assert atomic.output_problem(tmp_path / "old.npz", force=True) is None
    assert "does not exist; create it first" in atomic.output_problem(tmp_path / "missing" / "x.npz")
    assert "cannot write into /sys" in atomic.output_problem(UNWRITABLE / "x.npz")
    assert not list(tmp_path.glob(".write-check-*"))


@pytest.mark.parametrize("out, message", [(UNWRITABLE / "real.npz", "cannot write into /sys"), (None, "is a folder")])
def test_mocap_refuses_an_unwritable_out_before_importing(tmp_path, capsys, out, message, monkeypatch):
    monkeypatch.setattr(mocap, "import_clips", lambda *a, **k: pytest.fail("imported before checking --out"))
    with pytest.raises(SystemExit):
        mocap.main([str(tmp_path), "--out", str(out or tmp_path), "--force"])
    assert message in capsys.readouterr().err


def test_train_refuses_an_unwritable_out_and_a_bad_lr_before_generating_data(tmp_path):
    started = time.perf_counter()
    for args, message in ((["--out", str(UNWRITABLE / "run")], "cannot write into /sys"),
                          (["--lr", "-1", "--out", str(tmp_path)], "--lr must be a learning rate of 0 or more")):
        proc = subprocess.run([sys.executable, str(REPO / "train.py"), "--synthetic", "2000000", *args],
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 60  # two million poses were never generated


def test_eval_refuses_a_json_it_could_not_write_before_evaluating(tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluation.parse_args(["--synthetic", "100", "--json", str(tmp_path / "missing" / "e.json"),
                               "--weights", ckpt.BUNDLED_WEIGHTS])
    assert "--json the folder of" in capsys.readouterr().err


def test_train_ctrl_c_before_any_epoch_does_not_promise_a_checkpoint(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "train_one_epoch", interrupted)
    assert train.main(["--synthetic", "300", "--epochs", "1", "--dim", "16", "--depth", "1", "--heads", "2",
                       "--out", str(tmp_path / "run")]) == 130
    printed = capsys.readouterr().out
    assert "before any epoch finished: there is no last_checkpoint.pth" in printed
    assert "continue with --resume" not in printed


def test_export_into_an_unwritable_folder_names_it():
    proc = subprocess.run([sys.executable, str(REPO / "export_model.py"), "--out", str(UNWRITABLE / "m.ts")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "/sys/m.ts: cannot write into /sys" in proc.stderr
    assert "Traceback" not in proc.stderr
