"""Export a trained lifter for deployment as TorchScript and ONNX, checked against the eager model.

    python export_model.py                                   # default weights (see --help) -> pose_estimator.ts
    python export_model.py --weights runs/x/best.pth --out x.ts --onnx x.onnx

The exported graph is the whole Lifter (model.py): the normalisation and the skeleton graph are
built in, so a deployed model takes raw (B, 28, 3) float32 pixel joints + visibility (x, y, visibility;
joints in skeleton_utils.JOINT_NAMES order, e.g. from skeleton_utils.mediapipe_to_mpiinf) and returns
(B, 28, 3) root-relative millimetres, for any batch size, in a process that imports neither this
project nor PyTorch Geometric:

    import torch
    lifter = torch.jit.load("pose_estimator.ts")
    pose3d_mm = lifter(torch.as_tensor(joints, dtype=torch.float32)).detach().numpy()

    import onnxruntime as ort
    session = ort.InferenceSession("pose_estimator.onnx", providers=["CPUExecutionProvider"])
    pose3d_mm = session.run(None, {"joints": joints.astype("float32")})[0]

A temporal checkpoint (train_temporal.py) exports its window: (B, W, 28, 3) raw frames, W = 2 x radius + 1
frames at 25 fps (sequences.INTERNAL_FPS), and found (B, W) bool (False where the frame has no person, or
lies past the clip's edge) -> (B, 28, 3) mm of the centre frame; with --causal the frames after the centre
are never read (a live camera's window: the centre is the newest frame):

    pose3d_mm = session.run(None, {"joints": windows.astype("float32"), "found": found})[0]

Both files carry metadata (joint names, parents, input mode, architecture, training scores): the
TorchScript `_extra_files` entry "metadata.json" and the ONNX model's metadata_props.

Every file is first written beside its destination under a temporary name, loaded back the way a
deployment loads it, and compared with the eager model at several batch sizes; only when all
requested files are within PARITY_TOLERANCE_MM do they replace the destinations (by rename).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import skeleton_utils as sk
from atomic import atomic_outputs, output_problem
from checkpoints import WEIGHTS_HELP, CheckpointError, default_weights, is_temporal, load_lifter, load_sequence_lifter
from model import Lifter, SequenceLifter, WindowLifter

DEFAULT_OUT = "pose_estimator.ts"
PARITY_TOLERANCE_MM = 0.01
# The trace is taken at TRACE_BATCH and checked at other sizes (1 and odd ones among them): a
# batch size baked into the graph as a constant then shows up as an error or a mismatch.
TRACE_BATCH = 5
PARITY_BATCH_SIZES = (1, 2, 7, 64, 257)
INPUT_NAME = "joints"
FOUND_NAME = "found"  # a temporal window's second input
OUTPUT_NAME = "pose3d"
METADATA_FILE = "metadata.json"  # the TorchScript _extra_files entry that holds deployment_metadata()
CHECKPOINT_MODEL_KEYS = ("format", "arch", "config", "input_mode", "joint_names", "norm_stats", "state_dict")

Runner = Callable[..., np.ndarray]  # the deployed model: its input arrays -> (B, 28, 3) mm
Deployable = Lifter | WindowLifter


class ExportError(RuntimeError):
    """An export that failed or does not reproduce the eager model; the message says which and why."""


@dataclass
class ExportResult:
    fmt: str
    path: str
    size_bytes: int
    max_abs_diff_mm: dict[int, float]  # batch size -> max |deployed - eager| in mm


# ---------------------------------------------------------------------------
# What the deployed file carries besides the weights
# ---------------------------------------------------------------------------
def deployment_metadata(checkpoint: dict, weights: str, module: Deployable | None = None) -> dict:
    """JSON-ready description of the exported model: its input, output, skeleton and training."""
    training = {k: v for k, v in checkpoint.items()
                if k not in CHECKPOINT_MODEL_KEYS and isinstance(v, (str, int, float, bool))}
    joints = (f"{INPUT_NAME}: float32 (B, {sk.NUM_JOINTS}, 3) = x, y in image pixels (u right, v down), "
              f"visibility (1 seen, 0 not)")
    if isinstance(module, WindowLifter):
        width = 2 * module.lifter.radius + 1
        joints = (f"{INPUT_NAME}: float32 (B, {width}, {sk.NUM_JOINTS}, 3), a window of {width} frames at "
                  f"{checkpoint.get('fps', 25.0):g} fps, each x, y in image pixels (u right, v down), visibility; "
                  f"{FOUND_NAME}: bool (B, {width}), whether the frame has the person; the output is the centre "
                  f"frame's" + (" (causal: the frames after it are not read)" if module.causal else ""))
    return {
        "input": joints,
        "output": f"{OUTPUT_NAME}: float32 (B, {sk.NUM_JOINTS}, 3) camera-space millimetres (x right, y down, "
                  f"z away from the camera), relative to the root joint",
        "joint_names": list(sk.JOINT_NAMES),
        "parents": list(sk.PARENTS),
        "root_joint": sk.JOINT_NAMES[sk.ROOT],
        "arch": checkpoint["arch"],
        "config": checkpoint["config"],
        "input_mode": checkpoint["input_mode"],
        "source_weights": os.path.basename(weights),
        "torch_version": torch.__version__,
        "training": training,
    }


def example_joints(lifter: Lifter, batch_size: int, seed: int = 0) -> torch.Tensor:
    """Plausible raw (B, 28, 3) pixel joints + visibility, drawn from the lifter's normalisation statistics."""
    g = torch.Generator().manual_seed(seed)
    mean, std = lifter.mean.cpu(), lifter.std.cpu()
    unit = mean + std * torch.randn((batch_size,) + tuple(mean.shape), generator=g)
    size_px = 100 + 300 * torch.rand(batch_size, 1, 1, generator=g)
    centre_px = torch.tensor([640.0, 360.0]) + 150 * torch.randn(batch_size, 1, 2, generator=g)
    visible = (torch.rand(batch_size, sk.NUM_JOINTS, 1, generator=g) > 0.1).float()
    return torch.cat([centre_px + size_px * unit, visible], dim=-1)


