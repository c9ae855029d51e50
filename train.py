"""Train the 2D -> 3D lifter on MPI-INF-3DHP poses or on synthetic poses.

    python train.py --data mpi_inf_combined.npz --bs 128 --epochs 150 --lr 0.002 --patience 10
    python train.py --synthetic 200000 --out runs/synthetic        # no dataset needed
    python train.py --resume --out runs/synthetic                  # continue an interrupted run
    torchrun --standalone --nproc_per_node=4 train.py --data mpi_inf_combined.npz   # 4 GPUs, one machine

The whole data set sits in tensors on the device; every batch is an index slice of a per-epoch
permutation, augmented on the device (left/right flip, detector noise, dropped joints) and then
turned into the model input exactly as infer.py builds it from MediaPipe's output.

Writes to --out (default: the working directory):
    best_model_weights.pth   the best model so far on the held-out poses (a self-describing checkpoint)
    last_checkpoint.pth      the latest epoch with optimiser and scheduler state, for --resume
    pose2d_mean_std.npy      the input normalisation statistics (also inside both checkpoints)
    train_log.csv            one row per epoch; training_curves.png: the loss and validation curves
Under torchrun each process trains on its shard of every epoch with DistributedDataParallel
(--bs is per process); only rank 0 writes files.
"""
from __future__ import annotations

import argparse
import csv
import inspect
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

import augmentation
import checkpoints as ckpt
import data_loader as dl
import metrics
import model as mdl
import model_input as mi
import training_step
from atomic import atomic_path, folder_problem

BEST_WEIGHTS = ckpt.TRAINED_WEIGHTS
LAST_CHECKPOINT = "last_checkpoint.pth"
LOG_FILE = "train_log.csv"
CURVES_FILE = "training_curves.png"
LOG_COLUMNS = ("epoch", "train_loss", "val_mpjpe", "val_pa_mpjpe", "lr", "seconds", "samples_per_s")

LR_DECAY_FACTOR = 0.5
LR_DECAY_PATIENCE = 5
# Relative improvement that counts as "better", for the LR schedule and early stopping alike.
IMPROVEMENT_THRESHOLD = 1e-4
EVAL_BATCH_SIZE = 1024

