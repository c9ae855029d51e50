"""Frames through stages on their own threads, joined by small bounded queues, in order.

    stats = run_pipeline(frames, [("detection", detect), ("lifting", lift)], ("writing", write))

`frames` is iterated on a reader thread, each stage runs on a thread of its own, and the sink runs on
the calling thread (where a GUI window must live). One thread per stage keeps the frame order with
no bookkeeping. Threads suit stages whose native calls release the GIL (decoding, TorchScript,
encoding, OpenCV drawing); a stage that needs the GIL often while others run Python is better off in
a process of its own, as infer.py's MediaPipe stage is (detector.py: the measurements). benchmark.py
--video measures how well the stages overlap.

A file must never lose a frame, so a full queue makes the stage before it wait. A live camera must
not fall behind, so with keep_latest=True the reader replaces a frame the first stage has not taken
yet: the frame shown is at most one first-stage call plus one frame old.

A stage may hold frames back (the temporal lifter waits for the frames after one): it returns
Emit(items), the results ready now, none or several, and its stage entry names a third function,
called once at the end of the frames, whose Emit gives the results it still holds.

A stage that raises stops the reader at once; the frames before the failing one still flow to the
sink, then run_pipeline raises that same exception in the caller. A sink returning False (a window
closed, --max-frames reached) or an exception in the caller abandons the frames in flight.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

QUEUE_SIZE = 2  # frames waiting between two stages: enough to absorb jitter, little memory and latency
# How many results of one stage can be alive at once: the one it is making, those queued behind it, and
# the one the next stage is working on. A stage that reuses output buffers needs this many.
RESULTS_ALIVE_PER_STAGE = QUEUE_SIZE + 2
POLL_SECONDS = 0.05  # how often a blocked thread checks whether the run was abandoned
_END = object()


@dataclass
class _Failure:
    """An exception raised in a stage, travelling down the queues behind the frames before it."""

    error: BaseException


@dataclass
class PipelineStats:
    """Frames that reached the sink, frames a live reader dropped, busy seconds per stage, wall seconds."""

    frames: int = 0
    dropped: int = 0
    busy_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def summary(self) -> str:
        fps = self.frames / self.wall_seconds if self.wall_seconds > 0 else float("nan")
        busy = ", ".join(f"{name} {1000 * s / max(self.frames, 1):.1f}" for name, s in self.busy_seconds.items())
        dropped = f", {self.dropped} stale frames dropped" if self.dropped else ""
        return (f"{self.frames} frames in {self.wall_seconds:.1f} s = {fps:.1f} fps{dropped} "
                f"(stages overlap; busy ms per frame: {busy})")


@dataclass
class Emit:
    """A stage's results for one call: none, one or several items, each passed on to the next stage."""

    items: list


class _Abandoned(Exception):
    """The run was abandoned while this thread waited on a queue."""


def _put(box: queue.Queue, item, abandoned: threading.Event) -> None:
    while True:
        try:
            box.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            if abandoned.is_set():
                raise _Abandoned from None


def _get(box: queue.Queue, abandoned: threading.Event):
    while True:
        try:
            return box.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if abandoned.is_set():
                raise _Abandoned from None


def _replace_latest(box: queue.Queue, item) -> bool:
    """Put item in a one-slot queue, dropping the frame waiting there; whether one was dropped."""
    dropped = False
    while True:
        try:
            box.put_nowait(item)
            return dropped
        except queue.Full:
            try:
                box.get_nowait()
                dropped = True
            except queue.Empty:  # the consumer took it meanwhile
                pass


