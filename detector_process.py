"""infer.py's people finder (people_finder.PeopleFollower) in a process of its own, for videos and cameras.

    with DetectorProcess(fps=25.0) as detector:             # the frames of a video or a camera
        detector.submit(frame_1); detector.submit(frame_2)  # ahead, so the detector never waits (a file)
        first, second = detector.collect(), detector.collect()   # each a list of Detection, largest first
        people = detector.detect(frame)                     # one at a time (a live camera: no queue)

Why a process: MediaPipe's process() runs its graph without the GIL but takes the GIL back
about ten times per call, and each time a thread running Python beside it (lifting, drawing, JSON) can
keep it waiting up to the interpreter's switch interval. Measured on the 2-core CPU, 150 frames of
640x480: MediaPipe alone 19.9 fps; beside a thread that runs Python 30% of the time 18.1 fps, 100% of
the time 8.2 fps; beside a process that runs Python 100% of the time 19.9 fps. So infer.py's video
pipeline hands detection to a child process: frames are copied into slots of shared memory (no
pickling), the landmarks come back over a pipe, and the child runs nothing but MediaPipe.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from multiprocessing import resource_tracker
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from detector import Detection
from people_finder import PeopleFollower

# Seconds a closing detector process gets to finish its frames and exit before it is killed.
CLOSE_TIMEOUT_S = 10.0


class DetectorFailed(RuntimeError):
    """MediaPipe's process stopped or failed: the stream it served cannot go on (a new process can)."""


class DetectorProcess:
    """PeopleFollower in a child process; frames go in through shared memory, people come out in order.

    submit() is called from one thread and collect() from another (infer.py's reader and detection
    stages); at most `slots` frames may be submitted and not yet collected.
    """

    def __init__(self, fps: float, slots: int, max_people: int | None = None):
        self.slots = slots
        self._free_slots = threading.Semaphore(slots)
        self._submitted = 0
        self._memory: SharedMemory | None = None
        self._frames: np.ndarray | None = None  # (slots, height, width, 3) uint8 over the shared memory
        authkey = os.urandom(32)
        # The child's socket lives here (POSIX; Windows pipes have no file), so that closing removes it even
        # when the child could not clean up after itself.
        self._folder = tempfile.mkdtemp(prefix="infer-detector-") if os.name == "posix" else None
        command = [sys.executable, os.path.abspath(__file__), "--serve", "--fps", repr(float(fps))]
        command += ["--max-people", str(max_people)] if max_people is not None else []
        self._child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._connection: Connection | None = None
        try:
            self._child.stdin.write(f"{authkey.hex()}\n{self._folder or ''}\n")
            self._child.stdin.close()
            address = self._child.stdout.readline()  # written before the child loads MediaPipe
            self._child.stdout.close()
            if not address:
                raise DetectorFailed(f"the MediaPipe process did not start (exit status {self._child.wait()})")
            self._connection = Client(ast.literal_eval(address), authkey=authkey)
            self._receive("ready")
        except BaseException:
            self.close()
            raise

    def submit(self, frame: np.ndarray) -> None:
        """Start detecting a BGR frame; its result is the next collect() after those of earlier frames."""
        if self._frames is None:
            self._share_frames_of(frame.shape)
        elif frame.shape != self._frames.shape[1:]:
            raise ValueError(f"the frame size changed within one stream, from {self._frames.shape[1:]} "
                             f"to {frame.shape}; a video or camera must keep one size")
        if not self._free_slots.acquire(blocking=False):
            raise RuntimeError(f"more than {self.slots} frames submitted to the detector and not collected")
        slot = self._submitted % self.slots
        self._frames[slot] = frame
        self._send(("frame", slot))
        self._submitted += 1

    def collect(self) -> list[Detection]:
        """The people of the oldest frame submitted and not yet collected (waits for it), largest first."""
        _, people = self._receive("people")
        self._free_slots.release()
        return [Detection(*person) for person in people]

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Detect one frame now (nothing queued behind it)."""
        self.submit(frame)
        return self.collect()

    def close(self) -> None:
        """Let the child finish and exit (frames still in flight are dropped), then free the shared memory."""
        if self._connection is not None:
            try:
                self._connection.send(None)
            except OSError:  # the child is gone already
                pass
        try:
            self._child.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._memory is not None:
            self._frames = None  # the array must go before the buffer it views
            self._memory.close()
            self._memory.unlink()
            self._memory = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> DetectorProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _share_frames_of(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"expected a BGR frame of shape (height, width, 3), got {shape}")
        self._memory = SharedMemory(create=True, size=self.slots * int(np.prod(shape)))
        self._frames = np.ndarray((self.slots, *shape), dtype=np.uint8, buffer=self._memory.buf)
        self._send(("memory", self._memory.name, self._frames.shape))

    def _send(self, message) -> None:
        try:
            self._connection.send(message)
        except OSError as err:
            raise DetectorFailed(self._stopped_message()) from err

    def _receive(self, kind: str) -> tuple:
        try:
            message = self._connection.recv()
        except (EOFError, OSError) as err:
            raise DetectorFailed(self._stopped_message()) from err
        if message[0] == "error":
            raise DetectorFailed(f"MediaPipe Pose failed in its process: {message[1]}")
        assert message[0] == kind, f"expected {kind!r} from the detector process, got {message[0]!r}"
        return message

    def _stopped_message(self) -> str:
        try:
            status = self._child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            status = "none yet"
        return f"the MediaPipe process stopped unexpectedly (exit status {status}); its error, if any, is above"


def _attach(name: str) -> SharedMemory:
    """The parent's shared memory, which the parent alone frees."""
    memory = SharedMemory(name)
    if os.name == "posix":  # Python < 3.13 would otherwise free (unlink) it when this process exits
        resource_tracker.unregister(memory._name, "shared_memory")
    return memory


def serve(fps: float, max_people: int | None) -> None:
    """The child's side: listen, tell the parent where, then find the people of every frame it sends until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent decides
    authkey = bytes.fromhex(sys.stdin.readline().strip())
    folder = sys.stdin.readline().strip()
    with Listener(os.path.join(folder, "socket") if folder else None, authkey=authkey) as listener:
        print(repr(listener.address), flush=True)
        os.dup2(2, 1)  # the parent reads no more from this pipe: whatever else is printed goes to stderr
        connection = listener.accept()
    try:
        follower = PeopleFollower(fps, max_people)
    except Exception as err:
        connection.send(("error", f"MediaPipe Pose could not start: {type(err).__name__}: {err}"))
        return
    memory, frames = None, None
    connection.send(("ready",))
    try:
        while (message := connection.recv()) is not None:
            if message[0] == "memory":
                _, name, shape = message
                memory = _attach(name)
                frames = np.ndarray(shape, dtype=np.uint8, buffer=memory.buf)
                continue
            try:
                people = follower.follow(frames[message[1]])
            except Exception as err:
                connection.send(("error", f"{type(err).__name__}: {err}"))
                continue
            connection.send(("people", [(p.landmarks_px, p.world_mm, p.followed) for p in people]))
    except (EOFError, OSError):  # the parent went away: nothing left to do
        pass
    finally:
        follower.close()
        frames = None
        if memory is not None:
            memory.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The MediaPipe process of infer.py's video pipeline (internal).")
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--max-people", type=int)
    args = parser.parse_args()
    serve(args.fps, args.max_people)
