"""Residual echo suppression after the linear filter.

Why: a linear filter of ``filter_ms`` cannot remove the reverberant tail beyond its length,
its own misadjustment, or the loudspeaker's non-linear distortion; what is left is quiet
but still *speech*, and a level-independent VAD like Silero will call it speech. So the
residual is estimated per frequency bin and removed with a spectral gain:

    residual(k)  = the largest of four estimates, held with a short decay:
                   leak * |Y(k)|^2              the filter's own leakage estimate;
                   measured(k) * |Y(k)|^2       the error/echo ratio recently measured;
                   |S_ey(k)|^2 / S_yy(k)        the part of the error coherent with the echo;
                   tail(k)                      the room's reverberation past the filter's
                                                length (``echo.reverb``, from the canceller)
    gain(k)      = max(floor, 1 - over * residual(k) / |E(k)|^2)

where Y is the filter's echo estimate and E its error. Where the user talks, |E|^2 is far
above the residual and the gain stays near 1, so barge-in speech passes; where only echo
is left, the gain goes to the floor. The gain rises fast and falls slowly (across frames) to avoid
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
        self._ratios = np.zeros((int(round(1.0 * sample_rate / block)), block + 1))
        self._ratio_at = 0
        self.coherence_smoothing = 0.85
        self.S_ey = np.zeros(block + 1, dtype=np.complex128)
        self.S_yy = np.zeros(block + 1)
        self._rng = np.random.default_rng(1234)
        self._sub_blocks = max(1, int(0.25 * sample_rate / block))
        self._minima = np.zeros((6, block + 1))
        self._smoothed = np.zeros(block + 1)
        self._blocks = 0

    def process(self, e: np.ndarray, y: np.ndarray, leak: float, active: bool,
                learning: bool = False, measure: bool | None = None,
                tail: np.ndarray | None = None) -> np.ndarray:
        """``e``: linear-filter output block; ``y``: its echo estimate; returns a block.

        The returned block is delayed by ``block`` samples relative to ``e``.
        ``active`` is False when no playback is near: the gain then relaxes to 1.
        ``learning``: playback is on but the filter has not converged yet (the first second
        of the first reply): nothing can be told apart, so everything is held at the floor.
        ``measure``: record this block's error/echo ratio (default: active and not
        learning). The canceller turns it on as soon as the filter has adapted, so that
        the ratios are already measured when the output is let through.
        ``tail``: the reverberation past the linear filter, per bin (``echo.reverb``).
        """
        N = self.N
        self.e_buf[:N] = self.e_buf[N:]
        self.e_buf[N:] = e
        self.y_buf[:N] = self.y_buf[N:]
        self.y_buf[N:] = y
        spec = np.fft.rfft(np.stack([self.e_buf, self.y_buf]) * self.window, axis=1)
        E, Y = spec[0], spec[1]
        Pe = E.real**2 + E.imag**2 + 1e-12
        self._track_noise(Pe, active)
        Py = Y.real**2 + Y.imag**2
        # Residual echo: at least a few percent of the echo estimate even when the
        # filter thinks it has converged (non-linearities), held across the tail.
        lk = min(1.0, max(leak, self.min_leak))
        if measure is None:
            measure = active and not learning
        measured = self._measured_leak(Pe, Py, measure) * Py
        now = np.maximum(np.maximum(lk * Py, measured), self._coherent_part(E, Y, Py))
        if tail is not None:
            now = np.maximum(now, tail)
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

    def _track_noise(self, Pe: np.ndarray, playing: bool) -> None:
        """Room tone per bin by minimum statistics (Martin 2001), for the comfort noise.

        The minimum of the smoothed error spectrum over the last ~1.5 s, kept as six
        sub-window minima, times a bias factor (a minimum sits below the mean). Why not a
        running minimum: that settles 10-20 dB under the real noise, so the comfort noise
        is too quiet, and when suppression lets go the room tone "switches on" -- an onset
        the VAD takes for speech. While playback is on the estimate may only fall: the
        floor of the error is then residual echo as much as room tone, and comfort noise
        shaped like it also reads as speech.
        """
        if not self._noise_init:
            self._smoothed = Pe.copy()
            self._minima[:] = Pe
            self._noise_init = True
        self._smoothed = 0.8 * self._smoothed + 0.2 * Pe
        self._minima[-1] = np.minimum(self._minima[-1], self._smoothed)
        self._blocks += 1
        if not playing and self._blocks % self._sub_blocks == 0:
            self._minima = np.roll(self._minima, -1, axis=0)
            self._minima[-1] = self._smoothed
        self.noise = self._minima.min(axis=0)

    def _coherent_part(self, E: np.ndarray, Y: np.ndarray, Py: np.ndarray) -> np.ndarray:
        """Per bin, the power of the error that the echo estimate predicts: |S_ey|^2 / S_yy.

        Why: whatever the filter got wrong is still a filtered copy of the playback, so it
        is coherent with the echo estimate, while the user's voice is not. This catches
        residual echo however the filter erred (drift, a bin it has not learned yet), and
        leaves the user's speech alone because it is uncorrelated with the playback.
        """
        a = self.coherence_smoothing
        self.S_ey = a * self.S_ey + (1 - a) * E * np.conj(Y)
        self.S_yy = a * self.S_yy + (1 - a) * Py
        return (self.S_ey.real**2 + self.S_ey.imag**2) / (self.S_yy + 1e-12)

    def _measured_leak(self, Pe: np.ndarray, Py: np.ndarray, record: bool) -> np.ndarray:
        """Per bin, what share of the echo estimate the error has recently carried.

        Why per bin and measured: the filter's leakage is one number dominated by the loud
        low frequencies, while the error of a filter that is still settling (or chasing
        clock drift, or facing a distorting speaker) is largest at high frequencies. The
        25th percentile over the last 2 s of error/echo-estimate ratios is what echo alone
        leaves: the user talking raises the ratio only in the blocks they talk in, and at
        the moment they start -- when barge-in is decided -- the recent blocks are echo.
        """
        if record and float(Py.sum()) > 1e-4 * float(Pe.sum()):
            self._ratios[self._ratio_at % len(self._ratios)] = np.minimum(100.0, Pe / (Py + 1e-12))
            self._ratio_at += 1
        n = min(self._ratio_at, len(self._ratios))
        if n < 8:
            return np.zeros_like(Pe)
        hist = self._ratios[:n]
        k = n // 2
        return np.partition(hist, k, axis=0)[k]

    def reset(self) -> None:
        self._ratio_at = 0
        self.S_ey[:] = 0
        self.S_yy[:] = 0
        self.e_buf[:] = 0
        self.y_buf[:] = 0
        self.out_tail[:] = 0
        self.residual[:] = 0
        self.gain[:] = 1
        self._noise_init = False
