import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv

import data_loader as dl
import model as m
import skeleton_utils as sk
import model_input as mi
import checkpoints as ckpt

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    pose3d = rng.normal(0, 300, size=(64, 28, 3)) + np.array([0, 0, 4000])
    pose2d = torch.tensor(1500 * pose3d[..., :2] / pose3d[..., 2:] + 1024, dtype=torch.float32)
    return dl.model_input_from_ground_truth(pose2d, "mediapipe")


@pytest.fixture(scope="module")
def lifter(inputs):
    torch.manual_seed(0)
    return m.Lifter(m.build_model("gcn_transformer", dim=32, depth=2, heads=4), mi.compute_norm_stats(inputs)).eval()


def test_edge_index_holds_each_bone_both_ways():
    edges = m.create_edge_index()
    assert edges.shape == (2, 54)
    pairs = set(map(tuple, edges.t().tolist()))
    assert all((p, c) in pairs and (c, p) in pairs for p, c in sk.MPIINF_EDGES)


@pytest.mark.parametrize("arch", ["gcn_transformer", "mlp"])
def test_output_is_root_relative_millimetres(arch, inputs):
    net = m.build_model(arch).eval()
    out = net(inputs[:8])
    assert out.shape == (8, 28, 3) and torch.all(out[:, sk.ROOT] == 0)


def test_graph_convolution_uses_one_shared_edge_index(inputs):
    net = m.build_model("gcn_transformer", dim=32, depth=1, heads=2)
    assert net.edge_index.shape == (2, 54 + 28)  # the bones and self-loops, never replicated per pose
    conv = net.blocks[0].graph_conv
    assert isinstance(conv, GCNConv) and conv.node_dim == 1
    # The precomputed normalisation is exactly what GCNConv would compute on every call.
    x = torch.randn(3, 28, 32)
    default = GCNConv(32, 32, node_dim=1)
    default.load_state_dict(conv.state_dict())
    assert torch.allclose(conv(x, net.edge_index, net.edge_weight), default(x, m.create_edge_index()), atol=1e-6)


def _moved(inputs, scale, shift):
    return torch.cat([inputs[..., :2] * scale + shift, inputs[..., 2:]], dim=-1)


def test_lifted_pose_ignores_translation_and_scale_of_the_2d(lifter, inputs):
    # Pixels on a 1/64 grid make these moves exact in float32, so any change is the pipeline's.
    gridded = torch.cat([torch.round(inputs[..., :2] * 64) / 64, inputs[..., 2:]], dim=-1)
    with torch.no_grad():
        base = lifter(gridded)
        for scale, shift in ((2.0, 128.0), (0.5, -64.0), (4.0, 1000.0), (0.25, 3000.0)):
            assert (lifter(_moved(gridded, scale, shift)) - base).abs().max() < 1e-3
        # An arbitrary move also rounds the float32 input pixels themselves (1e-4 px at 2000 px).
        assert (lifter(_moved(gridded, 0.37, 123.4)) - base).abs().max() < 0.05


def test_batch_of_one_equals_the_same_pose_in_a_batch_of_64(lifter, inputs):
    with torch.no_grad():
        batch = lifter(inputs)
        for i in (0, 17, 63):
            assert torch.allclose(lifter(inputs[i: i + 1])[0], batch[i], atol=1e-3)


@pytest.mark.parametrize("arch", ["gcn_transformer", "mlp"])
def test_every_parameter_gets_a_gradient(arch, inputs):
    net = m.build_model(arch)
    net(inputs[:16]).pow(2).mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_parameter_count_is_reported():
    assert 50_000 < m.count_parameters(m.build_model("gcn_transformer")) < 2_000_000
    assert m.count_parameters(m.build_model("mlp")) > 4_000_000  # two residual blocks of 1024


def test_checkpoint_round_trips(tmp_path, lifter, inputs):
    path = str(tmp_path / "w.pth")
    config = {"dim": 32, "depth": 2, "heads": 4}
    ckpt.save_checkpoint(path, lifter.model, "gcn_transformer", config, "mediapipe",
                      torch.stack([lifter.mean, lifter.std]), extra={"epoch": 3})
    loaded, checkpoint = ckpt.load_lifter(path)
    assert checkpoint["input_mode"] == "mediapipe" and checkpoint["epoch"] == 3
    assert checkpoint["joint_names"] == list(sk.JOINT_NAMES)
    with torch.no_grad():
        assert torch.equal(loaded(inputs), lifter(inputs))


def test_truncated_checkpoint_fails_clearly(tmp_path, lifter):
    path = tmp_path / "w.pth"
    ckpt.save_checkpoint(str(path), lifter.model, "gcn_transformer", {"dim": 32, "depth": 2, "heads": 4},
                      "mediapipe", torch.stack([lifter.mean, lifter.std]))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ckpt.CheckpointError, match="w.pth.*corrupt, truncated"):
        ckpt.load_checkpoint(str(path))


def test_mismatched_and_missing_checkpoints_fail_clearly(tmp_path, lifter):
    path = str(tmp_path / "w.pth")
    ckpt.save_checkpoint(path, lifter.model, "gcn_transformer", {"dim": 64, "depth": 2, "heads": 4},
                      "mediapipe", torch.stack([lifter.mean, lifter.std]))
    with pytest.raises(ckpt.CheckpointError, match="do not fit the architecture"):
        ckpt.load_checkpoint(path)
    torch.save({"weights": 1}, path)
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint of this project"):
        ckpt.load_checkpoint(path)
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_checkpoint(str(tmp_path / "nope.pth"))


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"old")
    with pytest.raises(Exception):
        ckpt.atomic_torch_save({"x": lambda: 0}, str(path))  # lambdas cannot be pickled
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_default_weights_prefer_a_trained_model_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ckpt.default_weights() == ckpt.BUNDLED_WEIGHTS
    (tmp_path / ckpt.TRAINED_WEIGHTS).write_bytes(b"")
    assert ckpt.default_weights() == ckpt.TRAINED_WEIGHTS


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error():
    with pytest.raises(SystemExit, match="CUDA is not available on this machine; use --device cpu"):
        ckpt.resolve_device("cuda")
    with pytest.raises(SystemExit, match="not a device name"):
        ckpt.resolve_device("gpu0")
    assert ckpt.resolve_device("auto") == torch.device("cpu")


def test_building_and_running_the_models_leaves_the_temp_folder_clean(tmp_path):
    """PyG writes the generated code of GCNConv.propagate to the temp folder; model.py keeps it out."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = ("import torch, model\n"
            "for arch in model.ARCHITECTURES:\n"
            "    model.build_model(arch)(torch.rand(4, 28, 3)).sum().backward()\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "TMPDIR": str(temp)},
                   capture_output=True, timeout=300)
    # torch creates its (empty) compile cache folder torchinductor_<user> when torch._dynamo is imported.
    left = [p for p in temp.rglob("*") if not (p.is_dir() and p.name.startswith("torchinductor_"))]
    assert left == []
