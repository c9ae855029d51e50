"""Speed, memory and FLOPs of the lifting models on this machine. Speed is measured here, and only here.

    python benchmark.py                                    # both architectures, default configs, random init
    python benchmark.py --quick --json bench.json          # a few iterations (tests, CI)
    python benchmark.py --weights best_model_weights.pth --device cpu
    python benchmark.py --video [CLIP]                     # infer.py's video pipeline against MediaPipe alone
    python benchmark.py --video --people 1 2 4             # on clips of 1, 2 and 4 people made here

For the CPU, and the GPU too when CUDA is available (--device picks one), it prints, for the hybrid
with model.py's default config and the Martinez MLP (or the checkpoints given with --weights):
parameters and FLOPs per pose (forward, and a whole training step), training samples/s, inference
latency at batch 1 and throughput at batch 1024, peak memory, and the achieved GFLOP/s as a share
of a large float32 matmul timed in the same run. Then, on the CPU, eager PyTorch against the
exported TorchScript and ONNX Runtime models, and the share of a frame's time that lifting takes
next to MediaPipe's 2D detection on one photo (matplotlib's grace_hopper.jpg).
With --video, only this: the frame rate of decoding + MediaPipe Pose alone and of infer.py's whole
pipeline on the same clip, their ratio, the busy time of each stage's thread, and how busy each core
was (/proc/stat, all processes: on a shared machine other work slows both runs down).

How it measures:
- Time: warm-up calls, then calls until both a minimum count and a minimum total time are reached;
  the median call is reported. Inference goes from a NumPy array to a NumPy array (what a deployment
  does, host-device copies included on CUDA). Threads are left at PyTorch's and ONNX Runtime's defaults.
- FLOPs: torch.utils.flop_counter.FlopCounterMode, which counts matrix multiplications and attention
  (forward and, for a training step, backward); elementwise ops, PyG's gather/scatter, normalisation
  and the optimiser update are not counted. The CPU attention kernel is added to its table.
- Peak memory: on CUDA, torch.cuda.max_memory_allocated during the call minus what was allocated
  before it. On the CPU, growth of the process's resident set: freed heap is returned to the OS
  (glibc malloc_trim), the kernel's high-water mark VmHWM is reset through /proc/self/clear_refs, and
  the result is VmHWM after the call minus VmRSS before it; this counts every allocation (PyTorch's
  tensors, oneDNN workspaces, Python objects). 'n/a' where /proc does not allow the reset (not Linux).
  A training step is measured from a fresh optimiser, so gradients and AdamW state are included.
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib.cbook
import matplotlib.image
import numpy as np
import torch
import torch.utils.flop_counter as flop_counter

import asf_amc
import augmentation
import data_loader as dl
import export_model
import infer_video
import mocap
import model_input as mi
import pipeline
import scenes
import skeleton_utils as sk
import training_step as recipe
from atomic import output_problem, write_json
from checkpoints import (CheckpointError, default_video_weights, default_weights, is_temporal, load_lifter,
                         load_sequence_lifter, read_checkpoint, resolve_device)
from detector import MEDIAPIPE_MODEL_COMPLEXITY, PoseDetector, native_stderr_silenced
from detector_process import DetectorProcess
from infer_lifting import TemporalTrack, detection_input
from infer_outputs import InputFailed
from model import ARCHITECTURES, Lifter, build_model, count_parameters

THROUGHPUT_BATCH = 1024
LATENCY_THREADS = 1  # batch-1 latency is timed with one PyTorch thread, as infer.py runs the model
# A 1-minute load average above this share of the cores means other work was running: figures are rough.
BUSY_LOAD_SHARE = 0.3
TRAIN_BATCH = recipe.DEFAULT_BATCH_SIZE
FLOP_COUNT_BATCH = 8
MEDIAPIPE_IMAGE = "grace_hopper.jpg"  # a sample image that ships with matplotlib


@dataclass(frozen=True)
class Settings:
    warmup_calls: int
    min_calls: int
    min_seconds: float  # per measurement
    matmul_size: int


def settings_for(quick: bool, device: torch.device) -> Settings:
    if quick:
        # Two warm-up calls: TorchScript's profiling executor optimises the graph after its second run.
        return Settings(warmup_calls=2, min_calls=1, min_seconds=0.0, matmul_size=512)
    return Settings(warmup_calls=10, min_calls=5, min_seconds=2.0, matmul_size=8192 if device.type == "cuda" else 2048)


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------
def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_info(devices: list[torch.device]) -> dict:
    import onnxruntime

    info = {
        "cpu": cpu_model_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__,
        # Other processes slow every figure down on a shared machine; the load says how busy it was.
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    gpus = [torch.cuda.get_device_name(d) for d in devices if d.type == "cuda"]
    if gpus:
        info["gpu"] = gpus[0]
    return info


def describe_machine(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    load = "" if info["load_average_1min"] is None else f"; load average {info['load_average_1min']:.2f} at the start"
    text = (f"Machine: {info['cpu']}, {info['cores']} cores{gpu}; torch {info['torch']} "
            f"({info['torch_threads']} CPU threads for batches, {LATENCY_THREADS} for batch-1 latency as infer.py), "
            f"onnxruntime {info['onnxruntime']}{load}")
    busy = busy_warning(info)
    return text + (f"\n{busy}" if busy else "")


def busy_warning(info: dict) -> str | None:
    """A warning when the machine was busy at the start (the figures then measure the contention too)."""
    load = info["load_average_1min"]
    if load is None or load <= BUSY_LOAD_SHARE * info["cores"]:
        return None
    return (f"warning: the load average was {load:.2f} on {info['cores']} cores when this started: other processes "
            f"were running, so these figures are slower and noisier than the machine is; rerun on an idle machine.")


def devices_to_benchmark(name: str) -> list[torch.device]:
    """'auto': the CPU, and CUDA as well when available; otherwise the one device named."""
    if name == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    return [resolve_device(name)]


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def call_times(fn: Callable[[], object], device: torch.device, settings: Settings) -> list[float]:
    """Seconds per call of fn, after warm-up, until min_calls calls and min_seconds in total."""
    for _ in range(settings.warmup_calls):
        fn()
    synchronize(device)
    times: list[float] = []
    while len(times) < settings.min_calls or sum(times) < settings.min_seconds:
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    saved = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def median_seconds(fn: Callable[[], object], device: torch.device, settings: Settings) -> float:
    return statistics.median(call_times(fn, device, settings))


def matmul_gflops(device: torch.device, settings: Settings) -> float:
    """What the device achieves on a large float32 matrix product: the reference for the shares.

    The fastest call, not the median: the reference is what the device can do, and on a shared
    machine the fastest call is the one least slowed by other processes.
    """
    n = settings.matmul_size
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n ** 3 / min(call_times(lambda: a @ b, device, settings)) / 1e9


def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_attention_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


# FlopCounterMode knows the CUDA attention kernels but not the one scaled_dot_product_attention runs on the CPU.
CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward_flops,
}


def count_flops(fn: Callable[[], object]) -> int:
    with flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
        fn()
    return counter.get_total_flops()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _release_free_heap() -> None:
    """Hand freed heap back to the OS (glibc), so RSS growth shows what the next call needs."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def peak_memory_mib(fn: Callable[[], object], device: torch.device) -> float | None:
    """Peak memory one call of fn adds to what is already held (see the module docstring); None if unknown."""
    gc.collect()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20
    _release_free_heap()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = _status_kb("VmRSS")
    except OSError:
        return None
    fn()
    return (_status_kb("VmHWM") - before) / 1024


