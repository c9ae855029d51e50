"""The BVH motion-capture format: parsing, writing, and forward kinematics of the parsed skeleton.

read_bvh() takes files from the wild (any depth, End Sites, any rotation order per joint, position
channels on any joint, tabs, CRLF); format_bvh() writes the text that read_bvh() reads back.
Skeleton and Clip are also what asf_amc.py turns Acclaim files into, so everything downstream
(mocap.py's rig tables, animation.py's writer) reads one data model.

BVH conventions followed (those of Blender's importer and most exporters): a joint's rotation
channels compose in the order they are listed, R = R_first @ R_second @ R_third (column vectors,
parent-to-child); position channels replace the joint's OFFSET; +Y is up.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from geometry import turn

AXES = {"X": 0, "Y": 1, "Z": 2}
END_SITE_SUFFIX = "_end"  # an End Site is named after its joint: "Head" -> "Head_end"


class BvhError(ValueError):
    """A BVH file that cannot be read or mapped; the message names the file (and line) and the fix."""


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
@dataclass
class Skeleton:
    """The HIERARCHY: joints in file order (parents first), End Sites included as channel-less joints."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3) in file units
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Zrotation"]

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass
class Clip:
    """A parsed BVH file: its skeleton, (F, C) channel values in file order and the frame time in seconds."""

    path: str
    skeleton: Skeleton
    values: np.ndarray
    frame_time: float
    # (F, J, 3, 3) each joint's rotation channels composed, when a reader has them already (asf_amc.py):
    # forward kinematics then skips composing them again from the values.
    local_rotations: np.ndarray | None = None

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def _parse_hierarchy(lines: list[str], path: str) -> tuple[Skeleton, int]:
    """Parse from 'HIERARCHY' to 'MOTION'; returns the skeleton and the index of the MOTION line."""
    names, parents, offsets, channels = [], [], [], []
    declared: dict[str, int] = {}  # joint name -> its line
    stack: list[int] = []
    pending: int | None = None  # the joint whose '{' comes next
    i = 0
    while i < len(lines):
        words = lines[i].split()
        line_no = i + 1
        i += 1
        if not words:
            continue
        key = words[0].upper()
        if key == "HIERARCHY":
            continue
        if key == "MOTION":
            if stack or not names:
                raise BvhError(f"{path}, line {line_no}: MOTION before the hierarchy is complete "
                               f"({'unclosed braces' if stack else 'no ROOT'}).")
            return Skeleton(names, parents, np.array(offsets, dtype=np.float64), channels), i - 1
        if key in ("ROOT", "JOINT") or (key == "END" and len(words) > 1 and words[1].upper() == "SITE"):
            if key == "ROOT" and stack:
                raise BvhError(f"{path}, line {line_no}: ROOT inside another joint.")
            if key != "ROOT" and not stack:
                raise BvhError(f"{path}, line {line_no}: {words[0]} outside any ROOT.")
            if key == "END":
                name = names[stack[-1]] + END_SITE_SUFFIX
            elif len(words) < 2:
                raise BvhError(f"{path}, line {line_no}: {words[0]} without a name.")
            else:
                name = " ".join(words[1:])
            if name in declared:  # a name lookup would silently take the first of the two
                raise BvhError(f"{path}, line {line_no}: the joint name {name!r} is used twice (first at line "
                               f"{declared[name]}); joints are found by name, so each needs its own. Rename one.")
            declared[name] = line_no
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
        elif key == "{":
            if pending is None:
                raise BvhError(f"{path}, line {line_no}: '{{' without a joint before it.")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise BvhError(f"{path}, line {line_no}: '}}' without a matching '{{'.")
            stack.pop()
        elif key == "OFFSET":
            if not stack or len(words) != 4:
                raise BvhError(f"{path}, line {line_no}: OFFSET needs three numbers inside a joint.")
            offsets[stack[-1]] = _numbers(words[1:], path, line_no)
        elif key == "CHANNELS":
            if not stack:
                raise BvhError(f"{path}, line {line_no}: CHANNELS outside a joint.")
            try:
                count = int(words[1])
            except (IndexError, ValueError):
                raise BvhError(f"{path}, line {line_no}: CHANNELS needs a count, then the channel names.") from None
            names_here = words[2:]
            if len(names_here) != count:
                raise BvhError(f"{path}, line {line_no}: CHANNELS says {count} but lists {len(names_here)} names.")
            for channel in names_here:
                if len(channel) != 9 or channel[0].upper() not in AXES or channel[1:].lower() not in ("position", "rotation"):
                    raise BvhError(f"{path}, line {line_no}: unknown channel {channel!r} (expected Xposition ... Zrotation).")
            channels[stack[-1]] = names_here
        else:
            raise BvhError(f"{path}, line {line_no}: unexpected {words[0]!r} in the HIERARCHY section.")
    raise BvhError(f"{path}: no MOTION section; the file is truncated or not a BVH file.")


