"""Residual echo suppression after the linear filter.

Why: a linear filter of ``filter_ms`` cannot remove the reverberant tail beyond its length,
its own misadjustment, or the loudspeaker's non-linear distortion; what is left is quiet
but still *speech*, and a level-independent VAD like Silero will call it speech. So the
residual is estimated per frequency bin and removed with a spectral gain:

    residual(k)  = leak * |Y(k)|^2, held with a decay that models the room's late reverb
    gain(k)      = max(floor, 1 - over * residual(k) / |E(k)|^2)

where Y is the filter's echo estimate and ``leak`` the filter's leakage estimate (how much
of the echo estimate is still in the error). Where the user talks, |E|^2 is far above the
residual and the gain stays near 1, so barge-in speech passes; where only echo is left,
the gain goes to the floor. The gain rises fast and falls slowly (across frames) to avoid
musical noise. Runs on a 50%-overlap sqrt-Hann STFT, so it adds one block of latency.

Comfort noise: what is taken away is replaced by noise at the room's own noise floor
(tracked per bin by minimum statistics), as WebRTC's AEC does. Without it, the
suppressed residual would stand out of digital silence; with it, the VAD and the user
hear steady room tone instead of gated speech fragments.
"""

from __future__ import annotations

import numpy as np


class ResidualSuppressor:
    def __init__(self, block: int = 256, tail_ms: float = 100.0, over: float = 2.0,
                 floor_db: float = -35.0, sample_rate: int = 16000,
                 min_leak: float = 0.03) -> None:
        self.N = block
        self.window = np.sqrt(np.hanning(2 * block + 1)[:-1])  # periodic sqrt-Hann: COLA
        self.e_buf = np.zeros(2 * block)
        self.y_buf = np.zeros(2 * block)
        self.out_tail = np.zeros(block)
        # Per-block decay of the held residual: -60 dB over tail_ms.
        blocks_per_tail = max(1.0, tail_ms / 1000.0 * sample_rate / block)
        self.decay = 10 ** (-6.0 / blocks_per_tail)
        self.over = over
        self.min_leak = min_leak
        self.floor = 10 ** (floor_db / 20.0)
        self.residual = np.zeros(block + 1)
        self.gain = np.ones(block + 1)
        self.last_gain_mean = 1.0
        self.noise = np.zeros(block + 1)
        self._noise_init = False
        self._rng = np.random.default_rng(1234)
        # Minimum tracking: follow drops at once, rise at ~+0.5 dB/s.
        self._noise_rise = 10 ** (0.05 * block / sample_rate)

    def process(self, e: np.ndarray, y: np.ndarray, leak: float, active: bool,
                learning: bool = False) -> np.ndarray:
        """``e``: linear-filter output block; ``y``: its echo estimate; returns a block.

        The returned block is delayed by ``block`` samples relative to ``e``.
        ``active`` is False when no playback is near: the gain then relaxes to 1.
        ``learning``: playback is on but the filter has not converged yet (the first second
        of the first reply): nothing can be told apart, so everything is held at the floor.
        """
        N = self.N
        self.e_buf[:N] = self.e_buf[N:]
        self.e_buf[N:] = e
        self.y_buf[:N] = self.y_buf[N:]
        self.y_buf[N:] = y
        spec = np.fft.rfft(np.stack([self.e_buf, self.y_buf]) * self.window, axis=1)
        E, Y = spec[0], spec[1]
        Pe = E.real**2 + E.imag**2 + 1e-12
        if not self._noise_init:
            self.noise = Pe.copy()
            self._noise_init = True
        else:
            self.noise = np.where(Pe < self.noise, 0.7 * self.noise + 0.3 * Pe,
                                  self.noise * self._noise_rise)
        Py = Y.real**2 + Y.imag**2
        # Residual echo: at least a few percent of the echo estimate even when the
        # filter thinks it has converged (non-linearities), held across the tail.
        lk = min(1.0, max(leak, self.min_leak))
        now = lk * Py
        self.residual = np.maximum(now, self.decay * self.residual)
        if learning:
            target = np.zeros_like(Pe)
        elif active or self.residual.max() > 1e-10:
            target = np.maximum(self.floor, 1.0 - self.over * self.residual / Pe)
        else:
            target = np.ones_like(Pe)
        # Fast attack (gain falls at once), slower release (rises over a few blocks).
        self.gain = np.where(target < self.gain, target, 0.5 * self.gain + 0.5 * target)
        self.last_gain_mean = float(np.mean(self.gain))
        out_spec = E * self.gain
        fill = self.noise * np.maximum(0.0, 1.0 - self.gain**2)
        if fill.max() > 0:
            phase = self._rng.standard_normal((2, len(fill)))
            out_spec = out_spec + np.sqrt(fill / 2) * (phase[0] + 1j * phase[1])
        frame = np.fft.irfft(out_spec, 2 * N) * self.window
        out = self.out_tail + frame[:N]
        self.out_tail = frame[N:].copy()
        return out

    def reset(self) -> None:
        self.e_buf[:] = 0
        self.y_buf[:] = 0
        self.out_tail[:] = 0
        self.residual[:] = 0
        self.gain[:] = 1
        self._noise_init = False
