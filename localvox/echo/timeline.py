"""The canceller's sample timelines: audio indexed by microphone-clock sample number.

Why apart from the canceller: the reference the speaker played and the recent microphone
history are both kept on the microphone's clock, written wherever playback was scheduled
(zeros where nothing played), cut back at a barge-in, and read between samples -- with a
Hann-windowed sinc -- once the clock drift is known. That bookkeeping is plain array
indexing, separate from the adaptive filtering in ``canceller``.
"""

from __future__ import annotations

import numpy as np

from localvox.audio.base import SAMPLE_RATE


class Timeline:
    """Reference samples indexed by microphone-clock sample number; zeros where nothing played."""

    def __init__(self) -> None:
        self.base = 0
        self.buf = np.zeros(0, dtype=np.float32)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def write(self, start: int, samples: np.ndarray) -> None:
        if start < self.base:
            cut = self.base - start
            if cut >= len(samples):
                return
            samples, start = samples[cut:], self.base
        stop = start + len(samples)
        if stop > self.end:
            self.buf = np.concatenate([self.buf, np.zeros(stop - self.end, np.float32)])
        i = start - self.base
        self.buf[i : i + len(samples)] = samples

    def read(self, start: int, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float64)
        lo, hi = max(start, self.base), min(start + n, self.end)
        if hi > lo:
            out[lo - start : hi - start] = self.buf[lo - self.base : hi - self.base]
        return out

    def read_between(self, start: float, n: int, step: float = 1.0, half: int = 16) -> np.ndarray:
        """``n`` samples at positions ``start + i * step``, interpolated between samples.

        Hann-windowed sinc (``2 * half`` taps): a clock mismatch is a resampling, and the
        filter can only cancel what is reproduced to a small fraction of a sample.
        """
        if step == 1.0 and float(start).is_integer():
            return self.read(int(start), n)
        pos = start + step * np.arange(n)
        first = int(np.floor(pos[0])) - half + 1
        raw = self.read(first, int(np.floor(pos[-1])) + half + 1 - first)
        base = np.floor(pos).astype(np.int64) - first
        frac = pos - np.floor(pos)
        k = np.arange(-half + 1, half + 1)
        arg = k[None, :] - frac[:, None]
        w = np.sinc(arg) * (0.5 + 0.5 * np.cos(np.pi * arg / half))
        return np.einsum("ij,ij->i", raw[base[:, None] + k[None, :]], w)

    def truncate(self, at: int) -> None:
        if at < self.end:
            self.buf = self.buf[: max(0, at - self.base)]

    def trim(self, before: int) -> None:
        if before > self.base + 4 * SAMPLE_RATE:  # trim in big steps, not every block
            cut = min(before - self.base, len(self.buf))
            self.buf = self.buf[cut:]
            self.base += cut