def _numbers(words: list[str], path: str, line_no: int) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        raise BvhError(f"{path}, line {line_no}: {first_non_number(words)!r} is not a number.") from None


def first_non_number(words: list[str]) -> str | None:
    """The first word that float() refuses, or None (used to name the culprit in an error)."""
    for word in words:
        try:
            float(word)
        except ValueError:
            return word
    return None


def _header_value(line: str, label: str, path: str, line_no: int) -> str:
    if ":" not in line or line.split(":", 1)[0].strip().lower() != label.lower():
        raise BvhError(f"{path}, line {line_no}: expected '{label}: ...', found {line.strip()[:60]!r}.")
    return line.split(":", 1)[1].strip()


def _parse_motion(lines: list[str], start: int, skeleton: Skeleton, path: str) -> tuple[np.ndarray, float]:
    """The MOTION section from the line after 'MOTION': (F, C) values and the frame time."""
    rest = [(n, line) for n, line in enumerate(lines[start + 1:], start=start + 2) if line.strip()]
    if len(rest) < 2:
        raise BvhError(f"{path}: the MOTION section lacks its 'Frames:' and 'Frame Time:' lines (truncated file?).")
    (n1, frames_line), (n2, time_line) = rest[0], rest[1]
    try:
        frames = int(_header_value(frames_line, "Frames", path, n1))
        frame_time = float(_header_value(time_line, "Frame Time", path, n2))
    except ValueError as err:
        if isinstance(err, BvhError):
            raise
        raise BvhError(f"{path}, line {n1}-{n2}: 'Frames:' needs a whole number and 'Frame Time:' a number.") from None
    if frames < 1 or not frame_time > 0:
        raise BvhError(f"{path}, line {n1}: a clip needs at least one frame and a positive frame time.")
    rows = rest[2:]
    if len(rows) < frames:
        last = rows[-1][0] if rows else n2
        raise BvhError(f"{path}, line {last}: the file says {frames} frames but holds {len(rows)}; it is truncated.")
    if len(rows) > frames:
        raise BvhError(f"{path}, line {rows[frames][0]}: the file says {frames} frames but holds {len(rows)} rows of "
                       f"motion; correct the 'Frames:' line (line {n1}) to the number of rows meant.")
    split = [line.split() for _, line in rows]
    want = skeleton.num_channels
    for (line_no, _), words in zip(rows, split):
        if len(words) != want:
            raise BvhError(f"{path}, line {line_no}: {len(words)} values, but the hierarchy declares {want} channels.")
    try:
        values = np.array(split, dtype=np.float64)
    except ValueError:
        for (line_no, _), words in zip(rows, split):
            _numbers(words, path, line_no)
        raise
    if not np.isfinite(values).all():
        frame = int(np.argmax(~np.isfinite(values).all(axis=1)))
        raise BvhError(f"{path}, line {rows[frame][0]}: a value is NaN or infinite.")
    return values, frame_time


