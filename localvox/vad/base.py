"""The VAD contracts: speech probability per frame, and semantic end-of-turn verdicts."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VoiceActivityDetector(Protocol):
    """Streaming VAD. ``frame_samples`` is the block size it wants (e.g. 512 at 16 kHz)."""

    name: str
    frame_samples: int

    def probability(self, samples: np.ndarray) -> float:
        """Speech probability in [0, 1] for one block of ``frame_samples`` samples."""

    def reset(self) -> None: ...


class TurnDetector(Protocol):
    """Semantic end-of-turn: is the speaker done? (``smart_turn.SmartTurn``). Heavy (tens of
    ms per call): the endpointer only ever calls it through a ``TurnJudge``."""

    name: str

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for the utterance audio so far (16 kHz, trailing silence in)."""


class TurnVerdict(Protocol):
    """One pending question to a ``TurnJudge``."""

    def ready(self, now_s: float) -> float | None:
        """The probability once it is available at stream time ``now_s``, else None.
        Raises the detector's error if it failed."""

    def cancel(self) -> None: ...


class TurnJudge(Protocol):
    """Asks a ``TurnDetector`` without blocking the caller (a worker thread live,
    measured-delay replay in benchmarks)."""

    name: str

    def request(self, audio: np.ndarray, at_s: float) -> TurnVerdict: ...

    def close(self) -> None: ...
