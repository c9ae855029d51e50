"""BVH files written by the tests: a CMU-named rig with random motion, and small hand-made clips."""
from __future__ import annotations

from pathlib import Path

import numpy as np

# (name, parent, offset in cm) of a CMU-named rig, as ../shared/mocap/cmu's files lay it out.
CMU_RIG = [
    ("Hips", None, (0, 0, 0)),
    ("LHipJoint", "Hips", (0, 0, 0)), ("LeftUpLeg", "LHipJoint", (9.4, -10.2, 3.5)),
    ("LeftLeg", "LeftUpLeg", (0, -42.9, 0)), ("LeftFoot", "LeftLeg", (0, -41.1, 0)),
    ("LeftToeBase", "LeftFoot", (0, -3.2, 12.2)), ("LeftToeBase_end", "LeftToeBase", (0, 0, 6.3)),
    ("RHipJoint", "Hips", (0, 0, 0)), ("RightUpLeg", "RHipJoint", (-9.4, -10.2, 3.5)),
    ("RightLeg", "RightUpLeg", (0, -42.9, 0)), ("RightFoot", "RightLeg", (0, -41.1, 0)),
    ("RightToeBase", "RightFoot", (0, -3.2, 12.2)), ("RightToeBase_end", "RightToeBase", (0, 0, 6.3)),
    ("LowerBack", "Hips", (0, 0, 0)), ("Spine", "LowerBack", (0, 11.6, -0.8)), ("Spine1", "Spine", (0, 11.6, -0.3)),
    ("Neck", "Spine1", (0, 0, 0)), ("Neck1", "Neck", (0, 8.9, 0.8)), ("Head", "Neck1", (0, 8.8, -0.6)),
    ("Head_end", "Head", (0, 9.2, -0.2)),
    ("LeftShoulder", "Spine1", (0, 0, 0)), ("LeftArm", "LeftShoulder", (20.0, 5.2, -1.0)),
    ("LeftForeArm", "LeftArm", (27.4, 0, 0)), ("LeftHand", "LeftForeArm", (19.0, 0, 0)),
    ("LeftHandIndex1", "LeftHand", (3.7, 0, 0)), ("LeftHandIndex1_end", "LeftHandIndex1", (3.0, 0, 0)),
    ("RightShoulder", "Spine1", (0, 0, 0)), ("RightArm", "RightShoulder", (-20.0, 5.2, -1.0)),
    ("RightForeArm", "RightArm", (-27.4, 0, 0)), ("RightHand", "RightForeArm", (-19.0, 0, 0)),
    ("RightHandIndex1", "RightHand", (-3.7, 0, 0)), ("RightHandIndex1_end", "RightHandIndex1", (-3.0, 0, 0)),
]


def hierarchy_text(rig: list, rotation_order: str = "ZYX", prefix: str = "") -> str:
    """The HIERARCHY section of `rig` ((name, parent, offset); names ending _end are End Sites)."""
    children = {name: [c for c, p, _ in rig if p == name] for name, _, _ in rig}
    offsets = {name: offset for name, _, offset in rig}
    lines = ["HIERARCHY"]

    def joint(name: str, depth: int) -> None:
        pad = "  " * depth
        if name.endswith("_end"):
            lines.append(f"{pad}End Site")
        else:
            lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET " + " ".join(f"{v:.5f}" for v in offsets[name]))
        if not name.endswith("_end"):
            rotations = " ".join(f"{axis}rotation" for axis in rotation_order)
            positions = "Xposition Yposition Zposition " if depth == 0 else ""
            lines.append(f"{pad}  CHANNELS {6 if depth == 0 else 3} {positions}{rotations}")
        for child in children[name]:
            joint(child, depth + 1)
        lines.append(pad + "}")

    joint(rig[0][0], 0)
    return "\n".join(lines)


def channel_count(rig: list) -> int:
    return 3 + 3 * sum(1 for name, _, _ in rig if not name.endswith("_end"))


def random_motion(rig: list, frames: int, seed: int = 0, max_degrees: float = 25.0) -> np.ndarray:
    """(frames, C) channel values: a root walking forward at hip height, small smooth joint rotations."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, frames)[:, None]
    values = max_degrees * np.sin(2 * np.pi * (t * rng.uniform(0.5, 2, channel_count(rig)) + rng.random(channel_count(rig))))
    values[:, :3] = np.column_stack([10 * t[:, 0], np.full(frames, 95.0), 100 * t[:, 0]])
    return values


def write_bvh(path: Path, rig: list, values: np.ndarray, frame_time: float = 1 / 120, rotation_order: str = "ZYX",
              prefix: str = "", newline: str = "\n") -> Path:
    motion = [f"MOTION", f"Frames: {len(values)}", f"Frame Time: {frame_time:.6f}"]
    motion += [" ".join(f"{v:.6f}" for v in row) for row in values]
    path.write_text(newline.join([hierarchy_text(rig, rotation_order, prefix)] + motion) + newline, newline="")
    return path


def write_cmu_clip(path: Path, frames: int = 60, seed: int = 0, scale: float = 1.0, max_degrees: float = 25.0,
                   **kwargs) -> Path:
    values = random_motion(CMU_RIG, frames, seed, max_degrees)
    values[:, :3] *= scale
    rig = [(name, parent, tuple(scale * v for v in offset)) for name, parent, offset in CMU_RIG]
    return write_bvh(path, rig, values, **kwargs)
