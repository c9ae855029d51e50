"""pipeline.py: order, count, failures and live dropping of the threaded frame pipeline."""
import random
import threading
import time

import pytest

import pipeline


def jittery(fn):
    """fn after a random pause of up to 3 ms: stages that finish in a different order than they start."""
    rng = random.Random(0)

    def stage(item):
        time.sleep(rng.random() * 0.003)
        return fn(item)
    return stage


def test_every_frame_arrives_once_and_in_order():
    received = []
    stages = [("a", jittery(lambda x: x * 10)), ("b", jittery(lambda x: x + 1)), ("c", jittery(lambda x: x))]
    stats = pipeline.run_pipeline(range(200), stages, ("sink", jittery(received.append)))
    assert received == [10 * i + 1 for i in range(200)]
    assert stats.frames == 200 and stats.dropped == 0
    assert set(stats.busy_seconds) == {"read", "a", "b", "c", "sink"}


def fail_at(index: int, error: BaseException):
    def stage(item):
        if item == index:
            raise error
        return item
    return stage


@pytest.mark.parametrize("failing", ["read", "first", "second", "sink"])
def test_a_failing_stage_ends_the_run_with_its_error_after_the_frames_before_it(failing):
    threads_before = threading.active_count()
    error = OSError("disk full")

    def frames():
        for i in range(100):
            if failing == "read" and i == 7:
                raise error
            yield i

    received = []

    def sink(item):
        if failing == "sink" and item == 7:
            raise error
        received.append(item)

    stages = [("first", fail_at(7, error) if failing == "first" else jittery(lambda x: x)),
              ("second", fail_at(7, error) if failing == "second" else jittery(lambda x: x))]
    with pytest.raises(OSError, match="disk full") as raised:
        pipeline.run_pipeline(frames(), stages, ("sink", sink))
    assert raised.value is error
    assert received == list(range(7))
    assert threading.active_count() == threads_before  # every thread of the run has ended


def test_a_sink_that_returns_false_stops_the_run_and_its_threads():
    threads_before = threading.active_count()
    read = []

    def frames():
        for i in range(10_000):
            read.append(i)
            yield i

    stats = pipeline.run_pipeline(frames(), [("stage", lambda x: x)], ("sink", lambda x: x < 4))
    assert stats.frames == 5
    assert len(read) < 20  # the reader stopped too, a few queued frames past the sink's last
    assert threading.active_count() == threads_before


def test_a_live_source_drops_stale_frames_instead_of_queueing_them():
    received, busy = [], threading.Event()

    def camera():
        """A first frame, then, once the stage is busy with it, frames far faster than the stage takes them."""
        yield 0
        busy.wait(timeout=10)
        yield from range(1, 2000)

    def slow_first_stage(item):
        busy.set()
        time.sleep(0.02)
        return item

    stats = pipeline.run_pipeline(camera(), [("slow", slow_first_stage)], ("sink", received.append), keep_latest=True)
    assert 0 < len(received) < 200 and stats.dropped == 2000 - len(received)
    assert received == sorted(received)  # newer frames only: what arrives is still in order


def test_a_stage_that_holds_frames_back_passes_them_on_in_order_and_the_rest_at_the_end():
    held = []

    def delay_by_three(item):
        held.append(item)
        return pipeline.Emit([held.pop(0)] if len(held) > 3 else [])

    def release() -> pipeline.Emit:
        rest = list(held)
        held.clear()
        return pipeline.Emit(rest)

    got = []
    stats = pipeline.run_pipeline(range(20), [("delay", delay_by_three, release), ("double", lambda x: 2 * x)],
                                  ("sink", got.append))
    assert got == [2 * k for k in range(20)] and stats.frames == 20


def test_a_failure_while_releasing_the_held_frames_ends_the_run_with_it():
    def hold(item):
        return pipeline.Emit([])

    def fail() -> pipeline.Emit:
        raise RuntimeError("cannot release")

    with pytest.raises(RuntimeError, match="cannot release"):
        pipeline.run_pipeline(range(5), [("hold", hold, fail)], ("sink", lambda item: None))
