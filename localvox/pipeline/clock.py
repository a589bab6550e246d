"""Keeping a file source on the engine's clock in fast mode.

``EngineClock`` (in ``trace``) maps stream time to clock time. A file read as fast as
possible needs two more rules so the trace still measures what a user would feel:

* hold: from the endpoint until the reply has played, stop reading input, then re-base the
  clock so the next audio "arrives now" -- as if the user waited for the answer;
* pace: while an ASR decode or a speculative reply computes, admit audio no faster than
  real time, so the clock never skips time that compute used.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from localvox.audio.base import AudioFrame
from localvox.pipeline.trace import EngineClock

__all__ = ["EngineClock", "InputPacer"]


class InputPacer:
    """Fast-mode admission of frames; the engine supplies what counts as busy.

    Args:
        clock: the engine's clock.
        pending: the tasks answering a turn (``[]`` if busy with nothing to wait on), or
            ``None`` when no turn is being answered.
        computing: True while background compute (a decode, a speculation) runs.
        stopping: True once the engine is stopping.
    """

    def __init__(self, clock: EngineClock, *, pending: Callable[[], list[Any] | None],
                 computing: Callable[[], bool], stopping: Callable[[], bool]) -> None:
        self.clock = clock
        self._pending = pending
        self._computing = computing
        self._stopping = stopping

    async def admit(self, frame: AudioFrame) -> None:
        """Return when ``frame`` may be processed."""
        if await self._hold():
            self.clock.rebase(frame.start_s)
        await self._pace(frame)

    async def _hold(self) -> bool:
        """Wait while a turn is being answered; True if it waited."""
        waited = False
        while not self._stopping():
            tasks = self._pending()
            if tasks is None:
                break
            waited = True
            if tasks:
                await asyncio.wait(tasks, timeout=0.05)
            else:
                await asyncio.sleep(0.01)
        return waited

    async def _pace(self, frame: AudioFrame) -> None:
        if self.clock.base is None:
            return
        arrival = self.clock.base + frame.end_s
        while self._computing() and self.clock.now() < arrival and not self._stopping():
            await asyncio.sleep(min(0.005, arrival - self.clock.now()))