# Which model.py constructor argument each shape flag sets, per architecture.
SHAPE_FLAGS = {
    "gcn_transformer": {"dim": "dim", "depth": "depth", "heads": "heads", "dropout": "dropout"},
    "mlp": {"dim": "width", "depth": "blocks", "dropout": "dropout"},
}
# Flags that belong to one invocation (and machine), not to the run that --resume continues.
PER_INVOCATION_FLAGS = ("resume", "force", "out", "device")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def _constructor_default(arch: str, flag: str):
    parameter = SHAPE_FLAGS[arch].get(flag)
    return inspect.signature(mdl.ARCHITECTURES[arch]).parameters[parameter].default if parameter else "-"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = p.add_argument_group("data")
    dl.add_source_arguments(data, training=True)
    data.add_argument("--val-fraction", type=float, default=dl.DEFAULT_VAL_FRACTION,
                      help="share of the poses held out for validation (default: %(default)s)")
    data.add_argument("--input", choices=mi.INPUT_MODES, default=mi.DEFAULT_INPUT_MODE,
                      help="mediapipe: the joints a detector sees, the rest synthesised as at inference; coco17: "
                           "the same with hands and toes always unseen (COCO-17, OpenPose keypoints); "
                           "full: all 28 ground-truth 2D joints (default: %(default)s)")

    net = p.add_argument_group("model (shape defaults: model.py's constructors, hybrid / mlp)")
    net.add_argument("--arch", choices=sorted(mdl.ARCHITECTURES), default="gcn_transformer")
    net.add_argument("--init", metavar="WEIGHTS",
                     help="fine-tune: start from this checkpoint's weights and input normalisation (its "
                          "architecture and shape replace --arch and the shape flags; --resume ignores it)")
    for flag, kind, meaning in (("dim", int, "width"), ("depth", int, "number of blocks"),
                                ("heads", int, "attention heads"), ("dropout", float, "dropout rate")):
        defaults = " / ".join(str(_constructor_default(arch, flag)) for arch in ("gcn_transformer", "mlp"))
        net.add_argument(f"--{flag}", type=kind, help=f"{meaning} (default: {defaults})")

    opt = p.add_argument_group("optimisation")
    opt.add_argument("--bs", type=int, default=training_step.DEFAULT_BATCH_SIZE, help="batch size per process (default: %(default)s)")
    opt.add_argument("--epochs", type=int, default=150, help="most epochs to train (default: %(default)s)")
    opt.add_argument("--lr", type=float, default=training_step.DEFAULT_LR, help="AdamW learning rate (default: %(default)s)")
    opt.add_argument("--patience", type=int, default=10,
                     help="stop after this many epochs without a better validation MPJPE (default: %(default)s)")
    opt.add_argument("--seed", type=int, default=0, help="seed of the initialisation, batches and augmentation")
    opt.add_argument("--amp", action="store_true", help="CUDA mixed precision (bf16, or fp16 with loss scaling)")
    opt.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                     help="cuda or cpu (default: cuda when available, else cpu)")

    aug = p.add_argument_group("augmentation")
    aug.add_argument("--noise", type=float, default=augmentation.Augmentation.noise,
                     help="largest 2D noise sigma, as a fraction of the pose's 2D size; 0 turns it off (default: %(default)s)")
    aug.add_argument("--drop", type=float, default=augmentation.Augmentation.drop,
                     help="largest share of observed joints marked unseen per pose; 0 turns it off (default: %(default)s)")
    aug.add_argument("--crop", type=float, default=augmentation.Augmentation.crop,
                     help="share of poses whose joints below a random image row are unseen, as in a half-body "
                          "photo; 0 turns it off (default: %(default)s)")
    aug.add_argument("--no-flip", dest="flip", action="store_false", help="no random left/right mirroring")

    run = p.add_argument_group("output")
    run.add_argument("--out", default=".", help="output folder (default: the working directory)")
    run.add_argument("--resume", action="store_true", help=f"continue the run in --out from its {LAST_CHECKPOINT}")
    run.add_argument("--force", action="store_true", help="overwrite a previous run's files in --out")
    return p


def parse_args(argv: list[str], defaults: dict | None = None) -> argparse.Namespace:
    """Parse argv; `defaults` (a resumed run's arguments) replace the built-in defaults."""
    parser = build_parser()
    if defaults:
        known = {action.dest for action in parser._actions}
        parser.set_defaults(**{k: v for k, v in defaults.items() if k in known and k not in PER_INVOCATION_FLAGS})
    args = parser.parse_args(argv)
    if args.heads is not None and args.arch != "gcn_transformer":
        parser.error("--heads applies to --arch gcn_transformer only")
    if not 0.0 < args.val_fraction < 1.0:
        parser.error("--val-fraction must lie strictly between 0 and 1")
    dl.check_source_arguments(parser, args)
    for flag in ("bs", "epochs", "patience"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    if not args.lr >= 0:  # 0 is allowed: a frozen model (the early-stopping test uses it)
        parser.error(f"--lr must be a learning rate of 0 or more, not {args.lr}")
    for flag in ("noise", "drop", "crop"):
        if not 0 <= getattr(args, flag) <= 1:
            parser.error(f"--{flag} must lie between 0 and 1, not {getattr(args, flag)}")
    if args.dropout is not None and not 0 <= args.dropout < 1:
        parser.error(f"--dropout must lie in [0, 1), not {args.dropout}")
    return args


# ---------------------------------------------------------------------------
# Processes and devices
# ---------------------------------------------------------------------------
@dataclass
class Runtime:
    """This process's device and its place among the torchrun processes (rank 0 of 1 when alone)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def print(self, *args, **kwargs) -> None:
        if self.is_main:
            print(*args, **kwargs, flush=True)


def setup_runtime(device_name: str) -> Runtime:
    """Join the torchrun process group when launched by torchrun (nccl on CUDA, gloo on the CPU)."""
    device = ckpt.resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Runtime(device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, dist.get_rank(), world_size)


def mixed_precision(args: argparse.Namespace, runtime: Runtime) -> torch.dtype | None:
    """The autocast dtype for --amp: bf16 where the GPU has it, else fp16; None for float32."""
    if not args.amp:
        return None
    if runtime.device.type != "cuda":
        runtime.print("--amp: mixed precision is for CUDA GPUs; training in float32 on the CPU.")
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def sum_over_processes(values: list[float | torch.Tensor], runtime: Runtime) -> list[float]:
    """Totals over all processes, bitwise identical on every rank (rank 0's result is broadcast)."""
    totals = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=runtime.device) for v in values])
    if runtime.distributed:
        dist.all_reduce(totals)
        # Every rank must take the same LR and stopping decisions, so all use rank 0's numbers.
        dist.broadcast(totals, src=0)
    return totals.tolist()


