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
    fine: float = 0.0
    """The delay to a fraction of a sample (the peak of the band-limited correlation).

    Clock drift moves the echo by well under a sample per second; following it needs
    this precision, the integer peak alone would move in steps the filter has to relearn.
    """


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
    fine = L - _refine_peak(phat, nfft, k)
    return DelayEstimate(samples=L - k, confidence=peak / floor, fine=fine), S


def _refine_peak(phat: np.ndarray, nfft: int, k: int) -> float:
    """Where the correlation ``irfft(phat)`` peaks near integer lag ``k``, to ~0.01 sample.

    Evaluates the correlation's Fourier series itself (exact band-limited interpolation,
    no parabola bias) on a coarse then a fine grid around the integer peak.
    """
    bins = np.arange(len(phat))
    weight = np.full(len(phat), 2.0)
    weight[0] = 1.0
    if nfft % 2 == 0:
        weight[-1] = 1.0
    centre, half, steps = float(k), 1.0, 21
    for _ in range(2):
        u = centre + np.linspace(-half, half, steps)
        basis = np.exp(2j * np.pi * np.outer(u, bins) / nfft)
        values = (basis * (weight * phat)[None, :]).real.sum(axis=1)
        centre = float(u[int(np.argmax(values))])
        half = 2 * half / (steps - 1)
    return centre


class DelayTracker:
    """Keeps the current delay; moves it only on two agreeing, confident estimates.

    ``last`` is the latest confident estimate (with its fractional part), for drift tracking.
    """

    def __init__(self, max_lag: int, min_confidence: float = 6.0, tolerance: int = 2) -> None:
        self.max_lag = max_lag
        self.min_confidence = min_confidence
        self.tolerance = tolerance
        self.current: int | None = None
        self.confidence = 0.0
        self._candidate: int | None = None
        self._smooth: np.ndarray | None = None
        self.last: DelayEstimate | None = None

    def update(self, mic: np.ndarray, ref: np.ndarray) -> int | None:
        """Feed a window; returns the new delay when it changes, else None."""
        est, self._smooth = gcc_phat(mic, ref, self.max_lag, self._smooth, decay=0.6)
        if est.confidence < self.min_confidence:
            self.last = None
            return None
        self.last = est
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
        self.last = None
