"""One-shot least-squares estimate of the echo path, to start the adaptive filter warm.

Why: an NLMS-type filter needs 2-4 s of speech to converge on a laptop echo path, and
until it has, the canceller cannot tell the user from its own voice (the first words of
the first reply stay half duplex). But the canceller already holds the answer's raw
material: the last second of microphone signal and exactly what was played. Solving the
Wiener-Hopf equations on that window (autocorrelation method, Levinson recursion, O(L^2))
gives in one step the filter the NLMS would drift towards, typically 15-25 dB of echo
reduction after the first second of playback. The adaptive filter then takes over from
there and tracks changes.

The estimate is only a candidate: the caller compares its error with the current filter's
on the same window and keeps the better one, so a window with the user talking (which
biases the solution) cannot make things worse.
"""

from __future__ import annotations

import numpy as np


def least_squares_path(x: np.ndarray, d: np.ndarray, taps: int,
                       regularisation: float = 1e-3) -> np.ndarray | None:
    """The ``taps``-long impulse response h minimising ``sum (d[n] - sum_j h[j] x[n-j])^2``.

    ``x`` is the reference, aligned so that lag 0 is the filter's first tap, and must hold
    ``taps - 1`` samples of history before the ``len(d)`` samples that line up with ``d``.
    Returns None when the reference carries too little energy to estimate anything.
    """
    from scipy.linalg import solve_toeplitz

    n = len(d)
    if len(x) != n + taps - 1:
        raise ValueError("x must be len(d) + taps - 1 samples long")
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    cur = x[taps - 1 :]
    energy = float(cur @ cur)
    if energy < 1e-6 * n:
        return None
    nfft = 1 << int(np.ceil(np.log2(n + 2 * taps)))
    X = np.fft.rfft(x, nfft)
    # Autocorrelation of the reference (Toeplitz, biased estimate: always positive definite).
    Cur = np.fft.rfft(cur, nfft)
    acf = np.fft.irfft(Cur * np.conj(Cur), nfft)[:taps]
    acf[0] = acf[0] * (1.0 + regularisation) + 1e-9
    # Cross-correlation r[j] = sum_n d[n] x[n - j], with x[n - j] = x_buf[n + taps - 1 - j].
    D = np.fft.rfft(d, nfft)
    cc = np.fft.irfft(np.conj(D) * X, nfft)  # cc[m] = sum_n d[n] x_buf[n + m]
    r = cc[taps - 1 :: -1][:taps]  # r[j] = cc[taps - 1 - j]
    try:
        return np.asarray(solve_toeplitz(acf, r), dtype=np.float64)
    except (np.linalg.LinAlgError, ValueError):
        return None


def residual_energy(x: np.ndarray, d: np.ndarray, h: np.ndarray) -> float:
    """Energy of ``d`` minus ``h`` applied to ``x`` (same layout as :func:`least_squares_path`)."""
    from scipy.signal import fftconvolve

    y = fftconvolve(np.asarray(x, dtype=np.float64), h)[len(h) - 1 : len(h) - 1 + len(d)]
    e = np.asarray(d, dtype=np.float64) - y
    return float(e @ e)