# ---------------------------------------------------------------------------
# Output folder and resuming
# ---------------------------------------------------------------------------
def check_output_folder(args: argparse.Namespace) -> None:
    """Before any work: refuse an --out that cannot be written, and another run's files, e.g. the bundled
    best_model_weights.pth in the repo root."""
    out = os.path.abspath(args.out)
    existing = out
    while not os.path.exists(existing):  # the folders train.py will create hang from this one
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SystemExit(f"error: --out {args.out}: {existing} is a file, not a folder; choose another --out.")
    problem = folder_problem(existing)
    if problem:
        raise SystemExit(f"error: --out {args.out}: {problem}; choose another --out.")
    if args.resume or args.force:
        return
    found = [name for name in (BEST_WEIGHTS, LAST_CHECKPOINT) if os.path.exists(os.path.join(args.out, name))]
    if found:
        raise SystemExit(
            f"error: {os.path.abspath(args.out)} already holds {' and '.join(found)} from an earlier run. "
            f"Choose a new folder with --out, continue that run with --resume, or replace it with --force."
        )


def read_resume_checkpoint(out: str) -> dict:
    path = os.path.join(out, LAST_CHECKPOINT)
    if not os.path.isfile(path):
        raise SystemExit(f"error: --resume: {path} does not exist, so there is no run to continue; "
                         f"start one without --resume.")
    try:
        checkpoint = ckpt.read_checkpoint(path)
    except ckpt.CheckpointError as err:
        raise SystemExit(f"error: --resume: {err}") from err
    if "optimizer" not in checkpoint or "train_args" not in checkpoint:
        raise SystemExit(f"error: --resume: {path} holds weights only, no training state; "
                         f"start a new run without --resume.")
    return checkpoint


def check_resumable(args: argparse.Namespace, config: dict, checkpoint: dict) -> None:
    saved = (checkpoint["arch"], checkpoint["config"], checkpoint["input_mode"])
    if (args.arch, config, args.input) != saved:
        raise SystemExit(
            f"error: --resume continues the run in {args.out}, a {saved[0]} model {saved[1]} with --input "
            f"{saved[2]}; the model flags given ask for {args.arch} {config} with --input {args.input}. Drop "
            f"those flags to resume, or start a new run in another --out folder."
        )


# ---------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------
def load_splits(args: argparse.Namespace, runtime: Runtime) -> tuple[dl.MPIINF3DHPDataset, dl.MPIINF3DHPDataset]:
    """The training and held-out splits, as tensors on the device."""
    arrays, name = dl.load_pose_sources(args, runtime.print)  # read once for both splits
    train = dl.MPIINF3DHPDataset(arrays, "train", args.val_fraction, device=runtime.device, name=name)
    if train.joint_set != "mpiinf28":
        raise dl.DatasetError(
            f"{train.name}: holds the 17 test-set joints, but training needs all 28 joints for its 3D targets. "
            f"Train on the training set (prepare_data.py) and evaluate this file with eval.py."
        )
    val = dl.MPIINF3DHPDataset(arrays, "val", args.val_fraction, device=runtime.device, name=name)
    return train, val