def read_bvh(path: str | os.PathLike) -> Clip:
    """Parse a BVH file; any problem raises BvhError naming the file and line."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise BvhError(f"{path}: cannot read the file ({err.strerror}).") from None
    if b"\0" in data[:4096]:
        raise BvhError(f"{path}: not a text file (it holds NUL bytes); a BVH file is text that starts with HIERARCHY.")
    lines = data.decode("utf-8-sig", errors="replace").splitlines()
    first = next((line.split()[0] for line in lines if line.strip()), "")
    if first.upper() != "HIERARCHY":
        raise BvhError(f"{path}, line 1: a BVH file starts with HIERARCHY, found {first[:40]!r}.")
    skeleton, motion_line = _parse_hierarchy(lines, path)
    values, frame_time = _parse_motion(lines, motion_line, skeleton, path)
    return Clip(path, skeleton, values, frame_time)


# ---------------------------------------------------------------------------
# Forward kinematics


# ---------------------------------------------------------------------------
# Forward kinematics
# ---------------------------------------------------------------------------
def _ancestry(parents: list[int], joints: list[int]) -> list[int]:
    """The joints and all their ancestors, parents first."""
    keep = set()
    for j in joints:
        while j >= 0 and j not in keep:
            keep.add(j)
            j = parents[j]
    return sorted(keep)


def local_transforms(clip: Clip, joints: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For the given joints (file order), per frame: local rotation (F, K, 3, 3) and translation from
    the parent (F, K, 3). Vectorised over frames and joints: the k-th rotation channel of every joint
    about the same axis is applied in one batched product (at most 9, whatever the rig's size)."""
    sk_ = clip.skeleton
    starts = np.cumsum([0] + [len(c) for c in sk_.channels])
    rotation = np.broadcast_to(np.eye(3), (len(clip.values), len(joints), 3, 3)).copy()
    translation = np.broadcast_to(sk_.offsets[joints], (len(clip.values), len(joints), 3)).copy()
    steps: dict[tuple[int, int], tuple[list[int], list[int]]] = {}  # (k-th rotation, axis) -> (rows, columns)
    for row, j in enumerate(joints):
        k = 0
        for column, channel in enumerate(sk_.channels[j], start=starts[j]):
            axis = AXES[channel[0].upper()]
            if channel[1:].lower() == "rotation":
                rows, columns = steps.setdefault((k, axis), ([], []))
                rows.append(row)
                columns.append(column)
                k += 1
            else:
                translation[:, row, axis] = clip.values[:, column]
    if clip.local_rotations is not None:
        return clip.local_rotations[:, joints], translation
    for (_, axis), (rows, columns) in sorted(steps.items()):
        rotation[:, rows] = turn(rotation[:, rows], axis, clip.values[:, columns])
    return rotation, translation


def forward_kinematics(clip: Clip, joints: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, K, 3) in file units and world rotations (F, K, 3, 3) of the given joints
    (default: all, in file order). Only they and their ancestors are computed, a depth level at a
    time: all frames and all joints of a level at once."""
    parents = clip.skeleton.parents
    wanted = list(range(len(parents))) if joints is None else list(joints)
    keep = _ancestry(parents, wanted)
    row = {j: r for r, j in enumerate(keep)}
    rotation, translation = local_transforms(clip, keep)
    parent_row = np.array([row.get(parents[j], -1) for j in keep])
    depth = np.zeros(len(keep), dtype=int)
    for r, j in enumerate(keep):
        depth[r] = 0 if parent_row[r] < 0 else depth[parent_row[r]] + 1
    world_rot, world_pos = rotation.copy(), translation.copy()  # roots: local is world
    for level in range(1, depth.max() + 1):
        idx = np.flatnonzero(depth == level)
        up = parent_row[idx]
        world_rot[:, idx] = world_rot[:, up] @ rotation[:, idx]
        world_pos[:, idx] = world_pos[:, up] + np.einsum("...ij,...j->...i", world_rot[:, up], translation[:, idx])
    rows = [row[j] for j in wanted]
    return world_pos[:, rows], world_rot[:, rows]


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) joint positions of the rest pose (every channel zero, OFFSETs only)."""
    positions = np.zeros_like(skeleton.offsets)
    for j, parent in enumerate(skeleton.parents):
        positions[j] = skeleton.offsets[j] + (positions[parent] if parent >= 0 else 0.0)
    return positions


# ---------------------------------------------------------------------------
# Rigs: which BVH joints give the 28 MPI-INF-3DHP joints


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def format_bvh(clip: Clip) -> str:
    """The text of a BVH file (tab-indented, End Sites for channel-less joints) that read_bvh reads back."""
    sk_ = clip.skeleton
    lines = ["HIERARCHY"]

    def write(b: int, depth: int) -> None:
        pad = "\t" * depth
        name = sk_.names[b]
        head = ("ROOT " + name if sk_.parents[b] < 0 else "End Site" if not sk_.channels[b] else "JOINT " + name)
        lines.extend([pad + head, pad + "{", pad + "\tOFFSET " + " ".join(f"{v:.6f}" for v in sk_.offsets[b])])
        if sk_.channels[b]:
            lines.append(pad + f"\tCHANNELS {len(sk_.channels[b])} " + " ".join(sk_.channels[b]))
        for c, p in enumerate(sk_.parents):
            if p == b:
                write(c, depth + 1)
        lines.append(pad + "}")
    write(0, 0)
    lines += ["MOTION", f"Frames: {len(clip.values)}", f"Frame Time: {clip.frame_time:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in clip.values]
    return "\n".join(lines) + "\n"

