"""The Acclaim ASF/AMC motion-capture format (CMU's own database, HDM05): a skeleton file and its motions.

read_asf() reads the skeleton (.asf): `:units` (length scale, degrees or radians), `:root` (the order
of its six values, its axis order, position, orientation), every bone's `direction`, `length`,
`axis` with its rotation order and `dof` (any subset and order of rx ry rz, translations tx ty tz
and the length change l), and `:hierarchy`. read_amc() reads a motion (.amc) against it and returns
the bvh.Clip that BVH files give, so rig tables, units and the BVH writer treat both formats alike.

Kinematics (Acclaim, column vectors): a bone's local frame is C, the rotation by its `axis` angles;
a frame's dof values give M, composed in the order the dof are listed (the first applied first:
`dof rx ry rz` is M = Rz Ry Rx); in the global rest frame the bone turns by C M C^-1, after its
parent's turn, and its end is its start plus that world rotation applied to direction x length.
The root turns the same way about the frame of its `orientation` and moves to its translation values.
Translation dof (tx ty tz, in the bone's axis frame, and l, along the bone) stretch the bone itself.

In the Clip, each bone is a joint at the bone's start (its parent's end) turning by C M C^-1,
written as Zrotation Yrotation Xrotation; a bone without children gets an End Site at its end
(NAME_end), so "lfemur" is the hip, "ltibia" the knee and "head_end" the top of the head.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bvh import AXES, END_SITE_SUFFIX, Clip, Skeleton, first_non_number
from geometry import euler_angles, turn

ROTATIONS = ("rx", "ry", "rz")
TRANSLATIONS = ("tx", "ty", "tz", "l")
DEFAULT_FPS = 120.0  # Acclaim files do not say their rate; CMU and HDM05 capture at 120 fps


class AsfAmcError(ValueError):
    """An .asf or .amc file that cannot be read; the message names the file (and line) and the fix."""


@dataclass
class Bone:
    name: str
    direction: np.ndarray  # (3,) unit, global rest frame
    length: float
    axis: np.ndarray  # (3, 3) C: the bone's local frame
    dof: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class AsfSkeleton:
    """A parsed .asf: the root's value order and frame, bones by name (file order), each bone's parent."""

    path: str
    length_unit: float  # ':units length' (CMU, HDM05: 0.45, one unit = 1/0.45 inch)
    degrees: bool
    root_order: list[str]  # e.g. ["tx", "ty", "tz", "rx", "ry", "rz"]
    root_axis: np.ndarray  # (3, 3) the frame of the root's orientation
    root_position: np.ndarray  # (3,)
    bones: dict[str, Bone]
    parents: dict[str, str]  # bone -> its parent ("root" for the root's children)


# ---------------------------------------------------------------------------
# Reading text
# ---------------------------------------------------------------------------
def _read_text(path: str) -> str:
    """The file's text: UTF-8, else Latin-1 (lab files carry both)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise AsfAmcError(f"{path}: cannot read the file ({err.strerror}).") from None
    if b"\0" in data[:4096]:
        raise AsfAmcError(f"{path}: not a text file (it holds NUL bytes); an .asf or .amc file is text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(text: str) -> list[str]:
    """The text's lines, comments (# to the end of a line) removed."""
    return [line.split("#", 1)[0] if "#" in line else line for line in text.splitlines()]


def _read_lines(path: str) -> list[str]:
    return _lines(_read_text(path))


def _floats(words: list[str], path: str, line_no: int, what: str) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        raise AsfAmcError(f"{path}, line {line_no}: {what}: {first_non_number(words)[:40]!r} is not a number.") from None


def rotation_of(angles: np.ndarray, order: str | list[str]) -> np.ndarray:
    """(..., 3, 3) rotation of Euler angles (..., K) in degrees about the axes listed (e.g. "XYZ" or
    ["rx", "rz"]), the first listed applied first: "XYZ" gives Rz @ Ry @ Rx."""
    axes = [AXES[a[-1].upper()] for a in order]
    out = np.broadcast_to(np.eye(3), np.shape(angles)[:-1] + (3, 3)).copy()
    for k in reversed(range(len(axes))):  # R_last @ ... @ R_first, built from the left by right products
        out = turn(out, axes[k], angles[..., k])
    return out


# ---------------------------------------------------------------------------
# The skeleton (.asf)
# ---------------------------------------------------------------------------
def _sections(lines: list[str], path: str) -> dict[str, list[tuple[int, list[str]]]]:
    """':keyword' sections -> their (line number, words) lines."""
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current = None
    for line_no, line in enumerate(lines, start=1):
        words = line.split()
        if not words:
            continue
        if words[0].startswith(":"):
            current = words[0][1:].lower()
            sections.setdefault(current, [])
            if len(words) > 1:
                sections[current].append((line_no, words[1:]))
        elif current is None:
            raise AsfAmcError(f"{path}, line {line_no}: {words[0][:40]!r} before any ':section'; "
                              f"an .asf file starts with sections such as :units, :root, :bonedata, :hierarchy.")
        else:
            sections[current].append((line_no, words))
    return sections


def _units(lines: list[tuple[int, list[str]]], path: str) -> tuple[float, bool]:
    length, degrees = 1.0, True
    for line_no, words in lines:
        key = words[0].lower()
        if key == "length" and len(words) == 2:
            length = _floats(words[1:], path, line_no, "the length unit")[0]
            if not length > 0:
                raise AsfAmcError(f"{path}, line {line_no}: ':units length' must be positive, not {words[1]}.")
        elif key == "angle" and len(words) == 2:
            if words[1].lower() not in ("deg", "rad"):
                raise AsfAmcError(f"{path}, line {line_no}: ':units angle' is deg or rad, not {words[1]!r}.")
            degrees = words[1].lower() == "deg"
    return length, degrees


def _axis(words: list[str], path: str, line_no: int, degrees: bool) -> np.ndarray:
    """`axis a b c XYZ` -> C."""
    if len(words) != 4 or sorted(words[3].lower()) != ["x", "y", "z"]:
        raise AsfAmcError(f"{path}, line {line_no}: 'axis' needs three angles and their order (e.g. 'axis 0 0 20 XYZ').")
    angles = np.array(_floats(words[:3], path, line_no, "axis"))
    return rotation_of(angles if degrees else np.degrees(angles), words[3])


def _root(lines: list[tuple[int, list[str]]], path: str, degrees: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
    order, axis_order, position, orientation = [], "XYZ", np.zeros(3), np.zeros(3)
    for line_no, words in lines:
        key, values = words[0].lower(), words[1:]
        if key == "order":
            order = [w.lower() for w in values]
            unknown = [w for w in order if w not in ROTATIONS + ("tx", "ty", "tz")]
            if unknown or len(set(order)) != len(order):
                raise AsfAmcError(f"{path}, line {line_no}: ':root order' lists {' '.join(values)}; it takes each of "
                                  f"TX TY TZ RX RY RZ at most once.")
        elif key == "axis":
            if len(values) != 1 or sorted(values[0].lower()) != ["x", "y", "z"]:
                raise AsfAmcError(f"{path}, line {line_no}: ':root axis' is an order such as XYZ.")
            axis_order = values[0]
        elif key in ("position", "orientation"):
            if len(values) != 3:
                raise AsfAmcError(f"{path}, line {line_no}: ':root {key}' needs three numbers.")
            (position if key == "position" else orientation)[:] = _floats(values, path, line_no, key)
    orientation = orientation if degrees else np.degrees(orientation)
    return order, rotation_of(orientation, axis_order), position


def _bones(lines: list[tuple[int, list[str]]], path: str, degrees: bool) -> dict[str, Bone]:
    bones: dict[str, Bone] = {}
    entry: dict | None = None
    for line_no, words in lines:
        key = words[0].lower()
        if key == "begin":
            entry = {"line": line_no}
            continue
        if entry is None:
            raise AsfAmcError(f"{path}, line {line_no}: {words[0][:40]!r} outside a bone's begin ... end in :bonedata.")
        if key == "end":
            for needed in ("name", "direction", "length"):
                if needed not in entry:
                    raise AsfAmcError(f"{path}, line {entry['line']}: a bone without '{needed}'.")
            if entry["name"] in bones or entry["name"] == "root":
                raise AsfAmcError(f"{path}, line {entry['line']}: the bone name {entry['name']!r} is used twice "
                                  f"(first at line {bones[entry['name']].line if entry['name'] in bones else 'root'}).")
            direction = np.asarray(entry["direction"])
            norm = np.linalg.norm(direction)
            bones[entry["name"]] = Bone(entry["name"], direction / norm if norm > 0 else direction, entry["length"],
                                        entry.get("axis", np.eye(3)), entry.get("dof", []), entry["line"])
            entry = None
        elif key == "name" and len(words) == 2:
            entry["name"] = words[1]
        elif key == "direction":
            if len(words) != 4:
                raise AsfAmcError(f"{path}, line {line_no}: 'direction' needs three numbers.")
            entry["direction"] = _floats(words[1:], path, line_no, "direction")
        elif key == "length":
            if len(words) != 2:
                raise AsfAmcError(f"{path}, line {line_no}: 'length' needs one number.")
            entry["length"] = _floats(words[1:], path, line_no, "length")[0]
        elif key == "axis":
            entry["axis"] = _axis(words[1:], path, line_no, degrees)
        elif key == "dof":
            dof = [w.lower() for w in words[1:]]
            unknown = [w for w in dof if w not in ROTATIONS + TRANSLATIONS]
            if unknown or len(set(dof)) != len(dof):
                raise AsfAmcError(f"{path}, line {line_no}: 'dof {' '.join(words[1:])}': each of rx ry rz tx ty tz l "
                                  f"may be listed once.")
            entry["dof"] = dof
    if entry is not None:
        raise AsfAmcError(f"{path}, line {entry['line']}: a bone's 'begin' without its 'end'.")
    return bones


def _hierarchy(lines: list[tuple[int, list[str]]], bones: dict[str, Bone], path: str) -> dict[str, str]:
    parents: dict[str, str] = {}
    for line_no, words in lines:
        if words[0].lower() in ("begin", "end"):
            continue
        for name in words:
            if name != "root" and name not in bones:
                raise AsfAmcError(f"{path}, line {line_no}: :hierarchy names {name!r}, which :bonedata lacks.")
        for child in words[1:]:
            if child in parents or child == "root":
                raise AsfAmcError(f"{path}, line {line_no}: {child!r} has two parents in :hierarchy.")
            parents[child] = words[0]
    orphans = [name for name in bones if name not in parents]
    if orphans:
        raise AsfAmcError(f"{path}: the bones {', '.join(orphans[:8])} hang from nothing in :hierarchy.")
    for name in bones:  # every chain must reach the root
        seen, at = set(), name
        while at != "root":
            if at in seen:
                raise AsfAmcError(f"{path}: :hierarchy has a loop through {at!r}.")
            seen.add(at)
            at = parents[at]
    return parents


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Parse an .asf skeleton; any problem raises AsfAmcError naming the file and line."""
    path = str(path)
    sections = _sections(_read_lines(path), path)
    for needed in ("root", "bonedata", "hierarchy"):
        if needed not in sections:
            raise AsfAmcError(f"{path}: no :{needed} section; an .asf file needs :root, :bonedata and :hierarchy.")
    length, degrees = _units(sections.get("units", []), path)
    order, root_axis, position = _root(sections["root"], path, degrees)
    bones = _bones(sections["bonedata"], path, degrees)
    return AsfSkeleton(path, length, degrees, order, root_axis, position, bones,
                       _hierarchy(sections["hierarchy"], bones, path))


def find_skeleton(amc: str | os.PathLike, asf: str | os.PathLike | None = None) -> Path:
    """The .asf of an .amc: asf if given, else the .asf beside it whose name the clip's name starts with
    (HDM_bd.asf for HDM_bd_*.amc; the longest such), else the only .asf in its folder."""
    if asf is not None:
        return Path(asf)
    amc = Path(amc)
    beside = sorted(p for p in amc.parent.iterdir() if p.suffix.lower() == ".asf")
    named = [p for p in beside if amc.stem.lower().startswith(p.stem.lower())]
    if named:
        return max(named, key=lambda p: len(p.stem))
    if len(beside) == 1:
        return beside[0]
    found = f"the {len(beside)} there ({', '.join(p.name for p in beside[:5])}) do not match its name" if beside else "there is none"
    raise AsfAmcError(f"{amc}: no skeleton for this motion: an .amc needs the .asf beside it whose name it starts "
                      f"with, or the only .asf in its folder, and {found}. Name it with --asf FILE.")


# ---------------------------------------------------------------------------
# The motion (.amc)
# ---------------------------------------------------------------------------
def _motion_values(lines: list[str], skeleton: AsfSkeleton, path: str) -> tuple[dict[str, np.ndarray], bool]:
    """Per bone with dof (and the root), (F, len(dof)) values; and whether the angles are degrees."""
    degrees = skeleton.degrees
    counts = {"root": len(skeleton.root_order), **{n: len(b.dof) for n, b in skeleton.bones.items() if b.dof}}
    rows: dict[str, list[list[str]]] = {name: [] for name in counts}
    where: dict[str, list[int]] = {name: [] for name in counts}
    frame, first = None, None
    for line_no, line in enumerate(lines, start=1):
        words = line.split()
        if not words:
            continue
        if words[0].startswith(":"):
            if frame is not None:
                raise AsfAmcError(f"{path}, line {line_no}: {words[0]} after the first frame.")
            if words[0].upper() in (":DEGREES", ":RADIANS"):
                degrees = words[0].upper() == ":DEGREES"
            continue
        if len(words) == 1 and words[0].isdigit():
            number = int(words[0])
            if frame is not None:
                missing = [name for name in counts if len(rows[name]) < frame - first + 1]
                if missing:
                    raise AsfAmcError(f"{path}, line {line_no}: frame {frame} lacks a line for "
                                      f"{', '.join(missing[:6])}; every bone with dof needs one in every frame.")
                if number != frame + 1:
                    raise AsfAmcError(f"{path}, line {line_no}: frame {number} follows frame {frame}; frame numbers "
                                      f"must count up by one (the file is out of order or has a gap).")
            else:
                first = number
            frame = number
            continue
        if frame is None:
            raise AsfAmcError(f"{path}, line {line_no}: {words[0][:40]!r} before the first frame number.")
        name = words[0]
        if name not in counts:
            known = "a bone without dof, which has no line" if name in skeleton.bones else "not in it"
            raise AsfAmcError(f"{path}, line {line_no}: bone {name!r} of the motion is {known} in the skeleton "
                              f"{skeleton.path}; is this the .asf of this clip (--asf FILE)?")
        if len(words) - 1 != counts[name]:
            raise AsfAmcError(f"{path}, line {line_no}: {name} has {len(words) - 1} values, but the skeleton "
                              f"{skeleton.path} gives it {counts[name]} dof.")
        if len(rows[name]) != frame - first:
            raise AsfAmcError(f"{path}, line {line_no}: a second line for {name} in frame {frame}.")
        rows[name].append(words[1:])
        where[name].append(line_no)
    if frame is None:
        raise AsfAmcError(f"{path}: no frames; an .amc file holds a frame number, then a line per bone, for every frame.")
    missing = [name for name in counts if len(rows[name]) < frame - first + 1]
    if missing:
        raise AsfAmcError(f"{path}: the last frame, {frame}, lacks a line for {', '.join(missing[:6])}; "
                          f"the file is truncated.")
    values = {}
    for name, words in rows.items():
        try:
            values[name] = np.array(words, dtype=np.float64).reshape(len(words), counts[name])
        except ValueError:
            for line_no, w in zip(where[name], words):
                _floats(w, path, line_no, name)
            raise
        if not np.isfinite(values[name]).all():
            bad = int(np.argmax(~np.isfinite(values[name]).all(axis=1)))
            raise AsfAmcError(f"{path}, line {where[name][bad]}: a value is NaN or infinite.")
    return values, degrees


def _turn(values: np.ndarray, dof: list[str], degrees: bool) -> np.ndarray:
    """(F, 3, 3) M of a bone's rotation dof (the others ignored)."""
    columns = [k for k, d in enumerate(dof) if d in ROTATIONS]
    angles = values[:, columns] if degrees else np.degrees(values[:, columns])
    return rotation_of(angles, [dof[k] for k in columns])


def _stretch(values: np.ndarray, bone: Bone) -> np.ndarray | None:
    """(F, 3) change of a bone's vector by its translation dof, in the global rest frame; None without any."""
    if not any(d in TRANSLATIONS for d in bone.dof):
        return None
    shift = np.zeros((len(values), 3))
    for k, d in enumerate(bone.dof):
        if d == "l":
            shift += values[:, k, None] * bone.direction
        elif d in TRANSLATIONS:
            shift += values[:, k, None] * bone.axis[:, AXES[d[1].upper()]]
    return shift


def _regular_motion_values(text: str, skeleton: AsfSkeleton) -> tuple[dict[str, np.ndarray], bool] | None:
    """_motion_values() for the usual file, vectorised: after the header, every frame lists the same bones in
    the same order, the frame numbers count up by one and no comment follows. One split() of the motion,
    whose tokens repeat with the frame's width, and strided slices for each column. None for any other file
    (the careful parser then reads it, and names the line of any problem)."""
    start, header = 0, []
    while start < len(text):  # the header: comments and :keywords, up to the first frame number
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        line = text[start:end].split("#", 1)[0].strip()
        if line and not line.startswith(":"):
            break
        header.append(line.upper())
        start = end
    body = text[start:]
    if "#" in body:
        return None
    degrees = ":DEGREES" in header or (skeleton.degrees and ":RADIANS" not in header)
    counts = {"root": len(skeleton.root_order), **{n: len(b.dof) for n, b in skeleton.bones.items() if b.dof}}
    tokens = body.split()
    layout, i = [], 1  # (bone, column of its first value) in one frame
    while tokens and i < len(tokens) and not tokens[i].isdigit():
        if tokens[i] not in counts or any(tokens[i] == name for name, _ in layout):
            return None
        layout.append((tokens[i], i + 1))
        i += 1 + counts[tokens[i]]
    width, frames = i, len(tokens) // max(i, 1)
    if not tokens or len(layout) != len(counts) or len(tokens) % width:
        return None
    for name, column in layout:
        if tokens[column - 1::width] != [name] * frames:
            return None
    # Every token but the bone names, as one float array of a row per frame: float() on each string (its
    # semantics: a malformed number raises) is a tenth of the time numpy's string conversion takes.
    numeric = np.ones(width, dtype=bool)
    numeric[[column - 1 for _, column in layout]] = False
    try:
        table = np.fromiter(map(float, itertools.compress(tokens, itertools.cycle(numeric))), dtype=np.float64,
                            count=frames * int(numeric.sum())).reshape(frames, -1)
    except ValueError:
        return None
    numbers = table[:, 0]
    position = np.cumsum(numeric) - 1  # each token's column in the table
    values = {name: table[:, position[column]:position[column] + counts[name]] for name, column in layout}
    if (not (np.diff(numbers) == 1).all() or not (numbers == np.round(numbers)).all()
            or not all(np.isfinite(v).all() for v in values.values())):
        return None
    return values, degrees


def read_amc(path: str | os.PathLike, skeleton: AsfSkeleton, fps: float = DEFAULT_FPS) -> Clip:
    """A motion read against its skeleton, as a bvh.Clip (file units) at fps; AsfAmcError names the file and line."""
    path = str(path)
    if not fps > 0:
        raise AsfAmcError(f"{path}: the frame rate must be positive, not {fps}.")
    text = _read_text(path)
    values, degrees = _regular_motion_values(text, skeleton) or _motion_values(_lines(text), skeleton, path)
    frames = len(values["root"])
    children: dict[str, list[str]] = {}
    for child, parent in skeleton.parents.items():
        children.setdefault(parent, []).append(child)

    names, parents, offsets, channels, columns, rotations = [], [], [], [], [], []

    def add(name: str, parent: int, offset: np.ndarray, stretch: np.ndarray | None, turn: np.ndarray | None) -> int:
        names.append(name)
        parents.append(parent)
        offsets.append(offset)
        joint_channels = []
        if stretch is not None:  # the parent bone's translation dof: this joint's offset per frame
            joint_channels += ["Xposition", "Yposition", "Zposition"]
            columns.append(offset + stretch)
        if turn is not None:
            joint_channels += ["Zrotation", "Yrotation", "Xrotation"]
            columns.append(euler_angles(turn, (2, 1, 0)))
        rotations.append(np.broadcast_to(np.eye(3), (frames, 3, 3)) if turn is None else turn)
        channels.append(joint_channels)
        return len(names) - 1

    root_values = values["root"]
    c = skeleton.root_axis
    root_turn = c @ _turn(root_values, skeleton.root_order, degrees) @ c.T
    translation = np.broadcast_to(skeleton.root_position, (frames, 3)).copy()
    for k, d in enumerate(skeleton.root_order):
        if d in ("tx", "ty", "tz"):
            translation[:, AXES[d[1].upper()]] = root_values[:, k]
    root = add("root", -1, np.zeros(3), translation, root_turn)

    def visit(name: str, parent: int, offset: np.ndarray, stretch: np.ndarray | None) -> None:
        bone = skeleton.bones[name]
        local = (bone.axis @ _turn(values[name], bone.dof, degrees) @ bone.axis.T if bone.dof
                 else np.broadcast_to(np.eye(3), (frames, 3, 3)))
        joint = add(name, parent, offset, stretch, local)
        vector = bone.direction * bone.length
        own_stretch = _stretch(values[name], bone) if bone.dof else None
        for child in children.get(name, []):
            visit(child, joint, vector, own_stretch)
        if not children.get(name):
            add(name + END_SITE_SUFFIX, joint, vector, own_stretch, None)

    for child in children.get("root", []):
        visit(child, root, np.zeros(3), None)
    skeleton_out = Skeleton(names, parents, np.array(offsets, dtype=np.float64), channels)
    return Clip(path, skeleton_out, np.concatenate(columns, axis=1), 1.0 / fps, np.stack(rotations, axis=1))
