"""A speaker that plays nothing and keeps nothing: the sink when there is no sound card.

Why not ``WavSink(None)``: that one keeps every reply's audio in memory (tests read it back
with ``audio()``); a session without a sound card runs for hours, so its sink must count
what it was given and let the samples go. Timing is not simulated: ``play`` returns at once,
as a file sink does (``clocked.py`` paces output like a device when that matters).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE


class NullSink:
    """``AudioSink`` that discards audio; counts samples (at 16 kHz) and ``stop()`` calls.

    After ``stop()`` (barge-in) a ``play`` already waiting to run is dropped, like a device
    flushing its queue; the next ``play`` after that is accepted again.
    """

    def __init__(self, name: str = "none") -> None:
        self.name = name
        self.samples_played = 0
        """Samples handed to ``play``, counted at 16 kHz (the engine's rate)."""
        self.stops = 0
        self.closed = False
        self._generation = 0

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        generation = self._generation
        await asyncio.sleep(0)
        if generation != self._generation or self.closed:
            return                       # stopped while this block waited: dropped
        n = len(samples)
        self.samples_played += n if sample_rate == SAMPLE_RATE \
            else int(round(n * SAMPLE_RATE / sample_rate))

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self.stops += 1
        self._generation += 1

    async def close(self) -> None:
        self.closed = True


def create(config: Any = None, **_kw: Any) -> NullSink:
    """Registry entry (``audio``/``null``)."""
    return NullSink()
