import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import data_loader as dl
import export_model
import infer_lifting
import metrics
import model as mdl
import skeleton_utils as sk
import synthetic
import model_input as mi
import checkpoints as ckpt
from tests import test_temporal

TINY = {"gcn_transformer": {"dim": 16, "depth": 2, "heads": 2}, "mlp": {"width": 64, "blocks": 1}}
FRESH_PROCESS_BATCHES = (1, 7, 64)


def small_trained_checkpoint(path, arch: str) -> str:
    """A tiny model after a few AdamW steps on synthetic poses, saved as train.py saves one."""
    poses = synthetic.generate_poses(256, seed=0)
    pose2d, pose3d = torch.as_tensor(poses["pose2d"]), torch.as_tensor(poses["pose3d"])
    target = pose3d - pose3d[:, sk.ROOT: sk.ROOT + 1]
    inputs = dl.model_input_from_ground_truth(pose2d, "mediapipe")
    stats = mi.compute_norm_stats(inputs)
    torch.manual_seed(0)
    net = mdl.build_model(arch, **TINY[arch])
    lifter = mdl.Lifter(net, stats).train()
    optimizer = torch.optim.AdamW(lifter.parameters(), lr=1e-3)
    for _ in range(5):
        optimizer.zero_grad()
        metrics.mpjpe(lifter(inputs), target).backward()
        optimizer.step()
    ckpt.save_checkpoint(str(path), net, arch, TINY[arch], "mediapipe", stats, extra={"epoch": 5})
    return str(path)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {arch: small_trained_checkpoint(folder / f"{arch}.pth", arch) for arch in TINY}


@pytest.fixture(scope="module")
def exported(checkpoints, tmp_path_factory):
    """Both architectures exported to both formats: {arch: (ts path, onnx path, what was printed)}.

    The hybrid goes through the command line in a subprocess, the MLP through main() in this process.
    """
    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for arch, weights in checkpoints.items():
        ts, onnx_path = folder / f"{arch}.ts", folder / f"{arch}.onnx"
        args = ["--weights", weights, "--out", str(ts), "--onnx", str(onnx_path)]
        if arch == "gcn_transformer":
            result = subprocess.run([sys.executable, export_model.__file__, *args], capture_output=True, text=True,
                                    cwd=folder)
            assert result.returncode == 0, result.stderr
            printed = result.stdout
        else:
            with contextlib.redirect_stdout(io.StringIO()) as stdout:
                export_model.main(args)
            printed = stdout.getvalue()
        files[arch] = (str(ts), str(onnx_path), printed)
    return files


def test_export_reports_parity_and_size(exported):
    for ts, onnx_path, printed in exported.values():
        assert os.path.isfile(ts) and os.path.isfile(onnx_path)
        for fmt, path in (("TorchScript", ts), ("ONNX", onnx_path)):
            line = next(line for line in printed.splitlines() if line.startswith(fmt + ":"))
            assert path in line and "MB" in line and "max |exported - eager|" in line
            assert all(f"batch {b}:" in line for b in export_model.PARITY_BATCH_SIZES)


# Runs in a fresh interpreter in an empty folder, with neither the project nor PyG importable.
FRESH_PROCESS_CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np, onnxruntime as ort, torch

    cases = json.load(open("cases.json"))
    for case in cases:
        extra = {"metadata.json": ""}
        lifter = torch.jit.load(case["ts"], _extra_files=extra)
        session = ort.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
        assert isinstance(session.get_inputs()[0].shape[0], str), session.get_inputs()[0].shape  # a dynamic axis
        metadata = {"TorchScript": json.loads(extra["metadata.json"]),
                    "ONNX": session.get_modelmeta().custom_metadata_map}
        assert metadata["TorchScript"]["joint_names"] == case["joint_names"]
        assert json.loads(metadata["ONNX"]["joint_names"]) == case["joint_names"]
        for meta in metadata.values():
            assert meta["arch"] == case["arch"] and meta["input_mode"] == "mediapipe", meta
        data = np.load(case["data"])
        for b in case["batches"]:
            joints, expected = data[f"joints{b}"], data[f"expected{b}"]
            with torch.no_grad():
                from_ts = lifter(torch.from_numpy(joints)).numpy()
            from_onnx = session.run(None, {"joints": joints})[0]
            for name, got in (("TorchScript", from_ts), ("ONNX", from_onnx)):
                assert got.shape == (b, 28, 3), (name, got.shape)
                diff = float(np.abs(got - expected).max())
                assert diff <= 0.01, f"{case['arch']} {name} batch {b}: {diff} mm"
    for module in ("model", "skeleton_utils", "data_loader", "torch_geometric"):
        assert module not in sys.modules, module + " was imported"
    print("fresh process ok")
