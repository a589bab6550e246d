"""Keeping a file source on the engine's clock in fast mode.

``EngineClock`` (in ``trace``) maps stream time to clock time and skips the time a file
read faster than real time would have waited for audio. Fast mode (``run --input``, the
default) must still give the *same turns* as real time (``--realtime``, a live microphone):
a follow-up said 4.5 s after the reply ended must land inside the 5 s follow-up window in
both, and a user talking over the reply must barge in in both. So fast mode only skips
time in which nothing computes:

* pace: while anything computes -- a partial or final decode, a speculative reply, a reply
  thinking or synthesising -- audio is admitted no faster than real time, so compute time
  is never skipped (it is what the trace measures);
* play on the clock: a file sink takes a reply in no time, so the reply "plays" on the
  engine clock instead (``SpeechOut`` waits until the clock passes its last sample); the
  frames admitted meanwhile are the ones a microphone would have delivered during
  playback, and go through the barge-in watch as they would live;
* when the input has ended, ``EngineClock.skip_waits`` lets a reply still "playing" end at
  once (nobody is left to hear the time pass).

Before this (issue #15) fast mode held the input from the endpoint until the reply had
played and then re-based the clock, as if the user had waited for the answer: the
recording's time under the reply was counted twice, and a follow-up 4.75 s after the reply
fell outside the window in fast mode only.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from localvox.audio.base import AudioFrame
from localvox.pipeline.trace import EngineClock

__all__ = ["EngineClock", "InputPacer"]


class InputPacer:
    """Fast-mode admission of frames; the engine supplies what counts as computing.

    Args:
        clock: the engine's clock.
        computing: True while work runs that real time would have overlapped with audio.
        stopping: True once the engine is stopping.
    """

    def __init__(self, clock: EngineClock, *, computing: Callable[[], bool],
                 stopping: Callable[[], bool]) -> None:
        self.clock = clock
        self._computing = computing
        self._stopping = stopping

    async def admit(self, frame: AudioFrame) -> None:
        """Return when ``frame`` may be processed: at once unless something computes, then
        not before the clock reaches the frame's arrival time (as a microphone delivers)."""
        await asyncio.sleep(0)            # let replies and decodes run between frames
        if self.clock.base is None:
            return
        arrival = self.clock.base + frame.end_s
        while self._computing() and self.clock.now() < arrival and not self._stopping():
            await asyncio.sleep(min(0.005, arrival - self.clock.now()))
