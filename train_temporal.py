"""Train the temporal lifter (model.TemporalLifter) on motion sequences, offline and causal with the same weights.

    python mocap.py ../shared/mocap/cmu ../shared/mocap/cmu_cc ../shared/mocap/cmu_sitting ../shared/mocap/hdm05 \
        --sequences --fps 25 --out sequences.npz
    python motion.py --clips 2000 --out motion.npz            # optional: generated motion beside the real
    python train_temporal.py --data sequences.npz motion.npz --out runs/temporal --steps 3600

    python train_temporal.py --data sequences.npz --init pretrained/temporal_model_weights.pth --tune-encoder 0.1

The per-frame hybrid (default: the bundled weights) encodes every frame and stays frozen (--tune-encoder
SCALE: it trains too, at that fraction of the rate; --init starts from a temporal model); the temporal
part learns from chunks of consecutive frames whose 2D carries the measured detector noise
(detector_noise.py), with the causal mask in --causal-share of the steps (half by default) and the offline
one in the rest. The held-out clips (the file's holdout column, mocap.py's validation clips) choose the best
weights; the run writes temporal_model_weights.pth (the best) and a log into --out.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time

import numpy as np
import torch

import checkpoints as ckpt
import data_loader as dl
import detector_noise as dn
import metrics
import model_input as mi
import sequences as seq
import skeleton_utils as sk
import training_step
from atomic import folder_problem, write_json
from infer_lifting import lift_sequence
from model import TEMPORAL_ARCH, SequenceLifter, TemporalLifter, count_parameters

TEMPORAL_WEIGHTS = "temporal_model_weights.pth"
DEFAULT_RADIUS = 13  # a window of 27 frames offline (about a second at 25 fps), 14 causal
VELOCITY_LOSS_WEIGHT = 1.0  # the velocity error in the loss: motion, not only poses, must be right
VALIDATION_CHUNK = 128


def replace_encoder(lifter: SequenceLifter, frame_model: torch.nn.Module, frame_checkpoint: dict, path: str) -> None:
    """The temporal model's per-frame model given the weights of another of the same network and input."""
    own = lifter.model.frame_model.state_dict()
    weights = frame_model.state_dict()
    if [(k, v.shape) for k, v in own.items()] != [(k, v.shape) for k, v in weights.items()]:
        raise ValueError(f"{path}: its network is not the temporal model's per-frame model (another shape); "
                         f"give the per-frame model it was built on, or train a new one without --init")
    if not torch.equal(torch.as_tensor(frame_checkpoint["norm_stats"]).float().cpu(), torch.stack([lifter.mean, lifter.std]).cpu()):
        raise ValueError(f"{path}: its input normalisation differs from the temporal model's; give a per-frame model "
                         f"fine-tuned from the one it was built on")
    lifter.model.frame_model.load_state_dict(weights)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, nargs="+", metavar="FILE",
                   help="sequences in the data contract with fps: mocap.py --sequences, motion.py; "
                        "several files are combined, each holding out its own validation clips")
    p.add_argument("--init", metavar="FILE", help="start from this temporal model (its per-frame model, config and "
                   "weights) instead of a new one on --frame-weights, e.g. to fine-tune the bundled video model")
    p.add_argument("--tune-encoder", type=float, default=0.0, metavar="SCALE",
                   help="also train the per-frame model inside, at this fraction of --lr (default 0: frozen)")
    p.add_argument("--frame-weights", metavar="FILE",
                   help="the per-frame model that encodes each frame (default: the bundled one); with --init, its "
                        "weights replace the temporal model's own per-frame model (the same network), e.g. to "
                        "rebuild the video model on a retrained default")
    p.add_argument("--velocity-weight", type=float, default=VELOCITY_LOSS_WEIGHT, metavar="W",
                   help="weight of the velocity error in the loss: higher trades pose accuracy for smoother "
                        "motion (default: %(default)s)")
    p.add_argument("--causal-share", type=float, default=0.5, metavar="S",
                   help="share of the steps trained with the causal mask, the rest offline (default: %(default)s)")
    p.add_argument("--clean-share", type=float, default=0.0, metavar="S",
                   help="share of the steps whose 2D is exact, without detector noise (default: %(default)s)")
    p.add_argument("--radius", type=int, default=DEFAULT_RADIUS, help="frames each side of the window (default: %(default)s)")
    p.add_argument("--dim", type=int, default=192)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=24, help="chunks per step (default: %(default)s)")
    p.add_argument("--chunk", type=int, default=64, help="consecutive frames per chunk (default: %(default)s)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=".", help="output folder (default: the working directory)")
    p.add_argument("--force", action="store_true", help="overwrite a previous run's weights in --out")
    return p


# ---------------------------------------------------------------------------
# Chunks of consecutive frames
# ---------------------------------------------------------------------------
class Chunks:
    """Chunks of consecutive frames cut from the runs of a pose file, as tensors."""

    def __init__(self, arrays: dict[str, np.ndarray], runs: list[np.ndarray]):
        self.pose2d = torch.from_numpy(arrays["pose2d"])
        self.pose3d = torch.from_numpy(arrays["pose3d"])
        self.intrinsics = torch.from_numpy(arrays["intrinsics"])
        self.runs = runs
        self.lengths = np.array([len(r) for r in runs])

    def sample(self, batch: int, chunk: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """`batch` random chunks, runs drawn by their length; frames past a run's end are marked absent."""
        picks = rng.choice(len(self.runs), size=batch, p=self.lengths / self.lengths.sum())
        rows = []
        for pick in picks:
            run = self.runs[pick]
            start = rng.integers(0, max(len(run) - chunk, 0) + 1)
            rows.append(run[start:start + chunk])
        return self.gather(rows, chunk)

    def gather(self, rows: list[np.ndarray], chunk: int) -> dict[str, torch.Tensor]:
        index = torch.zeros(len(rows), chunk, dtype=torch.long)
        present = torch.zeros(len(rows), chunk, dtype=torch.bool)
        for i, row in enumerate(rows):
            index[i, :len(row)] = torch.from_numpy(row)
            index[i, len(row):] = int(row[-1])
            present[i, :len(row)] = True
        pose3d = self.pose3d[index]
        return {"pose2d": self.pose2d[index], "pose3d": pose3d,
                "mm_per_px": dn.mm_per_pixel(pose3d, self.intrinsics[index]), "present": present}


def is_causal_step(step: int, share: float) -> bool:
    """Whether step (from 1) trains the causal mask: evenly spread, `share` of the steps (1/2: every odd one)."""
    return math.ceil(step * share) > math.ceil((step - 1) * share)


def training_input(batch: dict[str, torch.Tensor], input_mode: str, rng: np.random.Generator,
                   clean_share: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(model input, found, 3D target) of a batch with a detector's noise, randomised about the measured one.

    Most batches get the measured MediaPipe noise at 0.3-2.5 x its size with 0-25% of joints of low
    visibility and 0-10% of frames missed; the others white noise of 0-6 px (other detectors' keypoints);
    `clean_share` of them no noise at all (exact 2D, whose per-frame 3D needs no smoothing).
    """
    pose2d, pose3d = batch["pose2d"], batch["pose3d"]
    if rng.random() < 0.5:
        pose2d, pose3d = sk.flip_pose(pose2d), sk.flip_pose(pose3d)
    observed = mi.observed_joints(pose2d, input_mode)
    b = len(pose2d)
    if clean_share and rng.random() < clean_share:  # no draw at 0: runs without it stay as they were
        found = torch.ones(pose2d.shape[:2], dtype=torch.bool)
    elif rng.random() < 0.7:
        model = dataclasses.replace(dn.MEASURED, unseen_rate=rng.uniform(0, 0.25), missed_rate=rng.uniform(0, 0.1))
        scale = torch.from_numpy(rng.uniform(0.3, 2.5, b)).float()
        observed, found = dn.add_sequence_noise(observed, batch["mm_per_px"], model, scale)
    else:
        observed = dn.add_plain_noise(observed, rng.uniform(0, 6))
        found = torch.ones(pose2d.shape[:2], dtype=torch.bool)
    return mi.complete_joints(observed, input_mode), found & batch["present"], pose3d


def sequence_loss(pred: torch.Tensor, target: torch.Tensor, found: torch.Tensor,
                  velocity_weight: float = VELOCITY_LOSS_WEIGHT) -> torch.Tensor:
    """The per-frame loss on found frames plus velocity_weight x the velocity error between found neighbours."""
    target = target - target[..., sk.ROOT:sk.ROOT + 1, :]
    loss = training_step.pose_loss(pred[found], target[found])
    both = found[:, 1:] & found[:, :-1]
    if both.any():
        velocity = (torch.diff(pred, dim=1) - torch.diff(target, dim=1))[both]
        loss = loss + velocity_weight * velocity.norm(dim=-1).mean()
    return loss


# ---------------------------------------------------------------------------
# Validation on the held-out clips
# ---------------------------------------------------------------------------
def validate(lifter: SequenceLifter, chunks: Chunks, input_mode: str, noise: str, causal: bool) -> dict:
    """MPJPE and acceleration error of the held-out runs, with fixed noise (the same every time)."""
    generator = torch.Generator().manual_seed(0)
    errors, accels = [], []
    for run in chunks.runs:
        batch = chunks.gather([run], len(run))
        observed = mi.observed_joints(batch["pose2d"], input_mode)
        x, found = dn.detector_input(observed, batch["mm_per_px"], input_mode, noise, generator)
        pred = torch.as_tensor(lift_sequence(lifter, x[0].numpy(), found[0].numpy(), seq.INTERNAL_FPS, causal),
                               dtype=torch.float32)
        target = batch["pose3d"][0] - batch["pose3d"][0, :, sk.ROOT:sk.ROOT + 1]
        errors.append(metrics.joint_errors(pred, target).mean(-1))
        if len(run) >= 3:
            accels.append(float(metrics.acceleration_error(pred, target)) * (len(run) - 2))
    frames = sum(len(r) - 2 for r in chunks.runs if len(r) >= 3)
    return {"mpjpe": float(torch.cat(errors).mean()), "accel": sum(accels) / max(frames, 1)}


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------
def load_sequences(paths: list[str]) -> tuple[dict[str, np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The files' poses, combined, and their training and held-out runs (as rows of the combined arrays)."""
    parts, train_runs, val_runs, offset = [], [], [], 0
    for path in paths:
        arrays, train, val = load_sequence_file(path)
        parts.append(arrays)
        train_runs += [run + offset for run in train]
        val_runs += [run + offset for run in val]
        offset += len(arrays["pose2d"])
    combined = {key: np.concatenate([p[key] for p in parts]) for key in ("pose2d", "pose3d", "intrinsics")}
    return combined, train_runs, val_runs


def load_sequence_file(path: str) -> tuple[dict[str, np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The file's arrays and its training and held-out runs; an error unless it holds sequences at the model's rate."""
    arrays = dl.load_pose_file(path)
    if not seq.has_sequences(arrays) or "intrinsics" not in arrays:
        raise dl.DatasetError(f"{path}: the temporal model trains on sequences: the file needs sequence, camera, frame "
                              f"and intrinsics. Write one with `python mocap.py CLIPS --sequences --fps "
                              f"{seq.INTERNAL_FPS:g} --out {path}`.")
    fps = float(arrays.get("fps", seq.INTERNAL_FPS))
    if abs(fps - seq.INTERNAL_FPS) > 1e-3:
        raise dl.DatasetError(f"{path}: its frames run at {fps:g} fps; the temporal model works at "
                              f"{seq.INTERNAL_FPS:g} fps. Rebuild it with mocap.py --fps {seq.INTERNAL_FPS:g}.")
    if "holdout" not in arrays or not arrays["holdout"].any():
        raise dl.DatasetError(f"{path}: no held-out clips (the holdout column); mocap.py marks its --validation clips, "
                              f"motion.py its last clips.")
    held = arrays["holdout"] == 1
    return arrays, seq.runs(arrays, np.flatnonzero(~held)), seq.runs(arrays, np.flatnonzero(held))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = os.path.join(args.out, TEMPORAL_WEIGHTS)
    problem = folder_problem(args.out) or (f"{out} exists; pass --force to replace it"
                                           if os.path.exists(out) and not args.force else None)
    if problem:
        print(f"error: --out {problem}", file=sys.stderr)
        return 2
    for flag, share, ends in (("--causal-share", args.causal_share, "0 (offline only) to 1 (causal only)"),
                              ("--clean-share", args.clean_share, "0 (always a detector's noise) to 1 (exact 2D only)")):
        if not 0 <= share <= 1:
            print(f"error: {flag} {share:g} is not a share: give a number from {ends}", file=sys.stderr)
            return 2
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        arrays, train_runs, val_runs = load_sequences(args.data)
        if args.init:
            start, frame_checkpoint = ckpt.load_sequence_lifter(args.init)
        if args.frame_weights or not args.init:
            frame_model, frame_weights = ckpt.load_checkpoint(args.frame_weights or ckpt.BUNDLED_WEIGHTS)
            if args.init:
                replace_encoder(start, frame_model, frame_weights, args.frame_weights)
            else:
                frame_checkpoint = frame_weights
    except (dl.DatasetError, ckpt.CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not args.init and frame_checkpoint["arch"] != "gcn_transformer":
        print(f"error: {args.frame_weights or ckpt.BUNDLED_WEIGHTS}: the temporal model builds on a gcn_transformer, "
              f"not {frame_checkpoint['arch']}",
              file=sys.stderr)
        return 1
    input_mode, norm_stats = frame_checkpoint["input_mode"], frame_checkpoint["norm_stats"]
    if args.init:
        model, config = start.model, dict(frame_checkpoint["config"])
    else:
        config = {"frame_config": dict(frame_checkpoint["config"]), "radius": args.radius, "dim": args.dim,
                  "depth": args.depth, "heads": args.heads}
        model = TemporalLifter(**config)
        model.frame_model.load_state_dict(frame_model.state_dict())
    model.frame_model.requires_grad_(args.tune_encoder > 0)
    lifter = SequenceLifter(model, norm_stats)
    trainable = [p for p in model.parameters() if p.requires_grad]
    encoder = {id(p) for p in model.frame_model.parameters()}
    groups = [{"params": [p for p in trainable if id(p) not in encoder]}]
    if args.tune_encoder > 0:  # the per-frame model at its fraction of the rate
        groups.append({"params": list(model.frame_model.parameters()), "lr": args.lr * args.tune_encoder})
    optimizer = training_step.make_optimizer(groups, args.lr)
    rates = [group["lr"] for group in optimizer.param_groups]
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, rates, total_steps=args.steps, pct_start=0.05)
    train_chunks, val_chunks = Chunks(arrays, train_runs), Chunks(arrays, val_runs)
    print(f"{len(train_runs)} training runs ({train_chunks.lengths.sum()} frames), {len(val_runs)} held-out runs "
          f"({val_chunks.lengths.sum()} frames); {count_parameters(model) - count_parameters(model.frame_model):,} "
          f"temporal parameters on a {'tuned' if args.tune_encoder > 0 else 'frozen'} per-frame model"
          f"{f' (from {args.init})' if args.init else ''}{f', its weights from {args.frame_weights}' if args.init and args.frame_weights else ''}; window {2 * model.radius + 1} frames at {seq.INTERNAL_FPS:g} fps",
          flush=True)
    log, best, started = [], float("inf"), time.perf_counter()
    frames_seen = 0
    for step in range(1, args.steps + 1):
        model.train()
        model.frame_model.train(args.tune_encoder > 0)
        x, found, target = training_input(train_chunks.sample(args.batch, args.chunk, rng), input_mode, rng,
                                          args.clean_share)
        pred = model(mi.normalize_input(x, lifter.mean, lifter.std), found, causal=is_causal_step(step, args.causal_share))
        loss = sequence_loss(pred, target, found, args.velocity_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        frames_seen += int(found.sum())
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            offline = validate(lifter, val_chunks, input_mode, "mediapipe", causal=False)
            causal = validate(lifter, val_chunks, input_mode, "mediapipe", causal=True)
            elapsed = time.perf_counter() - started
            entry = {"step": step, "loss": float(loss.detach()), "offline": offline, "causal": causal,
                     "seconds": round(elapsed, 1), "frames_per_second": round(frames_seen / elapsed, 1)}
            log.append(entry)
            score = offline["mpjpe"] + causal["mpjpe"]
            if score < best:
                best = score
                ckpt.save_checkpoint(out, model, TEMPORAL_ARCH, config, input_mode, norm_stats,
                                     extra={"fps": seq.INTERNAL_FPS, "trained": entry, "data": " ".join(args.data),
                                            "init": args.init, "frame_weights": args.frame_weights, "tune_encoder": args.tune_encoder,
                                            "velocity_weight": args.velocity_weight, "causal_share": args.causal_share,
                                            "clean_share": args.clean_share})
            print(f"step {step}: loss {entry['loss']:.1f}  offline {offline['mpjpe']:.1f} mm / accel {offline['accel']:.2f}  "
                  f"causal {causal['mpjpe']:.1f} mm / accel {causal['accel']:.2f}  ({elapsed / 60:.1f} min, "
                  f"{entry['frames_per_second']:.0f} frames/s){'  *' if score == best else ''}", flush=True)
            write_json(os.path.join(args.out, "temporal_log.json"), log)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
