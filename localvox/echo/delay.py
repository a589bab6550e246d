"""Speaker-to-microphone delay estimation by GCC-PHAT, with tracking.

Why: the adaptive filter only covers ``filter_ms`` of echo path. The acoustic delay of a
laptop (device buffers + driver + distance) is 20-300 ms and drifts as the playback and
capture clocks slide, so the filter has to be placed where the echo actually is. GCC-PHAT
whitens the cross-spectrum, so the peak it finds is the direct path even for speech
(strongly coloured) and in reverberant rooms. The cross-spectrum is averaged over a few
updates so one noisy window cannot move the estimate, and a new delay is accepted only
when two consecutive estimates agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DelayEstimate:
    samples: int
    confidence: float
    """Peak of the PHAT-weighted correlation over its mean absolute value."""


def gcc_phat(mic: np.ndarray, ref: np.ndarray, max_lag: int, smooth: np.ndarray | None = None,
             decay: float = 0.0) -> tuple[DelayEstimate, np.ndarray]:
    """Estimate how many samples ``mic`` lags ``ref``, searching 0..``max_lag``.

    ``ref`` must be ``len(mic) + max_lag`` samples ending at the same instant as ``mic``.
    ``smooth`` is the running cross-spectrum from the previous call (or None); the new one
    is returned so the caller can keep averaging: S = decay * S_prev + S_now.
    """
    W = len(mic)
    L = max_lag
    nfft = 1 << int(np.ceil(np.log2(W + 2 * L + 1)))
    FM = np.fft.rfft(mic, nfft)
    FR = np.fft.rfft(ref, nfft)
    S = np.conj(FM) * FR
    if smooth is not None and smooth.shape == S.shape:
        S = decay * smooth + S
    phat = S / (np.abs(S) + 1e-12 * (np.abs(S).max() + 1e-30))
    cc = np.fft.irfft(phat, nfft)[: L + 1]  # cc[k] = sum_i mic[i] ref[i + k], lag = L - k
    k = int(np.argmax(cc))
    peak = float(cc[k])
    floor = float(np.mean(np.abs(cc))) + 1e-12
    return DelayEstimate(samples=L - k, confidence=peak / floor), S


class DelayTracker:
    """Keeps the current delay; moves it only on two agreeing, confident estimates."""

    def __init__(self, max_lag: int, min_confidence: float = 6.0, tolerance: int = 2) -> None:
        self.max_lag = max_lag
        self.min_confidence = min_confidence
        self.tolerance = tolerance
        self.current: int | None = None
        self.confidence = 0.0
        self._candidate: int | None = None
        self._smooth: np.ndarray | None = None

    def update(self, mic: np.ndarray, ref: np.ndarray) -> int | None:
        """Feed a window; returns the new delay when it changes, else None."""
        est, self._smooth = gcc_phat(mic, ref, self.max_lag, self._smooth, decay=0.6)
        if est.confidence < self.min_confidence:
            return None
        self.confidence = est.confidence
        cand = self._candidate
        self._candidate = est.samples
        if cand is None or abs(cand - est.samples) > 1:
            return None
        if self.current is not None and abs(self.current - est.samples) < self.tolerance:
            return None
        self.current = est.samples
        return est.samples

    def reset(self) -> None:
        self.current = None
        self._candidate = None
        self._smooth = None
