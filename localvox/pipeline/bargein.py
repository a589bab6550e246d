"""The barge-in rule: when does speech over the assistant count as the user interrupting?

One implementation, used by the engine's listener and by ``localvox bench echo``, so the
benchmark measures exactly the decision the engine makes.

Rule: a run starts on a frame whose VAD probability is >= ``threshold`` and continues
while frames stay >= ``threshold - hysteresis``; it fires once the run lasts ``min_ms``.
The onset is the first frame of the run. Why hysteresis: speech has short dips (a stop
consonant, the gap between "what" and "time"), and with the assistant talking on top a
single frame can dip just under the threshold; a plain run-length rule then starts over
and the user waits another 160 ms. Silero's own segmenter uses the same 0.15 margin.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BargeInRule:
    threshold: float = 0.5
    min_ms: float = 160.0
    hysteresis: float = 0.15

    def __post_init__(self) -> None:
        self._onset: float | None = None
        self._run_s = 0.0

    def feed(self, prob: float, start_s: float, duration_s: float) -> float | None:
        """One frame's speech probability; returns the run's onset when the rule fires."""
        if self._onset is None:
            if prob < self.threshold:
                return None
            self._onset, self._run_s = start_s, 0.0
        elif prob < self.threshold - self.hysteresis:
            self.reset()
            return None
        self._run_s += duration_s
        if self._run_s * 1000.0 < self.min_ms - 1e-9:
            return None
        onset = self._onset
        self.reset()
        return onset

    def reset(self) -> None:
        self._onset = None
        self._run_s = 0.0