# ---------------------------------------------------------------------------
# The models and what is timed
# ---------------------------------------------------------------------------
def random_lifter(arch: str, **config) -> Lifter:
    """Random weights and identity normalisation (model.py's default config unless overridden): enough for speed."""
    identity = np.stack([np.zeros((sk.NUM_JOINTS, 2)), np.ones((sk.NUM_JOINTS, 2))])
    return Lifter(build_model(arch, **config), identity).eval()


def models_to_benchmark(weights: list[str] | None) -> list[tuple[str, str, Lifter]]:
    """(name, arch, CPU lifter) for each checkpoint, or for each architecture's default config."""
    if not weights:
        return [(arch, arch, random_lifter(arch)) for arch in ARCHITECTURES]
    models = []
    for path in weights:
        try:
            lifter, checkpoint = load_lifter(path, "cpu")
        except CheckpointError as err:
            raise SystemExit(f"error: {err}") from None
        models.append((f"{checkpoint['arch']} ({os.path.basename(path)})", checkpoint["arch"], lifter))
    return models


def eager_runner(lifter: Lifter, device: torch.device) -> export_model.Runner:
    """NumPy (B, 28, 3) -> NumPy (B, 28, 3) mm through the eager model on `device`."""
    def run(joints: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return lifter(torch.from_numpy(joints).to(device)).cpu().numpy()
    return run


def training_step(lifter: Lifter, batch: int, device: torch.device) -> Callable[[], None]:
    """One of train.py's steps (augmentation, loss, AdamW) with its defaults, on a fixed random batch."""
    pose2d = export_model.example_joints(lifter, batch)[..., :2].to(device)
    pose3d = 300 * torch.randn(batch, sk.NUM_JOINTS, 3, device=device)
    defaults = augmentation.Augmentation()
    optimizer = recipe.make_optimizer(lifter.parameters())

    def step() -> None:
        inputs, target = augmentation.augmented_batch(pose2d, pose3d, mi.DEFAULT_INPUT_MODE, defaults)
        optimizer.zero_grad(set_to_none=True)
        recipe.pose_loss(lifter(inputs), target).backward()
        optimizer.step()
    return step


def flops_per_pose(lifter: Lifter, device: torch.device) -> tuple[float, float]:
    """(forward FLOPs, training-step FLOPs) per pose."""
    joints = export_model.example_joints(lifter, FLOP_COUNT_BATCH).to(device)
    with torch.no_grad():
        forward = count_flops(lambda: lifter(joints))
    train_step = count_flops(training_step(copy.deepcopy(lifter).train(), FLOP_COUNT_BATCH, device))
    return forward / FLOP_COUNT_BATCH, train_step / FLOP_COUNT_BATCH


def benchmark_training(lifter: Lifter, device: torch.device, settings: Settings) -> dict:
    seconds = median_seconds(training_step(copy.deepcopy(lifter).train(), TRAIN_BATCH, device), device, settings)
    fresh = copy.deepcopy(lifter).train()
    return {"samples_per_s": TRAIN_BATCH / seconds,
            "peak_mib": peak_memory_mib(training_step(fresh, TRAIN_BATCH, device), device)}


def benchmark_runner(run: export_model.Runner, lifter: Lifter, device: torch.device, settings: Settings,
                     measure_memory: bool = False) -> dict:
    """Batch-1 latency and batch-1024 throughput of a runner (and, optionally, peak memory at batch 1024)."""
    one = export_model.example_joints(lifter, 1).numpy()
    many = export_model.example_joints(lifter, THROUGHPUT_BATCH).numpy()
    with torch_threads(LATENCY_THREADS):  # as infer.py lifts: more threads only wait on each other at batch 1
        latency = median_seconds(lambda: run(one), device, settings)
    result = {
        "latency_b1_ms": 1e3 * latency,
        "poses_per_s_b1024": THROUGHPUT_BATCH / median_seconds(lambda: run(many), device, settings),
    }
    if measure_memory:
        result["peak_mib_b1024"] = peak_memory_mib(lambda: run(many), device)
    return result


def exported_runners(lifter: Lifter, arch: str, stem: str) -> dict[str, export_model.Runner]:
    """TorchScript and ONNX Runtime runners of a CPU lifter, exported to files named `stem` + suffix."""
    runners = {}
    for fmt, runtime, suffix in (("TorchScript", "TorchScript", ".ts"), ("ONNX", "ONNX Runtime", ".onnx")):
        write, load_runner = export_model.FORMATS[fmt]
        write(lifter, {"arch": arch}, stem + suffix)
        runners[runtime] = load_runner(stem + suffix)
    return runners


def mediapipe_ms(settings: Settings) -> float:
    """Median time of MediaPipe Pose's process() on the sample photo, as infer.py runs it on a photo."""
    import mediapipe as mp

    image = matplotlib.image.imread(matplotlib.cbook.get_sample_data(MEDIAPIPE_IMAGE))  # RGB, uint8
    with native_stderr_silenced():
        with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=MEDIAPIPE_MODEL_COMPLEXITY) as pose:
            if pose.process(image).pose_landmarks is None:
                raise RuntimeError(f"MediaPipe found no person in {MEDIAPIPE_IMAGE}; the timing would not be typical")
            seconds = median_seconds(lambda: pose.process(image), torch.device("cpu"), settings)
    return 1e3 * seconds