def model_config(args: argparse.Namespace) -> dict:
    """The full constructor arguments of --arch: model.py's defaults, overridden by the shape flags."""
    signature = inspect.signature(mdl.ARCHITECTURES[args.arch])
    config = {name: parameter.default for name, parameter in signature.parameters.items()}
    for flag, parameter in SHAPE_FLAGS[args.arch].items():
        if getattr(args, flag) is not None:
            config[parameter] = getattr(args, flag)
    return config


def norm_stats_of(train_set: dl.MPIINF3DHPDataset, input_mode: str) -> np.ndarray:
    """Normalisation statistics of the un-augmented training inputs."""
    return mi.compute_norm_stats(dl.model_input_from_ground_truth(train_set.pose2d, input_mode))


# ---------------------------------------------------------------------------
# Loss, schedule and early stopping
# ---------------------------------------------------------------------------
def make_scheduler(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Halve the learning rate after LR_DECAY_PATIENCE epochs without a better validation MPJPE."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=LR_DECAY_FACTOR, patience=LR_DECAY_PATIENCE, threshold=IMPROVEMENT_THRESHOLD)


class EarlyStopping:
    """Tracks the best validation score and how many epochs have passed without beating it."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record an epoch's score; True when it is a new best."""
        if value < self.best * (1 - IMPROVEMENT_THRESHOLD):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]


# ---------------------------------------------------------------------------
# One epoch of training, one pass of validation
# ---------------------------------------------------------------------------
@dataclass
class Session:
    """One training run: its settings, model (DDP-wrapped under torchrun), optimisation state and history."""

    args: argparse.Namespace
    runtime: Runtime
    command: str
    config: dict
    norm_stats: np.ndarray
    net: torch.nn.Module
    lifter: mdl.Lifter
    trainee: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    stopper: EarlyStopping
    history: list[dict]
    first_epoch: int = 1
    initial_val_mpjpe: float | None = None


def shard_of_epoch(num_poses: int, seed: int, epoch: int, runtime: Runtime) -> torch.Tensor:
    """This process's share of a permutation that is the same on every process for a given epoch."""
    order = np.random.default_rng([seed, epoch]).permutation(num_poses)
    per_process = num_poses // runtime.world_size
    shard = order[runtime.rank * per_process: (runtime.rank + 1) * per_process]
    return torch.from_numpy(shard).to(runtime.device)