""")


def test_exported_files_match_eager_in_a_process_without_the_project(exported, checkpoints, tmp_path):
    cases = []
    for arch, (ts, onnx_path, _) in exported.items():
        lifter, _ = ckpt.load_lifter(checkpoints[arch])
        arrays = {}
        for b in FRESH_PROCESS_BATCHES:
            joints = export_model.example_joints(lifter, b, seed=100 + b)
            with torch.no_grad():
                arrays[f"joints{b}"], arrays[f"expected{b}"] = joints.numpy(), lifter(joints).numpy()
        np.savez(tmp_path / f"{arch}.npz", **arrays)
        cases.append({"arch": arch, "ts": ts, "onnx": onnx_path, "data": f"{arch}.npz",
                      "batches": list(FRESH_PROCESS_BATCHES), "joint_names": list(sk.JOINT_NAMES)})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_CHECK], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fresh process ok" in result.stdout


def write_old_outputs(folder) -> dict:
    old = {folder / "pose_estimator.ts": b"old ts", folder / "pose_estimator.onnx": b"old onnx"}
    for path, content in old.items():
        path.write_bytes(content)
    return old


def export_args(weights, folder) -> list[str]:
    return ["--weights", str(weights), "--out", str(folder / "pose_estimator.ts"),
            "--onnx", str(folder / "pose_estimator.onnx")]


@pytest.mark.parametrize("problem", ["missing", "corrupt", "not a checkpoint"])
def test_unusable_weights_give_a_clear_error_and_write_nothing(problem, tmp_path):
    weights = tmp_path / "weights.pth"
    if problem == "corrupt":
        weights.write_bytes(b"\x80\x02 this is not a zip archive")
    elif problem == "not a checkpoint":
        torch.save({"something": torch.zeros(3)}, weights)
    out = tmp_path / "out"
    out.mkdir()
    old = write_old_outputs(out)
    with pytest.raises(SystemExit) as exit_info:
        export_model.main(export_args(weights, out))
    message = exit_info.value.code  # a message, which Python prints to stderr with exit status 1
    expected = {"missing": "not found", "corrupt": "corrupt", "not a checkpoint": "not a checkpoint"}[problem]
    assert isinstance(message, str) and str(weights) in message and expected in message
    assert sorted(out.iterdir()) == sorted(old) and all(p.read_bytes() == c for p, c in old.items())


def test_a_parity_failure_leaves_existing_outputs_untouched(checkpoints, tmp_path, monkeypatch):
    write, load_runner = export_model.FORMATS["ONNX"]

    def off_by_a_twentieth_of_a_mm(path):
        run = load_runner(path)
        return lambda joints: run(joints) + 0.05
    monkeypatch.setitem(export_model.FORMATS, "ONNX", (write, off_by_a_twentieth_of_a_mm))
    old = write_old_outputs(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        export_model.main(export_args(checkpoints["mlp"], tmp_path))
    assert "ONNX parity check failed" in str(exit_info.value.code) and "0.05" in str(exit_info.value.code)
    # All or nothing: the TorchScript file passed but is not written either, and no temporary file is left.
    assert sorted(tmp_path.iterdir()) == sorted(old) and all(p.read_bytes() == c for p, c in old.items())


class BakedBatch(torch.nn.Module):
    """A lifter wrapper whose trace records the example's batch size as a constant."""

    def __init__(self, lifter):
        super().__init__()
        self.lifter = lifter

    def forward(self, joints):
        return self.lifter(joints).reshape(len(joints), -1).reshape(-1, sk.NUM_JOINTS, 3)


