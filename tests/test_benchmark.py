import json
import math
import os
import subprocess
import sys

import pytest
import torch

import benchmark
import checkpoints as ckpt
import model as mdl
import skeleton_utils as sk
from bvh_fixtures import write_cmu_clip

CPU = torch.device("cpu")


def test_quick_run_prints_every_table_and_writes_json(tmp_path):
    result = subprocess.run([sys.executable, benchmark.__file__, "--quick", "--device", "cpu",
                             "--json", str(tmp_path / "bench.json")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Machine: ") and "torch " + torch.__version__ in out
    for title in ("Models (FLOPs counted", "Training on cpu", "Inference on cpu", "Deployment on the CPU; MediaPipe Pose"):
        assert title in out
    rows = [line.split() for line in out.splitlines()]
    for arch in mdl.ARCHITECTURES:
        assert sum(row[:1] == [arch] for row in rows) == 3 + 3  # models, training, inference; 3 runtimes
        for runtime in (["eager"], ["TorchScript"], ["ONNX", "Runtime"]):
            assert [arch, *runtime] in [row[:1 + len(runtime)] for row in rows]

    results = json.loads((tmp_path / "bench.json").read_text())
    (section,) = results["devices"]
    assert section["device"] == "cpu" and [m["arch"] for m in section["models"]] == list(mdl.ARCHITECTURES)
    figures = [section["matmul_gflops"], results["mediapipe_ms"]]
    for m in section["models"]:
        figures += [m["training"]["samples_per_s"], m["inference"]["latency_b1_ms"],
                    m["inference"]["poses_per_s_b1024"], m["train_share_of_peak"], m["b1_share_of_peak"],
                    m["b1024_share_of_peak"]]
    for row in results["deployment"]:
        figures += [row["latency_b1_ms"], row["poses_per_s_b1024"]]
        assert 0 < row["lifting_share_of_frame"] < 1
    assert all(math.isfinite(x) and x > 0 for x in figures)  # measured, not asserted fast or slow
    memory = [m["training"]["peak_mib"] for m in section["models"]] + \
        [m["inference"]["peak_mib_b1024"] for m in section["models"]]
    assert all(x is None or x > 0 for x in memory)
    assert results["machine"]["cores"] == os.cpu_count() and results["machine"]["torch"] == torch.__version__


def test_flops_per_pose_match_the_layer_arithmetic():
    mlp = benchmark.random_lifter("mlp")
    width, inputs = 1024, 3 * sk.NUM_JOINTS  # model.py's default width; 2 residual blocks of 2 layers
    forward, train_step = benchmark.flops_per_pose(mlp, CPU)
    assert forward == 2 * (inputs * width + 4 * width * width + width * inputs)
    assert 2.9 * forward < train_step < 3 * forward  # backward is twice the forward, less the input gradient

    dim, depth, j = 16, 2, sk.NUM_JOINTS
    hybrid = benchmark.random_lifter("gcn_transformer", dim=dim, depth=depth, heads=2)
    # Embedding and head; per block the graph convolution's, attention's (qkv, proj) and MLP's linear layers,
    # and attention itself (scores and weighted sum), which FlopCounterMode only counts with our CPU kernel entry.
    per_block = 2 * j * dim * dim * (1 + 3 + 1 + 4) + 2 * 2 * j * j * dim
    assert benchmark.flops_per_pose(hybrid, CPU)[0] == 2 * j * (3 * dim + dim * 3) + depth * per_block


def test_peak_memory_sees_a_temporary_allocation():
    def allocate_64_mib():
        torch.ones(16 * 2 ** 20).sum()  # 64 MiB of float32, touched, freed on return

    peak = benchmark.peak_memory_mib(allocate_64_mib, CPU)
    if peak is None:
        pytest.skip("this system does not allow resetting the resident-set high-water mark")
    assert 60 < peak < 100


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"garbage")
    with pytest.raises(SystemExit, match="corrupt"):
        benchmark.models_to_benchmark([str(weights)])


def test_json_into_a_missing_folder_is_refused_before_running(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        benchmark.main(["--quick", "--json", str(tmp_path / "missing" / "bench.json")])


def test_video_run_compares_the_pipeline_with_mediapipe_alone(tmp_path):
    result = subprocess.run([sys.executable, benchmark.__file__, "--video", "--quick", "--json", str(tmp_path / "v.json")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    for line in ("MediaPipe alone (decode + Pose", "infer.py pipeline", "busy ms per frame", "pipeline / MediaPipe alone"):
        assert line in result.stdout
    video = json.loads((tmp_path / "v.json").read_text())["video"]
    assert [run["people"] for run in video["runs"]] == [1]
    video.update(video["runs"][0])
    assert video["mediapipe_alone"]["frames"] == video["pipeline"]["frames"] == 20
    assert set(video["pipeline"]["stage_ms"]) == {"read", "detection", "lifting", "drawing", "writing"}
    figures = [video["ratio"], video["mediapipe_alone"]["fps"], video["pipeline"]["fps"], *video["pipeline"]["stage_ms"].values()]
    assert all(math.isfinite(x) and x > 0 for x in figures)  # measured, not asserted fast or slow
    assert not list(tmp_path.glob("*.mp4"))  # the clip and the outputs lived in temporary folders
    # The bundled video model lifted the pipeline's frames, and a camera's causal latency was measured.
    assert video["temporal"] == ckpt.BUNDLED_TEMPORAL_WEIGHTS and "by the temporal model, offline" in result.stdout
    assert video["causal_latency"]["frames"] == 20 and "camera, causal temporal model" in result.stdout
    assert 0 < video["causal_latency"]["temporal_lift_median_ms"] < video["causal_latency"]["median_ms"]


def test_loading_bvh_clips_also_times_importing_the_largest(tmp_path):
    write_cmu_clip(tmp_path / "short.bvh", frames=30)
    write_cmu_clip(tmp_path / "long.bvh", frames=240, seed=1)
    loading = benchmark.benchmark_data_loading(benchmark.parse_args(["--mocap", str(tmp_path), "--mocap-views", "1"]))
    bvh = loading["bvh_import"]
    assert bvh["clip"] == str(tmp_path / "long.bvh") and bvh["frames"] == 240
    assert loading["poses"] > 0 and bvh["parse_s"] > 0 and bvh["joints_s"] > 0
    assert "BVH import of the largest clip" in benchmark.data_report(loading)
    assert benchmark.benchmark_data_loading(benchmark.parse_args(["--synthetic", "10"]))["bvh_import"] is None


def test_loading_amc_clips_times_the_largest_too(tmp_path):
    from test_asf_amc import cmu_like_clip
    cmu_like_clip(tmp_path, frames=40)
    loading = benchmark.benchmark_data_loading(benchmark.parse_args(["--mocap", str(tmp_path), "--mocap-views", "1"]))
    assert loading["amc_import"]["frames"] == 40 and loading["bvh_import"] is None
    assert "ASF/AMC import of the largest clip" in benchmark.data_report(loading) and "per 10,000 frames" in benchmark.data_report(loading)


def test_a_broken_clip_is_reported_before_any_timing(tmp_path, monkeypatch):
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\n")
    monkeypatch.setattr(benchmark, "run_benchmark", lambda *a, **k: pytest.fail("timed the models first"))
    with pytest.raises(SystemExit, match="broken.bvh"):
        benchmark.main(["--quick", "--mocap", str(broken)])


def test_an_empty_video_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = subprocess.run([sys.executable, benchmark.__file__, "--video", str(empty), "--quick"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 1 and "empty.mp4: no frame could be read" in result.stderr
    assert "Traceback" not in result.stderr


def test_batch_1_latency_is_timed_at_one_thread_and_a_busy_machine_is_named(monkeypatch):
    seen = []
    lifter = benchmark.random_lifter("mlp")

    def run(joints):
        seen.append((len(joints), torch.get_num_threads()))
        return joints

    with benchmark.torch_threads(2):
        benchmark.benchmark_runner(run, lifter, CPU, benchmark.settings_for(True, CPU))
        assert torch.get_num_threads() == 2
    assert {threads for size, threads in seen if size == 1} == {1}
    assert {threads for size, threads in seen if size > 1} == {2}
    busy = {"load_average_1min": 3.5, "cores": 2}
    assert "warning: the load average was 3.50 on 2 cores" in benchmark.busy_warning(busy)
    assert benchmark.busy_warning({"load_average_1min": 0.1, "cores": 2}) is None
