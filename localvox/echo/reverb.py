"""The echo beyond the linear filter's reach: a reverberant tail, modelled per frequency bin.

Why: the adaptive filter is 128 ms long, but a living room rings for 300 ms and more. What
arrives after the filter's last partition is not cancelled at all, and it is still speech
(smeared): quiet, but enough for a level-independent VAD. The suppressor's other estimates
are all tied to the *current* echo estimate, so when the assistant pauses between words
they fall away while the room is still ringing with the last ones.

The model is WebRTC AEC3's: the room's impulse response goes on past the filter the way its
last part decays. Per 16 ms block, with ``H_last`` the filter's last partition and ``X_last``
the reference block about to leave the filter,

    tail(k) <- d * tail(k) + d * |H_last(k)|^2 * |X_last(k)|^2

where ``d`` is the per-block energy decay read from the filter's own partitions (a
straight-line fit of their log energy over the second half of the filter). In a dry room
the last partition is tiny and so is the tail; in a reverberant one it carries the decay.
``d`` is capped, because a filter still converging has a flat, noisy tail whose "decay"
would be near 1.
"""

from __future__ import annotations

import numpy as np


class ReverbTail:
    def __init__(self, max_decay: float = 0.8, scale: float = 0.5) -> None:
        self.max_decay = max_decay
        self.scale = scale
        """The filter's 2N-point spectra carry twice the power of the suppressor's
        sqrt-Hann-windowed frames (sum of the Hann window over 2N samples is N)."""
        self.power: np.ndarray | None = None
        self.decay = 0.0

    def update(self, partitions: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """One block: ``partitions`` (P, K) filter spectra, ``reference`` (P, K) newest first.

        Returns the tail's power per bin, on the suppressor's scale.
        """
        energy = (partitions.real**2 + partitions.imag**2).sum(axis=1) + 1e-20
        P = len(energy)
        self.decay = self.estimate_decay(energy)
        last = partitions[-1].real ** 2 + partitions[-1].imag ** 2
        leaving = reference[P - 1].real ** 2 + reference[P - 1].imag ** 2
        if self.power is None:
            self.power = np.zeros_like(last)
        self.power = self.decay * (self.power + last * leaving)
        return self.scale * self.power

    def estimate_decay(self, energy: np.ndarray) -> float:
        """Per-block energy decay of the filter's second half, capped at ``max_decay``."""
        P = len(energy)
        half = P // 2
        if P - half < 2:
            return 0.0
        slope = np.polyfit(np.arange(half, P), np.log(energy[half:]), 1)[0]
        return float(np.clip(np.exp(slope), 0.0, self.max_decay))

    def reset(self) -> None:
        self.power = None
        self.decay = 0.0