def test_parity_check_catches_a_batch_size_baked_into_the_trace(checkpoints, tmp_path):
    lifter, _ = ckpt.load_lifter(checkpoints["gcn_transformer"])
    with pytest.warns(torch.jit.TracerWarning):
        traced = torch.jit.trace(BakedBatch(lifter), export_model.example_joints(lifter, export_model.TRACE_BATCH))
    traced.save(str(tmp_path / "baked.ts"))
    with pytest.raises(export_model.ExportError, match="batch size 1"):
        export_model.parity_errors(lifter, export_model.load_torchscript_runner(str(tmp_path / "baked.ts")))


def test_export_refuses_a_missing_output_folder(checkpoints, tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        export_model.main(["--weights", checkpoints["mlp"], "--out", str(tmp_path / "no" / "x.ts")])
    assert list(tmp_path.iterdir()) == []


def test_exported_torchscript_is_inference_only(exported):
    module = torch.jit.load(str(exported["gcn_transformer"][0]))
    out = module(torch.rand(2, sk.NUM_JOINTS, 3) * 100)  # no torch.no_grad(): a deployment may forget it
    assert not out.requires_grad
    assert not any(p.requires_grad for p in module.parameters())


@pytest.mark.parametrize("weights", ["bundled", "tiny"])
def test_the_traced_lifter_infer_uses_per_frame_matches_eager(weights, checkpoints):
    path = ckpt.BUNDLED_WEIGHTS if weights == "bundled" else checkpoints["gcn_transformer"]
    if not os.path.isfile(path):
        pytest.skip("no bundled weights in this checkout")
    lifter, _ = ckpt.load_lifter(path)
    traced = export_model.trace_lifter(lifter)
    for batch in (1, 1, 1, 3):  # TorchScript optimises after its first calls: compare those too
        joints = export_model.example_joints(lifter, batch, seed=batch)
        with torch.no_grad():
            assert (traced(joints) - lifter(joints)).abs().max() <= 1e-4  # mm
    assert any(p.requires_grad for p in lifter.parameters())  # tracing left the caller's model alone


def test_a_temporal_model_exports_its_window_offline_and_causal_with_parity(tmp_path):
    weights = tmp_path / "temporal.pth"
    lifter = test_temporal.tiny_lifter()
    ckpt.save_checkpoint(str(weights), lifter.model, "temporal", test_temporal.TINY, "mediapipe",
                         torch.stack([lifter.mean, lifter.std]))
    for causal in (False, True):
        out = {"TorchScript": str(tmp_path / f"w{causal}.ts"), "ONNX": str(tmp_path / f"w{causal}.onnx")}
        results = export_model.export(str(weights), out, causal)
        assert all(max(r.max_abs_diff_mm.values()) <= export_model.PARITY_TOLERANCE_MM for r in results)
        run = export_model.load_onnx_runner(out["ONNX"])
        window = export_model.deployable(str(weights), causal)[0]
        joints, found = (x.numpy() for x in export_model.example_windows(window, 3))
        later = joints.copy()
        later[:, test_temporal.TINY["radius"] + 1:, 5, :2] += 80.0  # a wrist moves in the frames after the centre
        changed = np.abs(run(later, found) - run(joints, found)).max()
        assert (changed == 0) if causal else (changed > 1.0)
        extra = {export_model.METADATA_FILE: ""}
        torch.jit.load(out["TorchScript"], _extra_files=extra)
        assert f"a window of {2 * test_temporal.TINY['radius'] + 1} frames" in json.loads(extra[export_model.METADATA_FILE])["input"]
    with pytest.raises(export_model.ExportError, match="per-frame model"):
        export_model.deployable(ckpt.BUNDLED_WEIGHTS, causal=True)


def test_the_traced_streaming_steps_give_the_eager_numbers():
    lifter = test_temporal.tiny_lifter()
    traced = export_model.TracedSequenceLifter(lifter)
    joints = test_temporal.frames(30).numpy()
    found = np.ones(30, bool)
    found[[4, 17]] = False
    for causal in (False, True):
        eager = infer_lifting.lift_sequence(lifter, joints, found, 30.0, causal)
        assert np.array_equal(infer_lifting.lift_sequence(traced, joints, found, 30.0, causal)[found], eager[found])
