"""Atomic file writing: every output appears whole or not at all, under one temporary-name scheme.

A file is written to a hidden temporary name beside it, `.STEM.PID.tmpSUFFIX` (same folder, so the
rename is atomic; same suffix, so OpenCV, matplotlib and numpy pick the format from it), and renamed
when complete. A failure, an exception or Ctrl-C removes the temporary file; a kill -9 cannot, so
remove_stale_temporaries() deletes the temporaries of processes that no longer exist.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)\.tmp(?P<suffix>(\.[^.]*)?)$")


def temporary_path(path: str | os.PathLike) -> Path:
    """The hidden temporary name beside path, with the same suffix."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextmanager
def atomic_outputs() -> Iterator[Callable[[str | os.PathLike], Path]]:
    """Yield stage(path) -> a temporary path to write; every staged file becomes its path when the
    block succeeds, and none does otherwise (all temporary files vanish)."""
    staged: list[tuple[Path, Path]] = []

    def stage(path: str | os.PathLike) -> Path:
        staged.append((temporary_path(path), Path(path)))
        return staged[-1][0]

    try:
        yield stage
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes path when the block succeeds and vanishes otherwise."""
    with atomic_outputs() as stage:
        yield stage(path)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    """obj as indented JSON."""
    write_text(path, json.dumps(obj, indent=2))


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Arrays as an uncompressed .npz (numpy.savez)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def output_problem(path: str | os.PathLike, force: bool = True) -> str | None:
    """Why path cannot be written as an output file, before any work is done (None: it can).

    A folder in its place, an existing file without force, a missing folder, or a folder that this
    process may not write into.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{path} is a folder; give a file name in it"
    if path.exists() and not force:
        return f"{path} already exists; pass --force to overwrite it or choose another name"
    if not folder.is_dir():
        return f"the folder of {path} does not exist; create it first"
    return folder_problem(folder)


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why no file can be written into an existing folder (None: it can)."""
    try:  # os.access says yes to root everywhere, even on /sys: only a real file tells
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as err:
        return f"cannot write into {folder} ({err.strerror})"
    return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries in folder that processes now gone left behind (a kill -9); returns them."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and int(match["pid"]) != os.getpid() and not _process_alive(int(match["pid"])) and entry.is_file():
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed
