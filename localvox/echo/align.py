"""Where, on the reference timeline, the echo in the current microphone block comes from.

Why: the playback and capture clocks of a sound card pair are rarely the same crystal
(USB headsets, Bluetooth, docks): the echo slides against the reference by tens of
microseconds per second. A fixed alignment makes even a perfectly learned filter wrong
within a second (half a sample is 90 degrees of phase at 4 kHz), so the adaptive filter
spends its life relearning and never gets past ~10-15 dB. Following the drift instead
turns the echo path back into a fixed one the filter can learn deeply.

The alignment moves at a drift rate measured from the adaptive filter itself (how fast the
learned path slides; see :class:`PathDriftMeter`), so it never steps: every step would be
a small change of echo path to relearn. A GCC-PHAT estimate far off the alignment twice in
a row is a jump (a device re-opened, a buffer under-run).
"""

from __future__ import annotations

import numpy as np


class DriftingAlignment:
    """Reference lag, in samples (fractional), for each microphone sample index.

    The lag starts at the first confirmed GCC-PHAT delay (minus ``margin``: that many
    samples of filter sit before the direct path, so an estimate a little late still
    leaves the direct path inside the filter) and then moves at :attr:`rate`, which
    :class:`PathDriftMeter` corrects. Later GCC-PHAT estimates only detect jumps.
    """

    def __init__(self, margin: int, jump: float = 12.0, max_rate: float = 1000e-6) -> None:
        self.margin = margin
        self.jump = jump
        self.max_rate = max_rate
        self.lag: float | None = None
        """Current reference lag (delay minus margin) at microphone sample :attr:`at`."""
        self.at = 0
        self.rate = 0.0
        """Drift: samples of extra delay per sample of time."""
        self._outlier: float | None = None

    @property
    def locked(self) -> bool:
        return self.lag is not None

    def lag_at(self, t: int) -> float:
        assert self.lag is not None
        return self.lag + self.rate * (t - self.at)

    def advance(self, t: int) -> None:
        """Move the alignment along the drift line to microphone sample ``t``."""
        if self.lag is not None:
            self.lag, self.at = self.lag_at(t), t

    def correct_rate(self, delta: float) -> None:
        self.rate = float(np.clip(self.rate + delta, -self.max_rate, self.max_rate))

    def measure(self, t: int, delay: float) -> float:
        """Add a GCC-PHAT delay estimate measured at ``t``; returns the jump in samples.

        Zero unless the estimate is more than ``jump`` samples off the alignment twice
        in a row (one odd window -- the user talking, a burst of noise -- moves nothing).
        """
        if self.lag is None:
            self.lag, self.at = delay - self.margin, t
            return 0.0
        off = delay - self.margin - self.lag_at(t)
        if abs(off) <= self.jump:
            self._outlier = None
            return 0.0
        if self._outlier is not None and abs(self._outlier - delay) <= 1.0:
            self._outlier = None
            self.lag = self.lag_at(t) + off
            self.at = t
            return off
        self._outlier = delay
        return 0.0

    def reset(self) -> None:
        self.lag = None
        self.rate = 0.0
        self._outlier = None


class PathDriftMeter:
    """How fast the learned echo path slides inside the adaptive filter (samples/sample).

    Why: GCC-PHAT measures the delay of the *signal*, and a small loudspeaker's group
    delay varies with frequency, so the estimate wanders by a few tenths of a sample with
    what is being said; a drift rate from it alone is coarse. The filter's own response
    does not depend on what is said: if the path moved by d samples between two looks,
    its spectrum turned by exp(-j w d). The weighted phase slope between successive
    snapshots gives d to a hundredth of a sample, and the slope of the accumulated d over
    time is the drift the reference alignment has not yet compensated.
    """

    def __init__(self, taps: int, sample_rate: int = 16000, band_hz: tuple[float, float] = (200.0, 4000.0),
                 min_span_s: float = 1.0) -> None:
        self.nfft = 1 << int(np.ceil(np.log2(2 * taps)))
        freqs = np.fft.rfftfreq(self.nfft, 1.0 / sample_rate)
        self.band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
        self.omega = 2 * np.pi * freqs[self.band] / sample_rate
        self.min_span = int(min_span_s * sample_rate)
        self._prev: np.ndarray | None = None
        self._shift = 0.0
        self._points: list[tuple[float, float]] = []

    def update(self, t: int, taps: np.ndarray) -> float | None:
        """Add a snapshot of the filter at microphone sample ``t``.

        Returns the residual drift rate once ``min_span_s`` of consistent snapshots are in,
        then starts a new measurement (the caller corrects the alignment by it).
        """
        H = np.fft.rfft(taps, self.nfft)[self.band]
        prev, self._prev = self._prev, H
        if prev is None:
            self._points = [(float(t), 0.0)]
            return None
        C = H * np.conj(prev)
        mag = np.abs(C)
        # The same path, moved (not a different one, as after a refit or a divergence)?
        if float(np.abs(C.sum())) < 0.5 * float(mag.sum()) + 1e-30:
            self._points = [(float(t), 0.0)]
            self._shift = 0.0
            return None
        w = mag * (mag > 0.01 * mag.max())
        moved = -float(np.sum(w * self.omega * np.angle(C)) / (np.sum(w * self.omega**2) + 1e-30))
        self._shift += moved
        self._points.append((float(t), self._shift))
        if self._points[-1][0] - self._points[0][0] < self.min_span or len(self._points) < 4:
            return None
        tt = np.array([p[0] for p in self._points])
        dd = np.array([p[1] for p in self._points])
        tc = tt - tt.mean()
        rate = float(tc @ (dd - dd.mean()) / (tc @ tc))
        self._points = [(float(t), self._shift)]
        return rate

    def reset(self) -> None:
        self._prev = None
        self._points = []
        self._shift = 0.0
