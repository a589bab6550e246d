"""What the turn engine is configured with, and the two hooks it accepts beyond the stages.

Why a module of its own: the engine, the listener and the speculation logic all read these
knobs, and the echo package implements ``MicCleaner`` without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Segmenter(Protocol):
    """Endpointing on per-frame VAD probabilities: ``localvox.vad.endpoint.Endpointer``."""

    @property
    def in_speech(self) -> bool: ...

    def feed(self, samples: np.ndarray, probability: float) -> list[Any]:
        """Returns ``SpeechBegan`` / ``SpeechEnded`` / ``SpeechDiscarded`` decisions."""

    def set_partial(self, text: str | None) -> None: ...

    def flush(self) -> list[Any]:
        """End an open utterance now (push-to-talk released, input ended)."""

    def reset(self, start_s: float = 0.0) -> None: ...


class MicCleaner(Protocol):
    """Echo suppression hook: cleans mic frames given what the speaker played."""

    def reference(self, samples: np.ndarray, sample_rate: int) -> None: ...

    def clean(self, samples: np.ndarray, start_s: float) -> np.ndarray: ...

    full_duplex: bool
    """True if cleaned audio is safe to treat normally while speaking."""


@dataclass
class EngineOptions:
    """Behaviour knobs, normally taken from ``Config`` (see ``from_config``)."""

    mode: str = "wake"                 # wake | ptt | always
    follow_up_s: float = 5.0
    vad_threshold: float = 0.5
    barge_in: bool = True
    barge_in_threshold: float = 0.85
    full_duplex_barge_in_threshold: float = 0.5
    """With echo cancellation the mic no longer carries the assistant's voice, so barge-in
    can use an ordinary VAD threshold (measured: 0.85 reaches only ~60% of barge-ins within
    300 ms even with no echo at all; 0.5 reaches 100%)."""
    barge_in_min_ms: int = 160
    pre_roll_ms: int = 300
    speculative: bool = True
    speculate_after_ms: int = 120
    """Silence (after the last voiced frame) before a covering partial may be speculated on."""
    min_partial_audio_ms: int = 1000
    """No periodic partial before this much utterance audio (pre-roll included): Whisper on
    half a second is slow (it falls back to the 30 s path) and says little."""
    force_partial_after_ms: int = 64
    """Silence after which the ASR is asked to decode everything now (``partial(force=True)``)
    so the transcript of the whole utterance is ready early in the end-of-turn silence."""
    speech_output: bool = True
    fast_input: bool = False
    """Fast (file) mode: read the source as fast as the loop takes it, but never faster
    than real time while anything computes, so compute is counted and waiting is skipped
    (``localvox.pipeline.clock``). Gives the same turns as reading it in real time."""
    play_on_clock: bool = False
    """A reply lasts its audio's length on the engine clock even when the sink takes it at
    once (a file or a silent sink): the follow-up window opens when a speaker would have
    finished, and the input meanwhile is watched for a barge-in as it would be live."""
    timer_grace_s: float = 0.0
    """When the input ends (a recording), wait up to this long for timers set in the session
    to ring before ending it (``localvox run`` uses 30 s: a timer asked for in a recording
    is said in the output, however slow the machine was to answer)."""
    hold_input_while_replying: bool = False
    """Old name of fast mode: sets ``fast_input`` and ``play_on_clock``."""
    level_every: int = 3
    """Publish a ``MicLevel`` every this many frames (~100 ms at 32 ms frames)."""

    def __post_init__(self) -> None:
        if self.hold_input_while_replying:
            self.fast_input = self.play_on_clock = True

    @classmethod
    def from_config(cls, config: Any) -> "EngineOptions":
        p = config.pipeline
        return cls(mode=config.wake.mode, follow_up_s=config.wake.follow_up_s,
                   vad_threshold=config.vad.threshold, barge_in=p.barge_in,
                   barge_in_threshold=p.barge_in_threshold, barge_in_min_ms=p.barge_in_min_ms,
                   full_duplex_barge_in_threshold=config.echo.barge_in_threshold,
                   pre_roll_ms=config.vad.pre_roll_ms, speculative=p.speculative,
                   speech_output=config.tui.speech_output)