def benchmark_model(name: str, arch: str, lifter: Lifter, device: torch.device, settings: Settings,
                    peak_gflops: float) -> dict:
    """Everything for one model on `device`: size, FLOPs, training, eager inference, shares of the peak."""
    lifter = copy.deepcopy(lifter).to(device).eval()
    forward_flops, train_flops = flops_per_pose(lifter, device)
    training = benchmark_training(lifter, device, settings)
    inference = benchmark_runner(eager_runner(lifter, device), lifter, device, settings, measure_memory=True)
    achieved = {
        "train_gflops": train_flops * training["samples_per_s"] / 1e9,
        "b1_gflops": forward_flops / (inference["latency_b1_ms"] / 1e3) / 1e9,
        "b1024_gflops": forward_flops * inference["poses_per_s_b1024"] / 1e9,
    }
    return {
        "name": name, "arch": arch, "parameters": count_parameters(lifter),
        "forward_flops_per_pose": forward_flops, "train_flops_per_pose": train_flops,
        "training": training, "inference": inference,
        **achieved, **{key.replace("gflops", "share_of_peak"): value / peak_gflops for key, value in achieved.items()},
    }


def benchmark_deployment(models: list[tuple[str, str, Lifter]], settings: Settings, detection_ms: float,
                         eager_cpu: list[dict] | None) -> list[dict]:
    """Eager, TorchScript and ONNX Runtime on the CPU, with lifting's share of a frame next to MediaPipe.

    eager_cpu: the CPU inference figures of `models` when the CPU was benchmarked already (not measured twice).
    """
    cpu = torch.device("cpu")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, arch, lifter) in enumerate(models):
            figures = {"eager": eager_cpu[i] if eager_cpu else
                       benchmark_runner(eager_runner(lifter, cpu), lifter, cpu, settings)}
            for runtime, run in exported_runners(lifter, arch, os.path.join(folder, f"{i}_{arch}")).items():
                figures[runtime] = benchmark_runner(run, lifter, cpu, settings)
            for runtime, f in figures.items():
                rows.append({"name": name, "runtime": runtime, "latency_b1_ms": f["latency_b1_ms"],
                             "poses_per_s_b1024": f["poses_per_s_b1024"],
                             "lifting_share_of_frame": f["latency_b1_ms"] / (f["latency_b1_ms"] + detection_ms)})
    return rows