def train_one_epoch(s: Session, train_set: dl.MPIINF3DHPDataset, epoch: int) -> tuple[float, int]:
    """(mean training loss, poses seen by all processes)."""
    args = s.args
    aug = augmentation.Augmentation(flip=args.flip, noise=args.noise, drop=args.drop, crop=args.crop)
    shard = shard_of_epoch(len(train_set), args.seed, epoch, s.runtime)
    # Whole batches only (every process must run the same number of steps), at least one.
    num_batches = max(1, len(shard) // args.bs)
    loss_sum = torch.zeros((), device=s.runtime.device, dtype=torch.float64)
    s.trainee.train()
    show = s.runtime.is_main and sys.stderr.isatty()
    for b in tqdm(range(num_batches), desc=f"epoch {epoch}", unit="batch", leave=False, disable=not show):
        index = shard[b * args.bs: (b + 1) * args.bs]
        inputs, target = augmentation.augmented_batch(train_set.pose2d[index], train_set.pose3d[index], args.input, aug)
        with torch.autocast(s.runtime.device.type, dtype=s.amp_dtype, enabled=s.amp_dtype is not None):
            pred = s.trainee(inputs)
        loss = training_step.pose_loss(pred.float(), target)
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(loss).backward()
        s.scaler.step(s.optimizer)
        s.scaler.update()
        loss_sum += loss.detach() * len(index)
    seen = min(num_batches * args.bs, len(shard))
    total_loss, total_seen = sum_over_processes([loss_sum, seen], s.runtime)
    return total_loss / total_seen, int(total_seen)


@torch.no_grad()
def validate(lifter: mdl.Lifter, val: dl.MPIINF3DHPDataset, input_mode: str, runtime: Runtime) -> dict[str, float]:
    """Validation MPJPE and PA-MPJPE (mm); each process takes a slice, the sums are combined."""
    lifter.eval()
    index = torch.arange(len(val), device=runtime.device).tensor_split(runtime.world_size)[runtime.rank]
    sums = torch.zeros(2, device=runtime.device, dtype=torch.float64)
    for chunk in index.split(EVAL_BATCH_SIZE):
        pred = lifter(dl.model_input_from_ground_truth(val.pose2d[chunk], input_mode)).float()
        target = val.pose3d[chunk]
        sums += torch.stack([metrics.mpjpe(pred, target), metrics.pa_mpjpe(pred, target)]).double() * len(chunk)
    mpjpe_sum, pa_sum, count = sum_over_processes([sums[0], sums[1], len(index)], runtime)
    return {"mpjpe": mpjpe_sum / count, "pa_mpjpe": pa_sum / count}


# ---------------------------------------------------------------------------
# What an epoch leaves behind
# ---------------------------------------------------------------------------
def save_weights(path: str, s: Session, extra: dict) -> None:
    ckpt.save_checkpoint(path, s.net, s.args.arch, s.config, s.args.input, s.norm_stats, extra)


def write_log(path: str, history: list[dict]) -> None:
    """train_log.csv, rewritten from the run's history so it always matches the last checkpoint."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" for k, v in row.items()} for row in history)


def plot_curves(path: str, history: list[dict]) -> None:
    """training_curves.png: loss and validation errors, and the learning rate, per epoch."""
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(11, 4), layout="constrained")
    errors, rate = fig.subplots(1, 2)
    errors.plot(epochs, [row["train_loss"] for row in history], label="training loss")
    errors.plot(epochs, [row["val_mpjpe"] for row in history], label="validation MPJPE")
    errors.plot(epochs, [row["val_pa_mpjpe"] for row in history], label="validation PA-MPJPE")
    errors.set(xlabel="epoch", ylabel="mm", title="loss and validation error")
    errors.legend()
    rate.plot(epochs, [row["lr"] for row in history])
    rate.set(xlabel="epoch", ylabel="learning rate", title="learning rate")
    if all(row["lr"] > 0 for row in history):
        rate.set_yscale("log")
    for ax in (errors, rate):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def epoch_line(row: dict, epochs: int, improved: bool) -> str:
    return (f"epoch {row['epoch']:>3}/{epochs}  loss {row['train_loss']:8.2f}  val MPJPE {row['val_mpjpe']:7.2f} mm  "
            f"PA-MPJPE {row['val_pa_mpjpe']:7.2f} mm  lr {row['lr']:.2e}  {row['seconds']:6.1f} s  "
            f"{row['samples_per_s']:>9,.0f} samples/s" + ("  *best" if improved else ""))


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------
def arguments_and_resumed_run(argv: list[str]) -> tuple[argparse.Namespace, dict | None]:
    """The arguments; with --resume, the run's last checkpoint too, whose arguments become the defaults."""
    args = parse_args(argv)
    if not args.resume:
        return args, None
    resumed = read_resume_checkpoint(args.out)
    return parse_args(argv, defaults=resumed["train_args"]), resumed


def start_session(args: argparse.Namespace, runtime: Runtime, train_set: dl.MPIINF3DHPDataset,
                  resumed: dict | None, command: str) -> Session:
    """Model, optimiser, schedule and early stopping: new, or as the resumed run left them."""
    initial = ckpt.read_checkpoint(args.init) if args.init and not resumed else None
    if initial:
        args.arch = initial["arch"]
    config = dict(initial["config"]) if initial else model_config(args)
    if resumed:
        check_resumable(args, config, resumed)
    net = mdl.build_model(args.arch, **config)
    if initial:
        net.load_state_dict(initial["state_dict"])
        norm_stats = initial["norm_stats"].numpy()
    else:
        norm_stats = resumed["norm_stats"].numpy() if resumed else norm_stats_of(train_set, args.input)
    lifter = mdl.Lifter(net, norm_stats).to(runtime.device)
    trainee = lifter
    if runtime.distributed:
        trainee = DistributedDataParallel(lifter, device_ids=[runtime.device] if runtime.device.type == "cuda" else None)
    amp_dtype = mixed_precision(args, runtime)
    optimizer = training_step.make_optimizer(lifter.parameters(), args.lr)
    session = Session(args, runtime, command, config, norm_stats, net, lifter, trainee, optimizer,
                      make_scheduler(optimizer), torch.amp.GradScaler(runtime.device.type, enabled=amp_dtype == torch.float16),
                      amp_dtype, EarlyStopping(args.patience), history=[])
    if resumed:
        restore(session, resumed)
    return session


def restore(s: Session, checkpoint: dict) -> None:
    s.net.load_state_dict(checkpoint["state_dict"])
    s.optimizer.load_state_dict(checkpoint["optimizer"])
    s.scheduler.load_state_dict(checkpoint["scheduler"])
    s.scaler.load_state_dict(checkpoint["grad_scaler"])
    s.stopper.load_state_dict(checkpoint["early_stopping"])
    s.history = list(checkpoint["history"])
    s.first_epoch = checkpoint["epoch"] + 1
    s.initial_val_mpjpe = checkpoint["initial_val_mpjpe"]


def announce(s: Session, train_set: dl.MPIINF3DHPDataset, val_set: dl.MPIINF3DHPDataset) -> None:
    r, args = s.runtime, s.args
    r.print(f"training:   {train_set.describe()}\nvalidation: {val_set.describe()}")
    r.print(f"model: {args.arch} {s.config}, {mdl.count_parameters(s.net):,} parameters, input {args.input}")
    if args.init and s.first_epoch == 1:
        r.print(f"fine-tuning from {args.init} (its weights and input normalisation)")
    processes = f" x {r.world_size} processes" if r.distributed else ""
    batch = f", batch {args.bs}" + (f" per process ({args.bs * r.world_size} in all)" if r.distributed else "")
    r.print(f"device: {r.device}{processes}{batch}" + (f", mixed precision {s.amp_dtype}" if s.amp_dtype else ""))
    if s.first_epoch > 1:
        r.print(f"resuming after epoch {s.first_epoch - 1} "
                f"(best val MPJPE {s.stopper.best:.2f} mm at epoch {s.stopper.best_epoch})")


def run_epoch(s: Session, train_set: dl.MPIINF3DHPDataset, val_set: dl.MPIINF3DHPDataset, epoch: int) -> tuple[dict, bool]:
    """Train, validate, step the schedule; (log row, whether validation improved)."""
    started = time.perf_counter()
    train_loss, seen = train_one_epoch(s, train_set, epoch)
    train_seconds = time.perf_counter() - started
    val = validate(s.lifter, val_set, s.args.input, s.runtime)
    lr = s.optimizer.param_groups[0]["lr"]
    s.scheduler.step(val["mpjpe"])
    improved = s.stopper.update(val["mpjpe"], epoch)
    row = {"epoch": epoch, "train_loss": train_loss, "val_mpjpe": val["mpjpe"], "val_pa_mpjpe": val["pa_mpjpe"],
           "lr": lr, "seconds": time.perf_counter() - started, "samples_per_s": seen / train_seconds}
    s.history.append(row)
    return row, improved


def save_epoch(s: Session, row: dict, improved: bool) -> None:
    """Best weights (when improved), last checkpoint, log and curves: all atomic, rank 0 only."""
    if not s.runtime.is_main:
        return
    out = s.args.out
    scores = {"epoch": row["epoch"], "val_mpjpe": row["val_mpjpe"], "val_pa_mpjpe": row["val_pa_mpjpe"],
              "best_val_mpjpe": s.stopper.best, "best_epoch": s.stopper.best_epoch,
              "initial_val_mpjpe": s.initial_val_mpjpe, "train_args": vars(s.args), "command": s.command,
              "world_size": s.runtime.world_size}
    if improved:
        save_weights(os.path.join(out, BEST_WEIGHTS), s, scores)
    save_weights(os.path.join(out, LAST_CHECKPOINT), s, {
        **scores, "optimizer": s.optimizer.state_dict(), "scheduler": s.scheduler.state_dict(),
        "grad_scaler": s.scaler.state_dict(), "early_stopping": s.stopper.state_dict(), "history": s.history})
    write_log(os.path.join(out, LOG_FILE), s.history)
    plot_curves(os.path.join(out, CURVES_FILE), s.history)


def fit(s: Session, train_set: dl.MPIINF3DHPDataset, val_set: dl.MPIINF3DHPDataset) -> int:
    """Epochs until --epochs or early stopping; Ctrl-C stops cleanly. Returns the exit status."""
    r = s.runtime
    if s.first_epoch > s.args.epochs:
        r.print(f"nothing to do: the run has already trained {s.first_epoch - 1} epochs; raise --epochs to go on.")
    epoch = s.first_epoch
    try:
        for epoch in range(s.first_epoch, s.args.epochs + 1):
            if s.stopper.should_stop:
                r.print(f"early stop: no better validation MPJPE in the last {s.stopper.bad_epochs} epochs")
                break
            row, improved = run_epoch(s, train_set, val_set, epoch)
            save_epoch(s, row, improved)
            r.print(epoch_line(row, s.args.epochs, improved))
    except KeyboardInterrupt:
        if os.path.exists(os.path.join(s.args.out, LAST_CHECKPOINT)):
            r.print(f"\ninterrupted during epoch {epoch}; {LAST_CHECKPOINT} holds the last finished epoch "
                    f"(continue with --resume --out {s.args.out}).")
        else:
            r.print(f"\ninterrupted during epoch {epoch}, before any epoch finished: there is no "
                    f"{LAST_CHECKPOINT} to continue from.")
        report_best(s)
        return 130
    report_best(s)
    return 0


def report_best(s: Session) -> None:
    if s.stopper.best_epoch:
        path = os.path.abspath(os.path.join(s.args.out, BEST_WEIGHTS))
        s.runtime.print(f"best val MPJPE {s.stopper.best:.2f} mm at epoch {s.stopper.best_epoch}: {path}")
    else:
        s.runtime.print("no epoch finished, so no weights were written.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args, resumed = arguments_and_resumed_run(argv)
    check_output_folder(args)
    runtime = setup_runtime(args.device)
    status = 1  # what a distributed process leaves with if the run does not finish
    try:
        torch.manual_seed(args.seed + runtime.rank)
        train_set, val_set = load_splits(args, runtime)
        session = start_session(args, runtime, train_set, resumed, shlex.join(["train.py", *argv]))
        announce(session, train_set, val_set)
        if runtime.is_main:
            os.makedirs(args.out, exist_ok=True)
            mi.save_norm_stats(session.norm_stats, os.path.join(args.out, mi.NORM_STATS_FILE))
        if session.initial_val_mpjpe is None:
            session.initial_val_mpjpe = validate(session.lifter, val_set, args.input, runtime)["mpjpe"]
            runtime.print(f"untrained model: val MPJPE {session.initial_val_mpjpe:.2f} mm")
        status = fit(session, train_set, val_set)
        return status
    except (dl.DatasetError, ckpt.CheckpointError) as err:
        if runtime.distributed:
            print(f"error: {err}", file=sys.stderr)
        raise SystemExit(f"error: {err}") from err
    finally:
        if runtime.distributed:
            leave_process_group(status)


def leave_process_group(status: int) -> None:
    """End a torchrun process: wait for every rank (rank 0 may still be writing the last epoch's files),
    then exit without Python's teardown. Freeing the DDP reducer at exit can deadlock in gloo's process
    group destructor (torch 2.13: the main thread holds the GIL and waits for the group's lock, a gloo
    thread holds that lock and waits for the GIL; seen in CI), and every file is written by now."""
    dist.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
