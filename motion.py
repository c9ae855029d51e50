"""Synthetic motion: generated bodies moving between key poses, filmed as videos for the temporal model.

    python motion.py --clips 2000 --seconds 8 --views 2 --out motion.npz
    python train_temporal.py --data sequences.npz motion.npz

synthetic.py makes still poses; here key poses of its activities (a run of one activity, with switches:
standing up, sitting down, lying down) are eased into one another, turning gradually, and each interval
is slowed down where its fastest joint would move faster than real people commonly do (measured on the
shared motion capture). camera.film_motion films each clip with static studio cameras at 25 fps, in the
data contract with fps, the last clips held out.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import synthetic
from atomic import output_problem, write_npz
from bodies import floor_height, sample_bodies
from camera import film_motion
from geometry import axis_rotation
from joint_angles import clip_to_limits, forward_kinematics
from sequences import INTERNAL_FPS
from skeleton_utils import ROOT

# Key poses of these activities can follow one another; a gait's phases cannot (eased between random
# phases, legs would swap at random speeds): the real clips bring walking and running.
MOTION_ACTIVITIES = ("standing", "sitting", "squatting", "bending", "reaching", "arms_raised", "crouching",
                     "lying", "exercise", "sports")
KEY_SECONDS = (0.6, 1.8)  # time from one key pose to the next, before retiming
SWITCH_CHANCE = 0.35  # a key pose of another activity than the one before: standing up, sitting down, lying down
TURN_DEGREES = 45.0  # largest change of heading from one key pose to the next
# The fastest joint's speed (root-relative), measured on the training clips of ../shared/mocap filmed at
# 25 fps (mocap.py --sequences; every 4th run): median 1.25 m/s, 90th percentile 3.2 m/s, 99th 7.1 m/s;
# its acceleration: median 10.8 m/s^2, 90th percentile 38, 99th 126. An interval between key poses whose
# fastest joint would pass MAX_JOINT_SPEED is slowed down to it, so generated motion stays within what
# people commonly do.
MAX_JOINT_SPEED_MM_S = 3200.0
REAL_ACCELERATION_P99_MM_S2 = 126_000.0


def fastest_joint(pose: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The fastest root-relative joint's speed (F-1,) in mm/s and acceleration (F-2,) in mm/s^2 of (F, 28, 3)."""
    relative = pose - pose[:, ROOT:ROOT + 1]
    speed = np.linalg.norm(np.diff(relative, axis=0), axis=-1).max(-1) * fps
    acceleration = np.linalg.norm(np.diff(relative, n=2, axis=0), axis=-1).max(-1) * fps ** 2
    return speed, acceleration


