"""An asyncio loop on virtual time: engine tests without wall-clock sleeps or tolerances.

When no callback is ready, the loop does not sleep until its next timer: it moves its
clock there at once. ``asyncio.sleep`` (a paced WAV source, a paced sink, a fake LLM's
think time) therefore takes no wall time, and timings come out exact whatever the load on
the machine -- the engine's ``EngineClock`` is given ``loop.time`` as its monotonic.

Limits: work done in other threads is not waited for by virtual time (the fakes here do
not use threads); real file descriptors are still polled, without blocking.

    @virtual_time
    async def test_x(): ...        # a plain (sync) test to pytest; runs on a VirtualTimeLoop
"""

from __future__ import annotations

import asyncio
import functools
import selectors
from typing import Any, Awaitable, Callable


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: "VirtualTimeLoop") -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:             # nothing scheduled: only another thread can help
            return super().select(None)
        self._loop.virtual_now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``time()`` is virtual and jumps to the next timer whenever the loop would wait."""

    def __init__(self) -> None:
        self.virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.virtual_now


def run_virtual(main: Awaitable[Any]) -> Any:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def virtual_time(test: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an ``async def`` test on a ``VirtualTimeLoop`` (the test becomes sync)."""
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run_virtual(test(*args, **kwargs))

    return wrapper


class TimelineSource:
    """A microphone stand-in on the running loop's clock: each 32 ms frame is delivered at
    the loop time its last sample would arrive (virtual under ``VirtualTimeLoop``)."""

    name = "timeline"

    def __init__(self, samples: Any, frame: int = 512, realtime: bool = True) -> None:
        self.samples = samples
        self.frame = frame
        self.realtime = realtime
        self.closed = False

    async def frames(self) -> Any:
        from localvox.audio.base import SAMPLE_RATE, AudioFrame

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for start in range(0, len(self.samples), self.frame):
            if self.closed:
                return
            end = min(start + self.frame, len(self.samples))
            if self.realtime:
                await asyncio.sleep(max(0.0, t0 + end / SAMPLE_RATE - loop.time()))
            else:
                await asyncio.sleep(0)
            yield AudioFrame(self.samples[start:end], start / SAMPLE_RATE)

    async def close(self) -> None:
        self.closed = True
