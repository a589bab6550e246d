"""The barge-in rule, as the turn engine applies it, for benchmarks and tests.

The rule itself is :class:`localvox.pipeline.bargein.BargeInRule` (the engine's listener
runs it frame by frame); this applies it to a whole recording's VAD probabilities, so the
echo benchmark scores the canceller with exactly the decision the engine makes, without
running the whole engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from localvox.pipeline.bargein import BargeInRule


@dataclass(frozen=True)
class BargeIn:
    at_s: float
    """When the rule fired (end of the frame that completed the run)."""
    onset_s: float
    """Start of the first frame of the run."""


def barge_ins(probs: np.ndarray, frame_s: float, threshold: float = 0.85,
              min_ms: float = 160.0, start_s: float = 0.0, *,
              half_duplex_threshold: float | None = None,
              full_duplex: np.ndarray | None = None) -> list[BargeIn]:
    """Every firing of the rule over per-frame VAD probabilities (the run restarts after one).

    With ``full_duplex`` (per frame, from ``run_canceller``), frames where the canceller
    did not claim full duplex use ``half_duplex_threshold`` instead, and a change of
    threshold restarts the run -- as the engine's listener does.
    """
    rule = BargeInRule(threshold, min_ms)
    out: list[BargeIn] = []
    for i, p in enumerate(probs):
        if full_duplex is not None and half_duplex_threshold is not None:
            wanted = threshold if i >= len(full_duplex) or full_duplex[i] \
                else half_duplex_threshold
            if rule.threshold != wanted:
                rule = BargeInRule(wanted, min_ms)
        onset = rule.feed(float(p), start_s + i * frame_s, frame_s)
        if onset is not None:
            out.append(BargeIn(at_s=start_s + (i + 1) * frame_s, onset_s=onset))
    return out
