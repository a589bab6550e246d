"""``StreamResampler``: a stream resampled block by block, without seams.

Why: the microphone opens at the device's own rate when 16 kHz is not supported, and
VAD and ASR must still see 16 kHz mono; resampling each block alone leaves a click at
every block edge. Pure numpy (``audio.base.resample``), testable without a sound card.
"""

from __future__ import annotations

from math import ceil, gcd

import numpy as np

from localvox.audio.base import SAMPLE_RATE, resample


class StreamResampler:
    """Resample a stream block by block with the same result as resampling it whole.

    ``resample_poly`` on each block alone leaves seams (its filter sees zeros past each
    edge). Instead the input is buffered from a position aligned to the decimation
    factor, the whole buffer is filtered, and only outputs whose filter support lies fully
    inside it are emitted; the rest wait for the next block. Latency: ``margin`` input
    samples (under 2 ms for common rates).
    """

    def __init__(self, src_rate: int, dst_rate: int = SAMPLE_RATE) -> None:
        self.src, self.dst = src_rate, dst_rate
        g = gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        # resample_poly's default filter spans 10 * max(up, down) taps each side at the
        # upsampled rate; in input samples that is 10 * max(up, down) / up. Round up to a
        # multiple of ``down`` so buffer starts stay aligned.
        half = ceil(10 * max(self.up, self.down) / self.up) + 1
        self.margin = ceil(half / self.down) * self.down
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0   # absolute input index of _buf[0] (a multiple of down)
        self._out_pos = 0     # absolute output index of the next sample to emit

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if self.src == self.dst:
            return x
        self._buf = np.concatenate([self._buf, x]) if self._buf.size else x.copy()
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        """Emit what is left at the end of the stream."""
        if self.src == self.dst:
            return np.zeros(0, dtype=np.float32)
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> np.ndarray:
        if self._buf.size == 0:
            return np.zeros(0, dtype=np.float32)
        y = resample(self._buf, self.src, self.dst)
        base = self._buf_start * self.up // self.down
        end_in = self._buf_start + self._buf.size
        if final:
            valid_end = (end_in * self.up + self.down - 1) // self.down
        else:
            valid_end = (end_in - self.margin) * self.up // self.down
        valid_end = min(valid_end, base + y.size)
        if valid_end <= self._out_pos:
            return np.zeros(0, dtype=np.float32)
        out = y[self._out_pos - base:valid_end - base].astype(np.float32, copy=False)
        self._out_pos = valid_end
        keep_from = (self._out_pos * self.down // self.up - self.margin) // self.down * self.down
        keep_from = max(self._buf_start, keep_from)
        self._buf = self._buf[keep_from - self._buf_start:]
        self._buf_start = keep_from
        return out