def example_windows(window: WindowLifter, batch_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Plausible windows of raw frames (B, W, 28, 3) of people moving a little, and found (B, W) with gaps."""
    g = torch.Generator().manual_seed(seed)
    width = 2 * window.lifter.radius + 1
    poses = example_joints(window.lifter, batch_size, seed)
    wobble = 5 * torch.randn(batch_size, width, sk.NUM_JOINTS, 2, generator=g).cumsum(1)
    joints = torch.cat([poses[:, None, :, :2] + wobble, poses[:, None, :, 2:].expand(-1, width, -1, -1)], dim=-1)
    found = torch.rand(batch_size, width, generator=g) > 0.2
    found[:, window.lifter.radius] = True
    return joints, found


def example_inputs(module: Deployable, batch_size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    if isinstance(module, WindowLifter):
        return example_windows(module, batch_size, seed)
    return (example_joints(module, batch_size, seed),)


def input_names(module: Deployable) -> list[str]:
    return [INPUT_NAME, FOUND_NAME] if isinstance(module, WindowLifter) else [INPUT_NAME]


# ---------------------------------------------------------------------------
# Writing the two formats
# ---------------------------------------------------------------------------
def trace_lifter(lifter: Deployable) -> torch.jit.ScriptModule:
    """TorchScript of a CPU lifter in eval mode, by tracing.

    Tracing rather than scripting: the model has no data-dependent control flow, and tracing
    records PyG's message passing as plain index_select / scatter_add ops whose sizes are read
    from the input (aten::size), so the batch axis stays dynamic; the parity check at several
    batch sizes other than TRACE_BATCH verifies that. (Scripting fails on model.py as written.)
    The trace records the device of tensors created inside forward (PyG's GCN normalisation makes
    its self-loop indices on the input's device), so the hybrid's TorchScript runs on the CPU only;
    the ONNX file has no such constants.
    The traced copy's parameters do not require gradients: calling it builds no autograd graph,
    with or without torch.no_grad(). It reproduces the eager model exactly (no fused kernels), and
    it is infer.py's per-frame lifter: about twice as fast as eager for one pose (benchmark.py).
    """
    frozen = copy.deepcopy(lifter).eval().requires_grad_(False)
    with torch.no_grad(), warnings.catch_warnings():
        # The one TracerWarning (unpacking q, k, v along the fixed size-3 axis) is harmless.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        device = next(lifter.buffers()).device
        example = tuple(x.to(device) for x in example_inputs(lifter, TRACE_BATCH))
        return torch.jit.trace(frozen, example, check_trace=False)


class _FrameEncoder(nn.Module):
    def __init__(self, lifter: SequenceLifter):
        super().__init__()
        self.lifter = lifter

    def forward(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lifter.encode(joints)


class _WindowAttention(nn.Module):
    def __init__(self, lifter: SequenceLifter, causal: bool):
        super().__init__()
        self.lifter, self.causal = lifter, causal

    def forward(self, tokens: torch.Tensor, poses: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
        return self.lifter.attend_window(tokens, poses, found, self.causal)


class TracedSequenceLifter(nn.Module):
    """A SequenceLifter's two streaming steps, encode() and attend_window(), traced as trace_lifter() traces the
    per-frame lifter: the same numbers, in about half the time per frame (infer.py's videos and camera)."""

    def __init__(self, lifter: SequenceLifter):
        super().__init__()
        self.radius = lifter.radius
        frozen = copy.deepcopy(lifter).eval().requires_grad_(False)
        device = frozen.mean.device
        window = WindowLifter(frozen, causal=False)
        joints, found = (x.to(device) for x in example_windows(window, TRACE_BATCH))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            self.encoder = torch.jit.trace(_FrameEncoder(frozen), (joints[:, 0],), check_trace=False)
            tokens, poses = frozen.encode(joints)
            self.attention = nn.ModuleList(
                torch.jit.trace(_WindowAttention(frozen, causal), (tokens, poses, found), check_trace=False)
                for causal in (False, True))

    def encode(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(joints)

    def attend_window(self, tokens: torch.Tensor, poses: torch.Tensor, found: torch.Tensor, causal: bool) -> torch.Tensor:
        return self.attention[int(causal)](tokens, poses, found)


def write_torchscript(lifter: Deployable, metadata: dict, path: str) -> None:
    torch.jit.save(trace_lifter(lifter), path, _extra_files={METADATA_FILE: json.dumps(metadata)})


@contextlib.contextmanager
def quiet_onnx_exporter():
    """Hide the exporter's log notes (e.g. that torchvision ops are unavailable) and its internal FutureWarnings."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def write_onnx(lifter: Deployable, metadata: dict, path: str) -> None:
    """ONNX of a CPU lifter in eval mode: dynamic batch axis, metadata in metadata_props, one self-contained file.

    The torch.export-based exporter (dynamo=True, torch 2.13's default), not the deprecated
    TorchScript-based one: torch.export treats the batch as a symbolic dimension and fails at
    export time if anything specialises on it, where the tracing exporter would silently record
    the example's batch size. Both give correct models here; this one also proves the dynamic axis.
    """
    import onnx  # imported here so that TorchScript export works without the onnx package

    with quiet_onnx_exporter():
        batch = torch.export.Dim("batch")
        names = input_names(lifter)
        program = torch.onnx.export(
            lifter, example_inputs(lifter, TRACE_BATCH), None, dynamo=True, verbose=False,
            input_names=names, output_names=[OUTPUT_NAME],
            dynamic_shapes=tuple({0: batch} for _ in names),
        )
    proto = program.model_proto
    onnx.helper.set_model_props(
        proto, {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    onnx.save_model(proto, path)  # the weights are small: inline, no external-data side file


# ---------------------------------------------------------------------------
# Loading a deployed file the way a deployment does
# ---------------------------------------------------------------------------
def load_torchscript_runner(path: str) -> Runner:
    """The input arrays ((B, 28, 3) float32, or a window and found) -> (B, 28, 3) mm, through torch.jit.load."""
    module = torch.jit.load(path, map_location="cpu")

    def run(*arrays: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(*map(torch.from_numpy, arrays)).numpy()
    return run


def load_onnx_runner(path: str) -> Runner:
    """The input arrays -> (B, 28, 3) mm, through an onnxruntime CPU session (inputs in the file's order)."""
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda *arrays: session.run([OUTPUT_NAME], dict(zip(names, arrays)))[0]


FORMATS: dict[str, tuple[Callable[[Deployable, dict, str], None], Callable[[str], Runner]]] = {
    "TorchScript": (write_torchscript, load_torchscript_runner),
    "ONNX": (write_onnx, load_onnx_runner),
}


# ---------------------------------------------------------------------------
# Parity and the atomic export
# ---------------------------------------------------------------------------
def parity_errors(lifter: Deployable, run: Runner, batch_sizes=PARITY_BATCH_SIZES) -> dict[int, float]:
    """Max |run(x) - lifter(x)| in mm for each batch size; ExportError if the deployed model fails."""
    errors = {}
    for batch_size in batch_sizes:
        inputs = example_inputs(lifter, batch_size, seed=batch_size)
        with torch.no_grad():
            expected = lifter(*inputs).numpy()
        try:
            got = np.asarray(run(*(x.numpy() for x in inputs)))
        except Exception as err:  # runtimes raise their own types for a shape baked into the graph
            raise ExportError(f"the exported model fails at batch size {batch_size}: {err}") from err
        if got.shape != expected.shape:
            raise ExportError(f"the exported model returns shape {got.shape} for batch size {batch_size}, "
                              f"expected {expected.shape}")
        errors[batch_size] = float(np.abs(got - expected).max())
    return errors


def check_destination(path: str) -> None:
    """Before the export: a destination that cannot be written is refused, naming it."""
    problem = output_problem(path)
    if problem:
        raise ExportError(f"{path}: {problem}; choose another output path.")


def write_checked(lifter: Deployable, metadata: dict, fmt: str, tmp: Path, path: str) -> ExportResult:
    """Write `fmt` to the temporary file tmp (for path) and check its parity with the eager model."""
    write, load_runner = FORMATS[fmt]
    try:
        write(lifter, metadata, str(tmp))
    except Exception as err:  # tracer and exporter failures come in many types
        raise ExportError(f"{path}: {fmt} export failed: {type(err).__name__}: {err}") from err
    errors = parity_errors(lifter, load_runner(str(tmp)))
    worst = max(errors.values())
    if not worst <= PARITY_TOLERANCE_MM:  # also catches NaN
        raise ExportError(
            f"{fmt} parity check failed: max |exported - eager| = {worst:.4g} mm "
            f"({format_errors(errors)}), above the {PARITY_TOLERANCE_MM} mm tolerance; nothing was written."
        )
    return ExportResult(fmt, path, os.path.getsize(tmp), errors)


def deployable(weights: str, causal: bool = False) -> tuple[Deployable, dict]:
    """What a checkpoint exports: a per-frame Lifter, or a temporal model's WindowLifter (offline or causal)."""
    lifter, checkpoint = load_lifter(weights, "cpu")
    if not is_temporal(checkpoint):
        if causal:
            raise ExportError(f"{weights}: --causal exports a temporal model's causal window; this is a per-frame "
                              f"model ({checkpoint['arch']}), which has none.")
        return lifter, checkpoint
    temporal, _ = load_sequence_lifter(weights, "cpu")
    return WindowLifter(temporal, causal).eval(), checkpoint


def export(weights: str, outputs: dict[str, str], causal: bool = False) -> list[ExportResult]:
    """Export the checkpoint `weights` to {format: path} ("TorchScript", "ONNX"), all or nothing."""
    paths = [os.path.abspath(p) for p in outputs.values()]
    if len(set(paths)) != len(paths):
        raise ExportError(f"two formats were given the same output path ({', '.join(outputs.values())}).")
    for fmt, path in outputs.items():
        if fmt not in FORMATS:
            raise ExportError(f"unknown export format {fmt!r}; choose from {sorted(FORMATS)}.")
        check_destination(path)
    lifter, checkpoint = deployable(weights, causal)
    metadata = deployment_metadata(checkpoint, weights, lifter)
    with atomic_outputs() as stage:
        return [write_checked(lifter, metadata, fmt, stage(path), path) for fmt, path in outputs.items()]


def format_errors(errors: dict[int, float]) -> str:
    return ", ".join(f"batch {b}: {e:.2g}" for b, e in errors.items())


def describe(result: ExportResult) -> str:
    return (f"{result.fmt}: wrote {result.path} ({result.size_bytes / 1e6:.2f} MB); max |exported - eager| = "
            f"{max(result.max_abs_diff_mm.values()):.2g} mm ({format_errors(result.max_abs_diff_mm)}; "
            f"tolerance {PARITY_TOLERANCE_MM} mm)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help=WEIGHTS_HELP)
    parser.add_argument("--out", default=DEFAULT_OUT, help="TorchScript output (default: %(default)s)")
    parser.add_argument("--onnx", metavar="FILE", help="also write an ONNX model with a dynamic batch axis here")
    parser.add_argument("--causal", action="store_true",
                        help="a temporal model: export its causal window (past frames only, for a live camera)")
    args = parser.parse_args(argv)
    args.weights = args.weights or default_weights()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    outputs = {"TorchScript": args.out, **({"ONNX": args.onnx} if args.onnx else {})}
    try:
        results = export(args.weights, outputs, args.causal)
    except (CheckpointError, ExportError) as err:
        raise SystemExit(f"error: {err}") from None
    for result in results:
        print(describe(result))


if __name__ == "__main__":
    main()
