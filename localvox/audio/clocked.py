"""A speaker without hardware: plays at real-time rate into memory (and a WAV on close).

Why: barge-in is about *time*. A WAV sink swallows a whole reply instantly, so "stop()
cut playback" cannot be observed; a real speaker needs a sound card these machines lack.
``ClockedSink`` consumes its queue block by block on a clock (``speed`` x real time),
exactly as ``SpeakerSink``'s PortAudio callback does, so after ``stop()``
``samples_played`` stops growing and ``audio()`` holds only what was really "heard".

``PlaybackBuffer`` is the thread-safe queue both sinks pull from: the PortAudio callback
thread for the speaker, an asyncio task here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE, resample
from localvox.audio.wav import write_wav

if TYPE_CHECKING:
    from localvox.config import Config


class PlaybackBuffer:
    """FIFO of samples, pushed by the event loop and pulled in fixed blocks by the player.

    Thread-safe (a lock around a deque of arrays); ``clear()`` is what makes barge-in fast:
    the next pulled block is silence.
    """

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # samples already consumed from _chunks[0]
        self._queued = 0
        self._lock = threading.Lock()

    def push(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        with self._lock:
            self._chunks.append(samples)
            self._queued += samples.size

    def pull(self, n: int) -> np.ndarray:
        """Up to ``n`` queued samples (fewer, or none, if the queue runs short)."""
        parts: list[np.ndarray] = []
        with self._lock:
            while n > 0 and self._chunks:
                head = self._chunks[0]
                take = min(n, head.size - self._offset)
                parts.append(head[self._offset:self._offset + take])
                self._offset += take
                n -= take
                self._queued -= take
                if self._offset >= head.size:
                    self._chunks.popleft()
                    self._offset = 0
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def clear(self) -> int:
        """Drop everything queued; return how many samples were dropped."""
        with self._lock:
            dropped = self._queued
            self._chunks.clear()
            self._offset = 0
            self._queued = 0
            return dropped

    @property
    def queued(self) -> int:
        return self._queued


class ClockedSink:
    """``AudioSink`` that "plays" in real time (times ``speed``) into memory.

    Args:
        path: if given, what was actually played is written there as a WAV on ``close()``.
        speed: clock rate; 1.0 is real time, 10.0 plays ten times faster (fast tests).
        block_ms: playback block, as ``[audio] playback_block_ms`` for the speaker.

    Attributes:
        samples_played: 16 kHz samples that went "out" so far (stops growing on ``stop()``).
        samples_dropped: samples discarded by ``stop()``.
        stops: how many times ``stop()`` was called.
        first_audio_at: ``time.monotonic()`` when the first block of the current playback
            went out (None before any, or after ``stop()`` until new audio plays); the
            turn engine reads it for the "first audio sample out" latency mark.
    """

    def __init__(self, path: str | Path | None = None, *, speed: float = 1.0,
                 block_ms: int = 20) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.path = Path(path) if path else None
        self.name = f"clocked:{path}" if path else "clocked"
        self.speed = speed
        self.block = max(1, SAMPLE_RATE * block_ms // 1000)
        self.samples_played = 0
        self.samples_dropped = 0
        self.stops = 0
        self.first_audio_at: float | None = None
        self._buffer = PlaybackBuffer()
        self._played: list[np.ndarray] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        x = resample(np.asarray(samples, dtype=np.float32).reshape(-1), sample_rate, SAMPLE_RATE)
        if x.size == 0:
            return
        self._buffer.push(x)
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._clock())
        await asyncio.sleep(0)

    async def _clock(self) -> None:
        period = self.block / SAMPLE_RATE / self.speed
        while not self._closed:
            if self._buffer.queued == 0:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            t0, k = time.monotonic(), 0
            while not self._closed:
                block = self._buffer.pull(self.block)
                if block.size == 0:
                    break
                if self.first_audio_at is None:
                    self.first_audio_at = time.monotonic()
                self._played.append(block)
                self.samples_played += block.size
                k += 1
                await asyncio.sleep(max(0.0, t0 + k * period - time.monotonic()))

    async def drain(self) -> None:
        """Wait until everything queued has been played (at the clock's pace)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Drop the queue: at most the block already out finishes; nothing after it plays."""
        self.stops += 1
        self.samples_dropped += self._buffer.clear()
        self.first_audio_at = None
        if self._buffer.queued == 0:
            self._idle.set()

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    @property
    def seconds_played(self) -> float:
        return self.samples_played / SAMPLE_RATE

    def audio(self) -> np.ndarray:
        """Everything that was actually played, 16 kHz float32."""
        return np.concatenate(self._played) if self._played else np.zeros(0, np.float32)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.path is not None:
            write_wav(self.path, self.audio())


def create(config: "Config", *, path: str | Path | None = None, speed: float = 1.0,
           **kw: Any) -> ClockedSink:
    return ClockedSink(path, speed=speed, block_ms=config.audio.playback_block_ms, **kw)
