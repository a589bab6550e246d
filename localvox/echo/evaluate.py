"""Scoring an echo canceller on simulated scenes (shared by ``localvox bench echo`` and tests).

Kept apart from the canceller so the DSP module stays small and the benchmark and the
tests measure with exactly the same code: same frame size as the engine (32 ms), same VAD
(streaming Silero), same barge-in rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from localvox.audio.room_sim import SR, Scene
from localvox.echo.bargein import BargeIn, barge_ins
from localvox.echo.canceller import EchoCanceller

FRAME = 512


@dataclass
class Cleaned:
    out: np.ndarray
    """Canceller output, same length and clock as the mic (content lags by ``latency``)."""
    latency: int
    seconds: float
    """Wall time spent in ``clean``."""
    delay_ms: float | None
    full_duplex: np.ndarray | None = None
    """Per 32 ms frame, the canceller's ``full_duplex`` after cleaning it (which barge-in
    threshold the engine would apply to that frame)."""


def run_canceller(scene: Scene, canceller: EchoCanceller | None = None,
                  reference_chunks: list[tuple[float, np.ndarray]] | None = None) -> Cleaned:
    """Feed the scene's mic through a canceller in 32 ms frames, as the engine does.

    The reference is pushed up front at its play time (``reference_chunks`` overrides:
    ``(play_time_s, samples)`` pairs pushed when the mic clock reaches them).
    """
    ec = canceller or EchoCanceller()
    chunks = reference_chunks if reference_chunks is not None else [(0.0, scene.playback)]
    pending = sorted(chunks, key=lambda c: c[0])
    outs = []
    duplex = []
    spent = 0.0
    mic = scene.mic
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        while pending and pending[0][0] * SR <= i:
            at, x = pending.pop(0)
            ec.push_reference(x, SR, play_time_s=at)
        t = time.perf_counter()
        outs.append(ec.clean(mic[i : i + FRAME]))
        spent += time.perf_counter() - t
        duplex.append(ec.full_duplex)
    out = np.concatenate(outs) if outs else np.zeros(0, np.float32)
    return Cleaned(out=out, latency=ec.latency_samples, seconds=spent,
                   delay_ms=ec.state().delay_ms, full_duplex=np.asarray(duplex, bool))


def erle_db(mic: np.ndarray, out: np.ndarray, echo: np.ndarray, latency: int,
            start_s: float = 0.0, end_s: float | None = None, block: int = 512) -> float:
    """Echo return loss enhancement over blocks where the echo is active (no user speech).

    10 log10(sum mic^2 / sum out^2) over 32 ms blocks whose echo energy is within 30 dB of
    the loudest; ``out`` is realigned by the canceller's latency first.
    """
    o = out[latency:]
    n = min(len(o), len(mic), len(echo))
    lo = int(start_s * SR)
    hi = n if end_s is None else min(n, int(end_s * SR))
    nb = (hi - lo) // block
    if nb <= 0:
        return float("nan")
    sl = slice(lo, lo + nb * block)
    e = np.mean(echo[sl].astype(np.float64).reshape(nb, block) ** 2, axis=1)
    m = np.sum(mic[sl].astype(np.float64).reshape(nb, block) ** 2, axis=1)
    c = np.sum(o[sl].astype(np.float64).reshape(nb, block) ** 2, axis=1)
    act = e > e.max() * 1e-3
    if not act.any():
        return float("nan")
    return float(10 * np.log10((m[act].sum() + 1e-12) / (c[act].sum() + 1e-12)))


def vad_probs(vad, x: np.ndarray) -> np.ndarray:
    """Per-32 ms-frame speech probabilities from a fresh stream of a streaming VAD."""
    vad.reset()
    return np.asarray(vad.probabilities(x), dtype=np.float64)


def speech_onset(speech: np.ndarray, start_s: float) -> float:
    """Where an utterance really starts: first 10 ms whose RMS is >10% of the loudest."""
    hop = SR // 100
    n = len(speech) // hop
    r = np.sqrt(np.mean(speech[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    first = int(np.argmax(r > 0.1 * r.max())) if n else 0
    return start_s + first * hop / SR


@dataclass
class BargeInOutcome:
    onset_s: float
    fired: BargeIn | None
    false_before: int
    """Barge-ins that fired before the user started (would have cut the reply wrongly)."""

    @property
    def delay_ms(self) -> float | None:
        return None if self.fired is None else (self.fired.at_s - self.onset_s) * 1000


def score_barge_in(probs: np.ndarray, onset_s: float, end_s: float, threshold: float,
                   min_ms: float, *, half_duplex_threshold: float | None = None,
                   full_duplex: np.ndarray | None = None) -> BargeInOutcome:
    fires = barge_ins(probs, FRAME / SR, threshold, min_ms,
                      half_duplex_threshold=half_duplex_threshold, full_duplex=full_duplex)
    before = [f for f in fires if f.at_s < onset_s]
    during = [f for f in fires if onset_s <= f.at_s <= end_s + 0.3]
    return BargeInOutcome(onset_s=onset_s, fired=during[0] if during else None,
                          false_before=len(before))