# ---------------------------------------------------------------------------
# Video: infer.py's whole pipeline against MediaPipe alone
# ---------------------------------------------------------------------------
VIDEO_SIZE = (960, 540)
VIDEO_FRAMES = 150
VIDEO_FPS = 30.0


def make_clip(path: str, frames: int, people: int = 1, size: tuple[int, int] = VIDEO_SIZE) -> str:
    """A clip of people walking to and fro in front of a wall, each a copy of the sample photo (scenes.py)."""
    photo = cv2.imread(matplotlib.cbook.get_sample_data(MEDIAPIPE_IMAGE, asfileobj=False))
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, size)
    for frame in scenes.walking_clip(photo, people, frames, *size)[0]:
        writer.write(frame)
    writer.release()
    return path


class CpuMeter:
    """Busy share of each core (all processes, from /proc/stat) and cores used by this process and the children
    it waited for (infer.py's MediaPipe process), over a block."""

    def __enter__(self) -> CpuMeter:
        self._cores, self._process, self._wall = self._core_ticks(), os.times(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall
        process = os.times()
        self.process_cores = (self._cpu_seconds(process) - self._cpu_seconds(self._process)) / wall
        after = self._core_ticks()
        self.core_busy = [1 - (a[1] - b[1]) / max(a[0] - b[0], 1) for a, b in zip(after, self._cores)]

    @staticmethod
    def _cpu_seconds(times: os.times_result) -> float:
        return times.user + times.system + times.children_user + times.children_system

    @staticmethod
    def _core_ticks() -> list[tuple[int, int]]:
        """(total, idle + iowait) jiffies per core; empty where /proc/stat does not exist."""
        try:
            with open("/proc/stat") as f:
                rows = [line.split() for line in f if line.startswith("cpu") and line[3].isdigit()]
        except OSError:
            return []
        return [(sum(map(int, r[1:])), int(r[4]) + int(r[5])) for r in rows]


def mediapipe_alone(clip: str) -> dict:
    """Decode every frame and run MediaPipe Pose on it as infer.py does (tracking mode), nothing else."""
    capture = cv2.VideoCapture(clip)
    frames = 0
    with PoseDetector(tracking=True) as detector, CpuMeter() as cpu:  # one person: what MediaPipe alone gives
        start = time.perf_counter()
        ok, frame = capture.read()
        while ok:
            detector.detect(frame)
            frames += 1
            ok, frame = capture.read()
        seconds = time.perf_counter() - start
    capture.release()
    return {"frames": frames, "fps": frames / seconds, "process_cores": cpu.process_cores, "core_busy": cpu.core_busy}


def whole_pipeline(clip: str, lifter: Lifter, temporal: export_model.TracedSequenceLifter | None,
                   max_people: int | None = None) -> dict:
    """infer.py on the clip (with --max-people): annotated video and JSON lines written, in a temporary folder."""
    stats = pipeline.PipelineStats()
    options = infer_video.StreamOptions(max_frames=None, smooth=None, show=False, temporal=temporal,
                                        max_people=max_people)
    with tempfile.TemporaryDirectory() as folder, CpuMeter() as cpu:
        infer_video.process_stream(Path(clip), "clip", Path(folder), lifter, options, stats=stats)
    return {"frames": stats.frames, "fps": stats.frames / stats.wall_seconds, "process_cores": cpu.process_cores,
            "core_busy": cpu.core_busy,
            "stage_ms": {name: 1e3 * s / stats.frames for name, s in stats.busy_seconds.items()}}


def causal_latency(clip: str, temporal: export_model.TracedSequenceLifter, input_mode: str) -> dict:
    """A live camera's latency: from a frame in hand to its 3D by the causal temporal model (MediaPipe in its
    process, as infer.py --camera runs it, then the model), per frame of the clip; median and 95th percentile ms."""
    capture, track, detect_ms, lift_ms = cv2.VideoCapture(clip), TemporalTrack(temporal, causal=True), [], []
    with DetectorProcess(VIDEO_FPS, slots=pipeline.RESULTS_ALIVE_PER_STAGE) as detector:
        ok, frame = capture.read()
        while ok:
            start = time.perf_counter()
            people = detector.detect(frame)
            detected = time.perf_counter()
            track.push(detected, detection_input(people[0], input_mode) if people else None)
            detect_ms.append(1e3 * (detected - start))
            lift_ms.append(1e3 * (time.perf_counter() - detected))
            ok, frame = capture.read()
    capture.release()
    total = np.add(detect_ms, lift_ms)
    return {"frames": len(total), "median_ms": float(np.median(total)), "p95_ms": float(np.percentile(total, 95)),
            "detection_median_ms": float(np.median(detect_ms)), "temporal_lift_median_ms": float(np.median(lift_ms))}


def benchmark_video(clip: str | None, weights: str, quick: bool, temporal_weights: str | None = None,
                    people: tuple[int, ...] = (1,), max_people: int | None = None) -> dict:
    """For the clip (default: one made here for each number of people): MediaPipe alone (one person), then
    infer.py's pipeline (everyone, with the temporal model when given), on the same clip in the same run (the
    ratio is what counts); and on the first clip a camera's causal latency."""
    torch.set_num_threads(1)  # as infer.py
    lifter, checkpoint = load_lifter(weights, "cpu")
    temporal = export_model.TracedSequenceLifter(load_sequence_lifter(temporal_weights, "cpu")[0]) if temporal_weights else None
    fast = export_model.trace_lifter(lifter)
    runs, frames = [], 20 if quick else VIDEO_FRAMES
    with tempfile.TemporaryDirectory() as folder:
        for count in people if clip is None else (None,):
            path = clip or make_clip(os.path.join(folder, f"clip{count}.mp4"), frames, count)
            alone = mediapipe_alone(path)
            if not alone["frames"]:
                raise SystemExit(f"error: --video {path}: no frame could be read (empty, corrupt, or a codec OpenCV lacks).")
            try:
                whole = whole_pipeline(path, fast, temporal, max_people)
            except InputFailed as err:
                raise SystemExit(f"error: --video {err}") from None
            runs.append({"people": count, "clip": clip or f"{frames} frames {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]} of {count} "
                         f"{'person' if count == 1 else 'people'} made by benchmark.py", "mediapipe_alone": alone,
                         "pipeline": whole, "ratio": whole["fps"] / alone["fps"]})
            if len(runs) == 1 and temporal is not None:
                latency = causal_latency(path, temporal, checkpoint["input_mode"])
    return {"temporal": temporal_weights, "max_people": max_people, "runs": runs,
            "causal_latency": latency if temporal is not None else None}


def _cores(run: dict) -> str:
    busy = ", ".join(_percent(b) for b in run["core_busy"]) or "n/a"
    return f"this process and its children {run['process_cores']:.2f} cores; each core busy (all processes): {busy}"


def video_report(results: dict) -> str:
    video = results["video"]
    lines = [describe_machine(results["machine"])]
    who = "everyone" if video.get("max_people") is None else f"at most {video['max_people']}"
    for run in video["runs"]:
        alone, whole = run["mediapipe_alone"], run["pipeline"]
        stages = ", ".join(f"{name} {ms:.1f}" for name, ms in whole["stage_ms"].items())
        lines += [
            f"Video: {run['clip']}",
            f"  MediaPipe alone (decode + Pose of one person, model_complexity={MEDIAPIPE_MODEL_COMPLEXITY}, "
            f"tracking): {alone['fps']:.1f} fps; {_cores(alone)}",
            f"  infer.py pipeline ({who} found and followed, lifted{' by the temporal model, offline' if video['temporal'] else ', frame by frame'}, "
            f"drawn, video and JSON lines written): {whole['fps']:.1f} fps; {_cores(whole)}",
            f"    busy ms per frame on each stage's thread (the stages overlap): {stages}",
            f"  pipeline / MediaPipe alone: {_percent(run['ratio'])}"]
    return "\n".join(lines + ([f"camera, causal temporal model: frame in hand to 3D ready {latency['median_ms']:.1f} ms median, "
          f"{latency['p95_ms']:.1f} ms 95th percentile (MediaPipe {latency['detection_median_ms']:.1f}, temporal "
          f"lifting {latency['temporal_lift_median_ms']:.1f}); the causal model adds no frames of delay"]
         if (latency := video["causal_latency"]) else []))


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
def format_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def models_table(models: list[dict]) -> str:
    return format_table("Models (FLOPs counted by FlopCounterMode)",
                        ["model", "parameters", "MFLOP/pose forward", "MFLOP/pose train step"], [
        [m["name"], f"{m['parameters']:,}", f"{m['forward_flops_per_pose'] / 1e6:.2f}",
         f"{m['train_flops_per_pose'] / 1e6:.2f}"] for m in models])


def device_report(section: dict) -> list[str]:
    """The training and inference tables of one device."""
    models, device = section["models"], section["device"]
    return [
        f"Device {device}: reference {section['matmul_size']}x{section['matmul_size']} float32 matmul = "
        f"{section['matmul_gflops']:,.1f} GFLOP/s",
        format_table(f"Training on {device} (train.py's step and defaults: batch {TRAIN_BATCH}, augmentation, "
                     f"MPJPE + {recipe.BONE_LOSS_WEIGHT} x bone loss, AdamW)",
                     ["model", "samples/s", "GFLOP/s", "of matmul", "peak MiB"], [
            [m["name"], f"{m['training']['samples_per_s']:,.0f}", f"{m['train_gflops']:.2f}",
             _percent(m["train_share_of_peak"]), _mib(m["training"]["peak_mib"])] for m in models]),
        format_table(f"Inference on {device} (eager, NumPy in and out)",
                     ["model", "batch-1 ms", "GFLOP/s", "of matmul", f"batch-{THROUGHPUT_BATCH} poses/s", "GFLOP/s",
                      "of matmul", "peak MiB"], [
            [m["name"], f"{m['inference']['latency_b1_ms']:.3f}", f"{m['b1_gflops']:.2f}",
             _percent(m["b1_share_of_peak"]), f"{m['inference']['poses_per_s_b1024']:,.0f}", f"{m['b1024_gflops']:.2f}",
             _percent(m["b1024_share_of_peak"]), _mib(m["inference"]["peak_mib_b1024"])] for m in models]),
    ]


def report(results: dict) -> str:
    sections = [describe_machine(results["machine"]), models_table(results["devices"][0]["models"])]
    for section in results["devices"]:
        sections += device_report(section)
    sections.append(format_table(
        f"Deployment on the CPU; MediaPipe Pose (model_complexity={MEDIAPIPE_MODEL_COMPLEXITY}) takes "
        f"{results['mediapipe_ms']:.1f} ms per process() on {MEDIAPIPE_IMAGE}",
        ["model", "runtime", "batch-1 ms", f"batch-{THROUGHPUT_BATCH} poses/s", "lifting share of frame"], [
            [r["name"], r["runtime"], f"{r['latency_b1_ms']:.3f}", f"{r['poses_per_s_b1024']:,.0f}",
             _percent(r["lifting_share_of_frame"])] for r in results["deployment"]]))
    return "\n\n".join(sections)


def benchmark_device(models: list[tuple[str, str, Lifter]], device: torch.device, quick: bool) -> dict:
    settings = settings_for(quick, device)
    peak = matmul_gflops(device, settings)
    return {
        "device": str(device),
        "matmul_size": settings.matmul_size,
        "matmul_gflops": peak,
        "models": [benchmark_model(name, arch, lifter, device, settings, peak) for name, arch, lifter in models],
    }


def run_benchmark(devices: list[torch.device], quick: bool, weights: list[str] | None = None) -> dict:
    machine = machine_info(devices)
    models = models_to_benchmark(weights)
    cpu_settings = settings_for(quick, torch.device("cpu"))
    detection_ms = mediapipe_ms(cpu_settings)
    sections = [benchmark_device(models, device, quick) for device in devices]
    eager_cpu = next(([m["inference"] for m in s["models"]] for s in sections if s["device"] == "cpu"), None)
    return {
        "machine": machine,
        "quick": quick,
        "mediapipe_ms": detection_ms,
        "devices": sections,
        "deployment": benchmark_deployment(models, cpu_settings, detection_ms, eager_cpu),
    }


def benchmark_data_loading(args: argparse.Namespace) -> dict:
    """How long the pose sources that --data, --synthetic and --mocap name take to load (BVH parsing,
    forward kinematics and filming for --mocap; generation for --synthetic), as train.py loads them."""
    started = time.perf_counter()
    try:
        arrays, name = dl.load_pose_sources(args, say=lambda *_: None)
    except dl.DatasetError as err:
        raise SystemExit(f"error: {err}") from err
    seconds = time.perf_counter() - started
    clips = mocap.find_clips(args.mocap) if args.mocap and not args.mocap[0].endswith(".npz") else []
    largest = {suffix: max((p for p in clips if p.suffix.lower() == suffix), key=lambda p: p.stat().st_size, default=None)
               for suffix in (".bvh", ".amc")}
    return {"source": name, "poses": len(arrays["pose2d"]), "seconds": seconds,
            "poses_per_s": len(arrays["pose2d"]) / seconds,
            "bvh_import": clip_import(largest[".bvh"]) if largest[".bvh"] else None,
            "amc_import": clip_import(largest[".amc"], args.mocap_asf, args.mocap_amc_fps) if largest[".amc"] else None}


def clip_import(path, asf: str | None = None, amc_fps: float = asf_amc.DEFAULT_FPS) -> dict:
    """Seconds to parse one clip (BVH, or ASF/AMC with its skeleton) and to turn it into the 28 joints
    (forward kinematics, rig table, placement)."""
    started = time.perf_counter()
    clip = mocap.read_clip(path, asf, amc_fps)
    parsed = time.perf_counter()
    mocap.clip_to_mpiinf(clip)
    return {"clip": str(path), "frames": len(clip.values), "joints": len(clip.skeleton.names),
            "parse_s": parsed - started, "joints_s": time.perf_counter() - parsed}


def data_report(data: dict) -> str:
    text = (f"Loading the poses: {data['source']}: {data['poses']:,} poses in {data['seconds']:.2f} s "
            f"({data['poses_per_s']:,.0f} poses/s)")
    for key, kind in (("bvh_import", "BVH"), ("amc_import", "ASF/AMC")):
        clip = data.get(key)
        if clip:
            total = clip["parse_s"] + clip["joints_s"]
            text += (f"\n{kind} import of the largest clip, {clip['clip']} ({clip['frames']:,} frames, {clip['joints']} "
                     f"joints with End Sites): parse {clip['parse_s']:.2f} s + forward kinematics and the 28 joints "
                     f"{clip['joints_s']:.2f} s = {total:.2f} s ({1e4 * total / clip['frames']:.2f} s per 10,000 frames)")
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations only (tests, CI); figures are rough")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    parser.add_argument("--weights", nargs="+", metavar="PATH",
                        help="benchmark these checkpoints (default: both architectures, default configs, random init)")
    parser.add_argument("--device", default="auto",
                        help="auto (the CPU, and CUDA too when available), cpu or cuda (default: %(default)s)")
    parser.add_argument("--video", nargs="?", const="", metavar="CLIP",
                        help="instead: infer.py's video pipeline against MediaPipe alone on CLIP (default: a "
                             f"{VIDEO_FRAMES}-frame {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]} clip made here for each --people), "
                             "with the first --weights (default: see infer.py --help; a temporal one, the bundled "
                             "video model by default, also gives a camera's causal latency)")
    parser.add_argument("--max-people", type=int, metavar="N", help="with --video: the pipeline as infer.py "
                        "--max-people N runs it (default: everyone found)")
    parser.add_argument("--people", type=int, nargs="+", default=[1], metavar="N",
                        help="with --video and no CLIP: clips of this many people walking, one run each (default: 1)")
    dl.add_source_arguments(parser.add_argument_group(
        "poses (optional): also time loading them as train.py, eval.py and visualize_eval.py do"))
    args = parser.parse_args(argv)
    dl.check_source_arguments(parser, args)
    if min(args.people) < 1 or (args.people != [1] and (args.video is None or args.video)):
        parser.error("--people takes positive numbers and goes with --video without a CLIP of your own")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    problem = args.json and output_problem(args.json)
    if problem:
        raise SystemExit(f"error: --json {problem}.")
    # The inputs first: a broken clip or file is reported before minutes of timing, not after.
    data_loading = benchmark_data_loading(args) if args.data or args.synthetic or args.mocap else None
    if args.video is not None:
        if args.video and not os.path.isfile(args.video):
            raise SystemExit(f"error: --video {args.video}: no such file.")
        weights = args.weights[0] if args.weights else default_weights()
        temporal = (weights if is_temporal(read_checkpoint(weights)) else None) if args.weights else default_video_weights()
        results = {"machine": machine_info([torch.device("cpu")]),
                   "video": benchmark_video(args.video or None, weights, args.quick, temporal, tuple(args.people),
                                            args.max_people)}
        print(video_report(results))
    else:
        results = run_benchmark(devices_to_benchmark(args.device), args.quick, args.weights)
        print(report(results))
    if data_loading:
        results["data_loading"] = data_loading
        print("\n" + data_report(data_loading))
    if args.json:
        write_json(args.json, results)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
