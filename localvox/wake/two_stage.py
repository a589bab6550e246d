"""Two-stage wake word: openWakeWord proposes at a low threshold, a verifier confirms.

Why: one threshold on openWakeWord cannot serve real voices (alexa on real people, ``localvox
bench wake``: 0.5 misses 3.8% with 0.63 false accepts per hour; 0.40 misses 3.5%, 0.02 misses
0.6% at 17 per hour). Run it low, so it misses almost nothing, and let a second stage that
understands speech (``WhisperVerifier``) reject what is not the phrase: 0.9% missed, 0 false
accepts in 1.58 h. The verifier runs only when stage one fires -- 54 times in those 1.58 h,
never on room tone (stage one's quiet gate still skips that) -- so idle CPU is stage one's
alone (2.2% of a core, ``localvox bench system``).

Timing: a candidate is checked on the ``window_s`` of audio ending where stage one fired
(the phrase plus what came before it). Stage one at a low threshold can fire while the
phrase is still being said; if the check then rejects, stage one may propose again
``recheck_s`` later with more of the phrase, up to ``max_checks`` times per episode.
A candidate stage one scores at or above ``confident`` is taken without the check: Whisper
is the weaker judge there (synthetic hey_jarvis in babble noise: three voices stage one
scored 0.98-1.00 were heard as other words; real negative speech never scored above 0.27).
Accepted, the detection carries stage one's stream time, so the engine's pre-roll still
holds the phrase and what follows it ("Alexa, what time is it" in one breath); the check
only delays the return of ``process`` by its compute time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE
from localvox.wake.base import Detection, Verdict, WakeVerifier

if TYPE_CHECKING:
    from localvox.config import Config
    from localvox.wake.openwakeword import OpenWakeWordDetector

RECHECK_S = 0.24
"""Stage one proposes again at most every three 80 ms steps after a rejection."""
EPISODE_S = 1.0
MAX_CHECKS = 4
MAX_KEPT_CHECKS = 10_000
SURE = "(stage one sure: not checked)"


@dataclass(frozen=True)
class Check:
    """One stage-two check (for traces and ``localvox bench wake``)."""

    at_s: float
    first_score: float
    verdict: Verdict


class TwoStageDetector:
    """``WakeDetector``: ``first`` (fired with a short refractory period) confirmed by ``verifier``.

    ``checks`` lists every check since ``reset``; ``last_score``/``max_score`` are stage one's.
    """

    def __init__(self, first: "OpenWakeWordDetector", verifier: WakeVerifier, *,
                 window_s: float = 2.0, refractory_s: float = 2.0,
                 max_checks: int = MAX_CHECKS, confident: float = 1.01) -> None:
        self.first = first
        self.confident = confident
        self.verifier = verifier
        self.name = first.name
        self.window_s = window_s
        self.refractory_s = refractory_s
        self.max_checks = max_checks
        self.checks: list[Check] = []
        self._ring = np.zeros(int((window_s + 0.5) * SAMPLE_RATE), np.float32)
        self._lock = threading.Lock()
        self._last_fire_s: float | None = None
        self._episode_s = float("-inf")
        self._episode_checks = 0

    @property
    def last_score(self) -> float:
        return self.first.last_score

    @property
    def max_score(self) -> float:
        return self.first.max_score

    def _keep(self, samples: np.ndarray) -> None:
        n = min(len(samples), len(self._ring))
        self._ring = np.roll(self._ring, -n)
        self._ring[-n:] = samples[-n:]

    def window(self, end_s: float, at_s: float) -> np.ndarray:
        """The ``window_s`` of audio ending at stream time ``at_s`` (``end_s`` = newest)."""
        back = min(len(self._ring) - 1, max(0, int(round((end_s - at_s) * SAMPLE_RATE))))
        stop = len(self._ring) - back
        return self._ring[max(0, stop - int(self.window_s * SAMPLE_RATE)):stop].copy()

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size == 0:
            return None
        with self._lock:
            self._keep(samples)
            cand = self.first.process(samples, end_s)
            if cand is None:
                return None
            if self._last_fire_s is not None and cand.at_s - self._last_fire_s < self.refractory_s:
                return None
            if cand.at_s - self._episode_s > EPISODE_S:
                self._episode_s, self._episode_checks = cand.at_s, 0
            if cand.score >= self.confident:  # kept as a check passed, for traces and benches
                if len(self.checks) < MAX_KEPT_CHECKS:
                    self.checks.append(Check(cand.at_s, cand.score,
                                             Verdict(True, cand.score, SURE, 0.0)))
                self._last_fire_s = cand.at_s
                return Detection(self.name, cand.score, cand.at_s)
            if self._episode_checks >= self.max_checks:
                return None
            self._episode_checks += 1
            self._episode_s = cand.at_s
            verdict = self.verifier.verify(self.window(end_s, cand.at_s))
            if len(self.checks) < MAX_KEPT_CHECKS:
                self.checks.append(Check(cand.at_s, cand.score, verdict))
            if not verdict.accepted:
                return None
            self._last_fire_s = cand.at_s
            return Detection(self.name, cand.score, cand.at_s)

    def reset(self) -> None:
        with self._lock:
            self.first.reset()
            self._ring[:] = 0.0
            self._last_fire_s = None
            self._episode_s = float("-inf")
            self._episode_checks = 0
            self.checks = []

    def close(self) -> None:
        self.first.close()


def create(config: "Config", *, model: str | None = None, threshold: float | None = None,
           **kw: Any) -> TwoStageDetector:
    """``[wake] model`` at ``[wake] first_threshold``, confirmed by Whisper (``verifier_model``)."""
    from localvox.wake import openwakeword, verifier

    w = config.wake
    first = openwakeword.create(config, model=model,
                                threshold=w.first_threshold if threshold is None else threshold,
                                refractory_s=RECHECK_S, **kw)
    return TwoStageDetector(first, verifier.create(config, model=model or w.model),
                            window_s=w.verify_window_s, refractory_s=w.refractory_s,
                            confident=w.confident_threshold)
