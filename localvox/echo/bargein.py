"""The barge-in rule, as the turn engine applies it, for benchmarks and tests.

Rule (``localvox.pipeline.engine.TurnEngine._watch_barge_in``): a barge-in fires when the
VAD probability is >= ``threshold`` on consecutive frames totalling >= ``min_ms``; the
onset is the first frame of that run. Defaults come from ``[pipeline] barge_in_threshold``
and ``barge_in_min_ms``. Kept here as a pure function so the echo benchmark scores the
canceller with exactly the decision the engine makes, without running the whole engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BargeIn:
    at_s: float
    """When the rule fired (end of the frame that completed the run)."""
    onset_s: float
    """Start of the first frame of the run."""


def barge_ins(probs: np.ndarray, frame_s: float, threshold: float = 0.85,
              min_ms: float = 160.0, start_s: float = 0.0) -> list[BargeIn]:
    """Every firing of the rule over per-frame VAD probabilities (the run restarts after one)."""
    out: list[BargeIn] = []
    run = 0
    for i, p in enumerate(probs):
        if p >= threshold:
            run += 1
            if run * frame_s * 1000.0 >= min_ms - 1e-9:
                onset = start_s + (i - run + 1) * frame_s
                out.append(BargeIn(at_s=start_s + (i + 1) * frame_s, onset_s=onset))
                run = 0
        else:
            run = 0
    return out
