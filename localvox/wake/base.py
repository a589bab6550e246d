"""The wake word contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    name: str
    """Wake word model id, e.g. ``hey_jarvis``."""
    score: float
    at_s: float
    """Stream time (seconds) of the end of the audio that triggered it."""


class WakeDetector(Protocol):
    """Fed 16 kHz mono float32 audio in any block size; returns a detection or None.

    Synchronous and safe to call from one worker thread while another calls ``reset``.
    """

    name: str

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class Verdict:
    """A second stage's answer on the audio a first stage fired on."""

    accepted: bool
    score: float
    """How sure, 0..1 (for threshold sweeps); ``accepted`` is the verifier's own rule."""
    heard: str
    """What it heard (a transcript), for traces and benchmarks."""
    seconds: float
    """Compute time of this check."""


class WakeVerifier(Protocol):
    """Second stage: does this window (ending where stage one fired) hold the wake phrase?"""

    phrase: str

    def verify(self, audio: np.ndarray) -> Verdict: ...