class _Run:
    """The threads and queues of one run_pipeline call."""

    def __init__(self, stages: int, timed_names: list[str], keep_latest: bool):
        self.keep_latest = keep_latest
        # boxes[i] feeds stage i; boxes[-1] feeds the sink.
        self.boxes = [queue.Queue(maxsize=1 if keep_latest and i == 0 else QUEUE_SIZE) for i in range(stages + 1)]
        self.busy = {name: 0.0 for name in timed_names}
        self.stop_reading = threading.Event()  # a stage failed or the sink is done: read no more
        self.abandoned = threading.Event()  # the caller left: every thread returns at once
        self.dropped = 0

    def timed(self, name: str, fn: Callable, item):
        start = time.perf_counter()
        try:
            return fn(item)
        finally:
            self.busy[name] += time.perf_counter() - start

    def read(self, frames: Iterable, name: str) -> None:
        box = self.boxes[0]
        iterator = iter(frames)
        try:
            while not self.stop_reading.is_set():
                try:
                    item = self.timed(name, next, iterator)
                except StopIteration:
                    break
                if self.keep_latest:
                    self.dropped += _replace_latest(box, item)
                else:
                    _put(box, item, self.abandoned)
            self._send_last(box, _END)
        except _Abandoned:
            pass
        except BaseException as err:
            self.stop_reading.set()
            self._send_last(box, _Failure(err))

    def work(self, index: int, name: str, fn: Callable, flush: Callable[[], Emit] | None = None) -> None:
        inbox, outbox = self.boxes[index], self.boxes[index + 1]
        try:
            while True:
                item = _get(inbox, self.abandoned)
                if item is _END and flush is not None:
                    try:
                        held = self.timed(name, lambda _: flush(), None)
                    except BaseException as err:
                        held, item = Emit([]), _Failure(err)
                    self._pass_on(outbox, held)
                if item is _END or isinstance(item, _Failure):
                    _put(outbox, item, self.abandoned)
                    return
                try:
                    result = self.timed(name, fn, item)
                except BaseException as err:
                    self.stop_reading.set()
                    _put(outbox, _Failure(err), self.abandoned)
                    return
                self._pass_on(outbox, result)
        except _Abandoned:
            pass

    def _pass_on(self, outbox: queue.Queue, result) -> None:
        for item in (result.items if isinstance(result, Emit) else [result]):
            _put(outbox, item, self.abandoned)

    def _send_last(self, box: queue.Queue, item) -> None:
        """The end or a failure must arrive even on a one-slot live queue, where it replaces a stale frame."""
        try:
            if self.keep_latest:
                self.dropped += _replace_latest(box, item)
            else:
                _put(box, item, self.abandoned)
        except _Abandoned:
            pass


def run_pipeline(frames: Iterable, stages: Sequence[tuple], sink: tuple[str, Callable[[object], bool]],
                 keep_latest: bool = False, reader_name: str = "read",
                 stats: PipelineStats | None = None) -> PipelineStats:
    """Feed every item of frames through the stages in order, then to the sink on this thread.

    stages: (name, function) pairs, each called with the previous one's result on its own thread, or
    (name, function, flush) for a stage that holds results back (see Emit).
    sink: (name, function) called with each final result in order; returning False ends the run.
    keep_latest: for live sources, drop a frame the first stage has not taken when a newer one arrives.
    Raises the first exception of any stage, after the frames before it reached the sink.
    stats, when given, is filled in (also when the run ends with an exception) and returned.
    """
    stage_names = [stage[0] for stage in stages]
    run = _Run(len(stages), [reader_name, *stage_names, sink[0]], keep_latest)
    threads = [threading.Thread(target=run.read, args=(frames, reader_name), name=reader_name, daemon=True)]
    threads += [threading.Thread(target=run.work, args=(i, *stage), name=stage[0], daemon=True)
                for i, stage in enumerate(stages)]
    stats = PipelineStats() if stats is None else stats
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        while True:
            item = _get(run.boxes[-1], run.abandoned)
            if item is _END:
                break
            if isinstance(item, _Failure):
                raise item.error
            stats.frames += 1
            if run.timed(sink[0], sink[1], item) is False:
                break
    finally:
        run.stop_reading.set()
        run.abandoned.set()
        for thread in threads:
            thread.join()
        stats.wall_seconds = time.perf_counter() - start
        stats.dropped = run.dropped
        stats.busy_seconds = dict(run.busy)
    return stats
