"""The audio contract every stage shares.

Inside localvox all audio is 16 kHz mono float32 in [-1, 1]. Sources produce
``AudioFrame``s of a fixed size; sinks accept arbitrary-length PCM at their own rate and
can be stopped quickly (barge-in). Devices and files adapt to this at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol, runtime_checkable

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioFrame:
    """A block of 16 kHz mono float32 samples and where it sits in the stream."""

    samples: np.ndarray
    start_s: float
    """Position of the first sample, in seconds of audio since the source started."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def rms(self) -> float:
        if len(self.samples) == 0:
            return 0.0
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64))))


@runtime_checkable
class AudioSource(Protocol):
    """Produces frames until the input ends (a file) or ``close()`` is called (a microphone)."""

    name: str

    def frames(self) -> AsyncIterator[AudioFrame]: ...

    async def close(self) -> None: ...


@runtime_checkable
class AudioSink(Protocol):
    """Plays or stores audio. ``stop()`` drops whatever is queued and returns quickly."""

    name: str

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Queue audio; returns once it has been handed to the output (not when heard)."""

    async def drain(self) -> None:
        """Wait until everything queued has been played."""

    async def stop(self) -> None:
        """Drop queued audio and stop output as soon as possible (barge-in)."""

    async def close(self) -> None: ...


def to_int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def from_int16(pcm: np.ndarray | bytes) -> np.ndarray:
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        pcm = np.frombuffer(pcm, dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling (polyphase via FFT-free linear filter when scipy is absent)."""
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    try:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(src_rate, dst_rate)
        return resample_poly(samples, dst_rate // g, src_rate // g).astype(np.float32)
    except ImportError:
        n_out = int(round(len(samples) * dst_rate / src_rate))
        if dst_rate < src_rate:
            # Crude anti-alias: moving average over the decimation ratio.
            k = max(1, int(round(src_rate / dst_rate)))
            samples = np.convolve(samples, np.ones(k) / k, mode="same")
        x_old = np.linspace(0.0, 1.0, num=len(samples), endpoint=False)
        x_new = np.linspace(0.0, 1.0, num=n_out, endpoint=False)
        return np.interp(x_new, x_old, samples).astype(np.float32)