def _eased(keys: dict[str, np.ndarray], key_times: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
    """Every angle (K,) at the key times, eased (a half cosine: no jump in speed at a key) to `times`."""
    k = np.clip(np.searchsorted(key_times, times, side="right") - 1, 0, len(key_times) - 2)
    u = np.clip((times - key_times[k]) / (key_times[k + 1] - key_times[k]), 0, 1)
    w = 0.5 - 0.5 * np.cos(np.pi * u)
    return {name: (1 - w) * value[k] + w * value[k + 1] for name, value in keys.items()}


def _key_poses(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Joint angles of `count` key poses: a run of one activity with switches to others, turning gradually."""
    weights = np.array([synthetic.ACTIVITY_WEIGHTS[a] for a in MOTION_ACTIVITIES])
    choice = [rng.choice(len(MOTION_ACTIVITIES), p=weights / weights.sum())]
    for _ in range(count - 1):
        switch = rng.random() < SWITCH_CHANCE
        choice.append(rng.choice(len(MOTION_ACTIVITIES), p=weights / weights.sum()) if switch else choice[-1])
    activity = np.array([synthetic.ACTIVITIES.index(MOTION_ACTIVITIES[c]) for c in choice])
    angles, _, _ = synthetic.sample_angles(activity, rng)
    angles["yaw"] = rng.uniform(-180, 180) + np.concatenate([[0], np.cumsum(rng.uniform(-TURN_DEGREES, TURN_DEGREES,
                                                                                     count - 1))])
    return angles


def _move(offsets: np.ndarray, angles: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 28, 3) world motion (y up, feet on the floor, turned to each frame's heading) of per-frame angles."""
    clip_to_limits(angles)
    pose = forward_kinematics(np.broadcast_to(offsets, (len(angles["yaw"]),) + offsets.shape).copy(), angles)
    pose[..., 1] -= floor_height(pose)[:, None]
    return pose @ np.swapaxes(axis_rotation(1, angles["yaw"]), 1, 2)


def motion_clip(offsets: np.ndarray, seconds: float, fps: float, rng: np.random.Generator) -> np.ndarray:
    """(F, 28, 3) world motion of one body for `seconds` at `fps`: key poses eased into one another, each interval
    slowed down where its fastest joint would pass MAX_JOINT_SPEED_MM_S."""
    count = max(2, int(np.ceil(seconds / KEY_SECONDS[0])) + 1)  # enough keys even if every interval is short
    keys = _key_poses(count, rng)
    durations = rng.uniform(*KEY_SECONDS, count - 1)
    for _ in range(2):  # retime once, then check: the second pass only confirms
        key_times = np.concatenate([[0.0], np.cumsum(durations)])
        times = np.arange(0.0, key_times[-1], 1.0 / fps)
        speed, _ = fastest_joint(_move(offsets, _eased(keys, key_times, times)), fps)
        interval = np.clip(np.searchsorted(key_times, times[1:], side="right") - 1, 0, count - 2)
        peak = np.zeros(count - 1)
        np.maximum.at(peak, interval, speed)
        durations = durations * np.maximum(1.0, peak / MAX_JOINT_SPEED_MM_S)
    key_times = np.concatenate([[0.0], np.cumsum(durations)])
    times = np.arange(0.0, min(key_times[-1], seconds), 1.0 / fps)
    return _move(offsets, _eased(keys, key_times, times))


def generate_motion(clips: int, seconds: float = 8.0, seed: int = 0, views: int = 2,
                    fps: float = INTERNAL_FPS, holdout: float = 0.1) -> dict[str, np.ndarray]:
    """Synthetic videos in the data contract: `clips` bodies, each moving for `seconds`, filmed at `fps` by `views`
    static studio cameras (camera.film_motion). sequence numbers the clips, subject = sequence (one body each),
    holdout marks the last `holdout` share of the clips, and fps is written."""
    if clips < 1 or seconds <= 0 or views < 1 or fps <= 0:
        raise ValueError(f"need at least one clip and view, and positive seconds and fps (got {clips}, {seconds}, "
                         f"{views}, {fps})")
    rng = np.random.default_rng(seed)
    bodies = sample_bodies(clips, rng)
    held = max(1, round(holdout * clips)) if clips > 1 and holdout > 0 else 0
    parts = []
    for clip in range(clips):
        world = motion_clip(bodies.offsets[clip], seconds, fps, rng)
        part, in_view = film_motion(np.broadcast_to(world, (views,) + world.shape), rng)
        frames = len(world)
        part.update(camera=np.repeat(np.arange(views), frames).astype(np.int32),
                    frame=np.tile(np.arange(frames), views).astype(np.int32),
                    sequence=np.full(views * frames, clip, np.int32), subject=np.full(views * frames, clip, np.int32),
                    holdout=np.full(views * frames, int(clip >= clips - held), np.int8))
        parts.append({key: value[in_view] for key, value in part.items()})
    arrays = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    arrays["fps"] = np.float32(fps)
    return arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output .npz (data contract arrays, with fps)")
    parser.add_argument("--clips", type=int, default=200, help="bodies, one clip each (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each clip (default: %(default)s)")
    parser.add_argument("--views", type=int, default=2, help="static cameras per clip (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    problem = output_problem(args.out, args.force)
    if problem:
        parser.error(f"--out {problem}")
    start = time.perf_counter()
    try:
        arrays = generate_motion(args.clips, args.seconds, args.seed, args.views)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_npz(args.out, arrays)
    runs = [(arrays["sequence"] == c) & (arrays["camera"] == 0) for c in range(args.clips)]
    speeds, accelerations = zip(*(fastest_joint(arrays["pose3d"][r], INTERNAL_FPS) for r in runs if r.sum() >= 3))
    speed, acceleration = np.concatenate(speeds), np.concatenate(accelerations)
    print(f"{args.clips} clips of {args.seconds:g} s x {args.views} views at {INTERNAL_FPS:g} fps: {len(arrays['pose2d'])} "
          f"poses in view -> {args.out} ({time.perf_counter() - start:.1f} s)")
    print(f"fastest joint: speed median {np.median(speed) / 1000:.2f} m/s, 99th percentile "
          f"{np.percentile(speed, 99) / 1000:.2f} m/s; acceleration median {np.median(acceleration) / 1000:.1f} m/s^2, "
          f"99th percentile {np.percentile(acceleration, 99) / 1000:.1f} m/s^2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
