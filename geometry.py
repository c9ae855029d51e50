"""Vectors and rotations: unit vectors, rotations about an axis, shortest swings, best-fit rotations, Euler angles.

Every rotation here is a (..., 3, 3) matrix acting on column vectors; angles are degrees.
"""
from __future__ import annotations

import numpy as np

X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)


def unit(v: np.ndarray) -> np.ndarray:
    """v / |v| along the last axis (a zero vector stays zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def perpendicular_part(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Unit v made perpendicular to the unit `axis` (both (..., 3))."""
    return unit(v - (v * axis).sum(-1, keepdims=True) * axis)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between the vectors a and b along the last axis."""
    return np.degrees(np.arccos(np.clip(np.sum(unit(a) * unit(b), axis=-1), -1.0, 1.0)))


def cross_matrix(v: np.ndarray) -> np.ndarray:
    """(..., 3, 3) matrices K with K @ w = v x w, for vectors v (..., 3)."""
    out = np.zeros(np.shape(v) + (3,))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    return out - np.swapaxes(out, -1, -2)


def rotation_about(axis: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by `degrees` (...) about the unit vectors `axis` (..., 3) (Rodrigues)."""
    rad = np.radians(np.asarray(degrees, dtype=np.float64))[..., None, None]
    cross = cross_matrix(axis)
    return np.eye(3) + np.sin(rad) * cross + (1 - np.cos(rad)) * cross @ cross


def axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by `degrees` about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    rad = np.radians(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(rad), np.sin(rad)
    out = np.zeros(np.shape(rad) + (3, 3))
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., i, j], out[..., j, i], out[..., j, j] = c, -s, s, c
    return out


def turn(frame: np.ndarray, axis: int, degrees: np.ndarray) -> np.ndarray:
    """frame @ axis_rotation(axis, degrees) for (..., 3, 3) frames and (...) angles, mixing two columns
    (no matrix product)."""
    rad = np.radians(degrees)[..., None]
    c, s = np.cos(rad), np.sin(rad)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    out = frame.copy()
    out[..., :, i] = frame[..., :, i] * c + frame[..., :, j] * s
    out[..., :, j] = frame[..., :, j] * c - frame[..., :, i] * s
    return out


def swing(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 3, 3) shortest rotations turning the unit `rest` (3,) onto the directions `target` (F, 3)."""
    target = unit(target)
    axis = np.cross(rest, target)
    cos = target @ rest
    cross = cross_matrix(axis)
    opposite = cos < -1 + 1e-9
    out = np.eye(3) + cross + cross @ cross / np.maximum(1 + cos, 1e-9)[:, None, None]
    if opposite.any():  # a half turn about any axis perpendicular to rest
        normal = unit(np.cross(rest, X_AXIS if abs(rest[0]) < 0.9 else Y_AXIS))
        out[opposite] = 2 * np.outer(normal, normal) - np.eye(3)
    return out


def best_rotation(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations best turning the (K, 3) rest offsets onto (F, K, 3) targets (Kabsch)."""
    u, _, vt = np.linalg.svd(np.einsum("ki,fkj->fij", rest, target))
    flip = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    u[:, :, -1] *= flip[:, None]
    return np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)


def euler_angles(rotation: np.ndarray, order: tuple[int, int, int]) -> np.ndarray:
    """(..., 3) degrees a, b, c with rotation = R_i(a) R_j(b) R_k(c) for axes (i, j, k), |b| <= 90."""
    i, j, k = order
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # even (cyclic) or odd order
    r = rotation
    b = np.arcsin(np.clip(s * r[..., i, k], -1.0, 1.0))
    a = np.arctan2(-s * r[..., j, k], r[..., k, k])
    c = np.arctan2(-s * r[..., i, j], r[..., i, i])
    locked = np.cos(b) < 1e-9  # gimbal lock: only a + c (or a - c) is defined; put it all in a
    a = np.where(locked, np.arctan2(s * r[..., k, j], r[..., j, j]), a)
    c = np.where(locked, 0.0, c)
    return np.degrees(np.stack([a, b, c], axis=-1))


def unwrap_euler(angles: np.ndarray) -> np.ndarray:
    """(F, ..., 3) Euler angles made continuous over frames: of the two equivalent triples
    (a, b, c) and (a + 180, 180 - b, c + 180), each shifted by whole turns, take the one
    nearest the previous frame's."""
    out = angles.copy()
    other = angles + np.array([180.0, 0.0, 180.0])
    other[..., 1] = 180.0 - angles[..., 1]
    for f in range(1, len(angles)):
        candidates = []
        for triple in (angles[f], other[f]):
            triple = triple + 360.0 * np.round((out[f - 1] - triple) / 360.0)
            candidates.append((triple, np.abs(triple - out[f - 1]).sum(-1, keepdims=True)))
        (first, d1), (second, d2) = candidates
        out[f] = np.where(d2 < d1, second, first)
    return out
