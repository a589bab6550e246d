"""The endpointer's decisions: speech began, speech ended (with the utterance), false start.

Why apart from the endpointer: these frozen records are what the rest of the pipeline
consumes (the turn engine opens and closes utterances on them, the benchmarks score
``SpeechEnded``), so their importers need not depend on the streaming state machine in
``endpoint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

import numpy as np


@dataclass(frozen=True)
class SpeechBegan:
    """Speech confirmed (``min_speech_ms`` voiced). Start the transcriber on ``audio``."""

    at_s: float
    """Stream time of the first voiced frame (the onset)."""
    audio_start_s: float
    """Stream time of ``audio[0]``: the onset minus the pre-roll (never before 0)."""
    audio: np.ndarray
    """Pre-roll plus everything from the onset up to now (16 kHz float32)."""


@dataclass(frozen=True)
class SpeechEnded:
    """The turn is over: ``audio`` is the whole utterance."""

    audio: np.ndarray
    """Pre-roll + speech + a short tail, 16 kHz float32; starts at ``audio_start_s``."""
    audio_start_s: float
    speech_start_s: float
    speech_end_s: float
    """Stream time of the end of the last voiced frame (the true end of speech)."""
    decided_s: float
    """Stream time at which the decision was made (``speech_end_s`` + the silence)."""
    silence_ms: int
    """The end-of-turn silence that was required (0 when not ended by silence); for
    ``smart_turn`` the silence at the moment the verdict arrived."""
    reason: Literal["silence", "smart_turn", "max_length", "input_ended"]
    partial: str | None = None
    """The partial transcript the silence was chosen from."""
    turn_probability: float | None = None
    """Smart Turn's P(complete) for this silence run, if it answered in time."""


@dataclass(frozen=True)
class SpeechDiscarded:
    """A candidate onset dropped before ``min_speech_ms`` of voiced audio (no ``SpeechBegan``
    was sent for it): a click, a cough, a door. Informational."""

    at_s: float
    voiced_ms: float


Decision = Union[SpeechBegan, SpeechEnded, SpeechDiscarded]
